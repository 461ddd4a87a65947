"""Streaming detectors over device sensor streams (wrist fall detection)."""

from hub.detect.fall import FallDetection, FallDetector, FallParams

__all__ = ["FallDetection", "FallDetector", "FallParams"]
