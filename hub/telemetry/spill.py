"""An on-disk spill of line protocol: append-only segment files replayed oldest first.

Segments are `<sequence>.lp` files in one directory; the zero-padded sequence orders them. The
writer appends batches to the newest segment, rotates it (fsync) past `segment_bytes`, and replays
the oldest segment, deleting it only after the server accepted every line. Files left by a crashed
or stopped hub are found again at start and replayed first. A segment is never appended to after a
restart, so a line torn by a crash can only be the last line of a segment; it is skipped on read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".lp"


class Spill:
    """Append-only, size-capped segment files of line protocol in one directory."""

    def __init__(self, directory: Path, *, max_bytes: int = 1 << 30, segment_bytes: int = 4 << 20) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._sizes: dict[Path, int] = {p: p.stat().st_size for p in self._scan()}
        self._bytes = sum(self._sizes.values())
        self._next_seq = max((int(p.stem) for p in self._sizes), default=0) + 1
        self._active: Path | None = None
        self._fh = None
        self.torn_lines = 0

    def _scan(self) -> list[Path]:
        return sorted(p for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit())

    @property
    def bytes(self) -> int:
        """Return the bytes held on disk."""
        return self._bytes

    @property
    def files(self) -> int:
        """Return the number of segment files."""
        return len(self._sizes)

    def __bool__(self) -> bool:
        return bool(self._sizes)

    def append(self, lines: list[str]) -> bool:
        """Append lines to the newest segment; return False (nothing written) when the cap is reached."""
        if not lines:
            return True
        data = ("\n".join(lines) + "\n").encode()
        if self._bytes + len(data) > self.max_bytes:
            return False
        if self._fh is None or self._sizes[self._active] >= self.segment_bytes:  # type: ignore[index]
            self._rotate()
        self._fh.write(data)  # type: ignore[union-attr]
        self._fh.flush()  # type: ignore[union-attr]
        self._sizes[self._active] += len(data)  # type: ignore[index]
        self._bytes += len(data)
        return True

    def _rotate(self) -> None:
        self.seal()
        self._active = self.directory / f"{self._next_seq:016d}{SUFFIX}"
        self._next_seq += 1
        self._fh = open(self._active, "ab")  # noqa: SIM115 - kept open across appends
        self._sizes[self._active] = 0

    def seal(self) -> None:
        """Close and fsync the segment being appended to, so the next append starts a new one."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            self._active = None
            _fsync_dir(self.directory)

    def oldest(self) -> tuple[Path, list[str]] | None:
        """Return the oldest segment and its complete lines (sealing it if it is being appended to)."""
        while self._sizes:
            path = min(self._sizes)
            if path == self._active:
                self.seal()
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # removed by hand: forget it rather than retry forever
                log.warning("spill segment %s vanished", path.name)
                self.remove(path)
                continue
            return path, self._lines(path, data)
        return None

    def _lines(self, path: Path, data: bytes) -> list[str]:
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        tail = lines.pop()
        if tail:
            self.torn_lines += 1
            log.warning("spill segment %s ends in a torn line; skipped it", path.name)
        return [line for line in lines if line]

    def remove(self, path: Path) -> None:
        """Delete a replayed segment."""
        size = self._sizes.pop(path, 0)
        self._bytes -= size
        path.unlink(missing_ok=True)

    def close(self) -> None:
        """Seal the active segment; the files stay for the next start."""
        self.seal()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
