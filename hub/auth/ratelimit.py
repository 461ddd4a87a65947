"""Login attempt limiting: a sliding window per user name and per client address."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginRateLimiter:
    """Allow `attempts` failed logins per `window_s` for each key; successes do not count."""

    def __init__(self, attempts: int = 5, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Return seconds until any of `keys` may try again (0 when allowed now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                window = self._trim(key, now)
                if len(window) >= self.attempts:
                    wait = max(wait, window[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        """Count a failed attempt against each of `keys`."""
        now = self.clock()
        with self._lock:
            for key in keys:
                self._trim(key, now).append(now)

    def _trim(self, key: str, now: float) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        while window and window[0] <= now - self.window_s:
            window.popleft()
        return window
