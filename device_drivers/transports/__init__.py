"""Transports: the I/O loops (serial, TCP) that feed wire bytes to the pure decoders."""
