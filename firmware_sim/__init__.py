"""Device simulator that speaks the real wire formats over MQTT and serial lines."""
