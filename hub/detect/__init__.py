"""Streaming detectors: wrist falls, fire and gas, vital signs, inactivity; the engine that runs them."""

from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.fall import FallDetection, FallDetector, FallParams
from hub.detect.fire import FireGasDetector
from hub.detect.inactivity import InactivityDetector
from hub.detect.vitals import VitalsDetector

__all__ = ["Detection", "DetectionState", "DetectionType", "FallDetection", "FallDetector", "FallParams",
           "FireGasDetector", "InactivityDetector", "VitalsDetector"]
