"""Device health: last seen, supervision intervals, availability, battery, tamper and faults."""
