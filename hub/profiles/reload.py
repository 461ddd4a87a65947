"""Watch the profile directories and swap in a new ProfileSet when a file changes; a broken file changes nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_drivers.profiles.builtin import reload_declarative
from device_drivers.profiles.declarative import DeclarativeProfile, ProfileFileError, profile_files
from device_drivers.registry import ProfileSet
from hub import metrics

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(dirs: list[Path]) -> Fingerprint:
    """Return (path, mtime_ns, size) of every profile file: any add, edit, rename or removal changes it."""
    out = []
    for path in profile_files(dirs):
        try:
            st = path.stat()
        except OSError:  # removed between the listing and the stat: the next poll sees it gone
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


@dataclass(slots=True, frozen=True)
class ReloadResult:
    """What one reload did: `ok` False means the previous profiles stay active and `error` says why."""

    ok: bool
    error: str | None = None


class ProfileReloader:
    """Owns the active ProfileSet; `reload()` re-reads the directories, `on_swap` installs a new set."""

    def __init__(self, *, profiles: ProfileSet, profile_dirs: list[Path], on_swap: Callable[[ProfileSet], None],
                 interval_s: float = 3.0, clock: Callable[[], float] = time.time) -> None:
        self.profiles = profiles
        self.dirs = [Path(d) for d in profile_dirs]
        self.on_swap = on_swap
        self.interval_s = interval_s
        self.clock = clock
        self.loaded_at = clock()
        self.reloads = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.current_ok = True  # False while the files on disk are not what is active (last reload failed)
        self._seen = fingerprint(self.dirs)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-profiles", daemon=True)
        metrics.PROFILES_LOADED.set(self._declarative_count())

    def start(self) -> None:
        """Poll the directories every `interval_s` (0: never; the admin endpoint still reloads)."""
        if self.interval_s > 0 and self.dirs:
            self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def poll(self) -> ReloadResult | None:
        """Reload when a profile file was added, changed or removed since the last look; None: nothing changed."""
        if fingerprint(self.dirs) == self._seen:
            return None
        return self.reload(reason="files changed")

    def reload(self, *, reason: str = "requested") -> ReloadResult:
        """Re-read every profile file and swap the set in; on any error keep the active set and record why."""
        with self._lock:
            seen = fingerprint(self.dirs)  # before reading: a write during the load is seen by the next poll
            try:
                new = reload_declarative(self.profiles, self.dirs)
            except (ProfileFileError, OSError) as err:
                # Remember the broken files' fingerprint: the same error is logged and counted once, not per poll.
                self._seen = seen
                self.failures += 1
                self.current_ok = False
                self.last_error, self.last_error_at = str(err), self.clock()
                metrics.PROFILE_RELOADS.labels("error").inc()
                log.error("profile reload (%s) rejected, previous profiles stay active: %s", reason, err)
                return ReloadResult(ok=False, error=str(err))
            before = _names(self.profiles)
            self.profiles, self._seen = new, seen
            self.on_swap(new)  # the hub installs it: the router first, then the new MQTT subscriptions
            self.reloads += 1
            self.current_ok = True
            self.loaded_at = self.clock()
            metrics.PROFILE_RELOADS.labels("ok").inc()
            metrics.PROFILES_LOADED.set(self._declarative_count())
            after = _names(new)
            log.info("profiles reloaded (%s): %d declarative; added %s, removed %s", reason,
                     self._declarative_count(), sorted(after - before) or "none", sorted(before - after) or "none")
            return ReloadResult(ok=True)

    def status(self) -> dict[str, Any]:
        """Return the reload state for GET /api/profiles."""
        return {"dirs": [str(d) for d in self.dirs], "poll_interval_s": self.interval_s,
                "loaded_at": self.loaded_at, "reloads": self.reloads, "failures": self.failures,
                "current": "ok" if self.current_ok else "error", "last_error": self.last_error,
                "last_error_at": self.last_error_at}

    def _declarative_count(self) -> int:
        return sum(isinstance(p, DeclarativeProfile) for p in self.profiles.profiles)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except Exception:  # a scan or swap bug must not end the watching
                log.exception("profile directory poll failed")


def _names(profiles: ProfileSet) -> set[str]:
    return {p.name for p in profiles.profiles if isinstance(p, DeclarativeProfile)}
