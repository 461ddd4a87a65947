"""Device registry: sites, buildings, rooms, residents, staff, devices, identifiers, pending devices."""
