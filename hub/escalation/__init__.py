"""Escalation: policies of steps, frozen onto an alert, run by a timer whose next due time is in the database."""
