"""Device drivers: wire formats and transports decoded into canonical messages (no hub imports)."""
