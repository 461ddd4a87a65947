"""Notifications: rendered messages to staff and families, delivered through apprise with retries."""
