"""Safety ledgers (台账): hazards, inspection plans and tasks, the three lists, complaints, device tests."""
