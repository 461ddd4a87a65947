"""What a decoder did not map: field names gathered per payload into one UnmappedFields message."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from device_drivers.model import Message, UnmappedFields

MAX_UNMAPPED = 64  # names per message: a payload of thousands of keys must not flood the hub's counters
MAX_FIELD_NAME = 100
EMPTY_NAME = "_empty"  # a JSON key "" still is a field someone sent


class Unmapped:
    """Collects the names of the fields of one payload that no rule of its profile maps.

    `null` carries no value and is never reported. Nested objects the decoder reads are reported with
    dotted names (`location.speed`); vendor data objects (CTWing `serviceData`, OneNET `params`, watch
    `data[]` records) are the field level itself and report bare names.
    """

    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def add(self, name: str) -> None:
        """Report one field name (truncated, "" as `_empty`; at most MAX_UNMAPPED per payload)."""
        if len(self.names) < MAX_UNMAPPED:
            self.names[name[:MAX_FIELD_NAME] or EMPTY_NAME] = None

    def extra(self, obj: Mapping[str, Any], known: Container[str], prefix: str = "") -> None:
        """Report every non-null field of `obj` whose name is not in `known`."""
        for name, value in obj.items():
            if value is not None and name not in known:
                self.add(prefix + name)

    def message(self, device_key: str, ts: float, source: str) -> list[Message]:
        """Return [UnmappedFields] when anything was reported, else []."""
        if not self.names:
            return []
        return [UnmappedFields(device_key, tuple(self.names), ts, source)]


def normalize(name: str) -> str:
    """Return a vendor field name folded for lookup: lower case, without `_`, `-` and spaces."""
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")
