"""An injected clock for tests: they move time by hand and never sleep."""

from __future__ import annotations


class Clock:
    """A settable clock; call it for the current time, assign `now` to move it."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
