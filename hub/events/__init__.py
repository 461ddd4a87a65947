"""Recorded device events and the alarm journal (what was received, exactly once)."""
