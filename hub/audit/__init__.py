"""Append-only, hash-chained audit log of state changes, notifications and access to medical notes."""
