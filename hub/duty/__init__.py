"""Duty records: roster, who is on duty, shift handovers, the duty log and emergency-call records."""
