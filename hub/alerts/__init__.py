"""Alerts: from detections to a prioritised queue, a lifecycle, escalation and notifications."""
