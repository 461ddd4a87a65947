"""The embedded default: telemetry kept in a SQLite file of its own when no InfluxDB is configured.

`data_dir/telemetry.db` (separate from the main database so its write volume never contends with
alerts) holds one row per (device, metric, millisecond) plus a `latest` table, so the API can answer
`history()` and `latest()` without InfluxDB. Rows older than the retention are pruned by series,
through the primary key, from the writer thread.

The store is fed by `LocalStoreSink`, a sink like the InfluxDB ones: it takes line protocol from the
same writer (queue, batching, spill), parses it back and keeps numeric fields. Metric names are the
field keys; a `device_events` point becomes metric `event_<kind>` (1 active/momentary, 0 cleared).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from pathlib import Path

from hub.telemetry.line_protocol import EVENTS_MEASUREMENT
from hub.telemetry.sinks import RetryableError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    device TEXT NOT NULL, metric TEXT NOT NULL, ts_ms INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (device, metric, ts_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    device TEXT NOT NULL, metric TEXT NOT NULL, ts_ms INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (device, metric)
) WITHOUT ROWID;
"""

Row = tuple[str, str, int, float]


class LocalStore:
    """Readings in SQLite with retention; answers history() and latest() for the API."""

    def __init__(self, path: Path, *, retention_s: float = 7 * 86400.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_s = retention_s
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def write(self, rows: list[Row]) -> None:
        """Insert rows (a repeated device/metric/ms replaces the value, as in InfluxDB)."""
        if not rows:
            return
        newest: dict[tuple[str, str], Row] = {}
        for row in rows:
            key = (row[0], row[1])
            seen = newest.get(key)
            if seen is None or row[2] >= seen[2]:
                newest[key] = row
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN")
            try:
                conn.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?)", rows)
                conn.executemany(
                    "INSERT INTO latest VALUES (?, ?, ?, ?) ON CONFLICT (device, metric) DO UPDATE SET "
                    "ts_ms = excluded.ts_ms, value = excluded.value WHERE excluded.ts_ms >= latest.ts_ms",
                    list(newest.values()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than the retention; return how many went."""
        cutoff = round(((now if now is not None else time.time()) - self.retention_s) * 1000)
        deleted = 0
        with self._write_lock:
            conn = self._writer
            series = conn.execute("SELECT device, metric FROM latest").fetchall()
            conn.execute("BEGIN")
            try:
                for device, metric in series:
                    deleted += conn.execute(
                        "DELETE FROM samples WHERE device = ? AND metric = ? AND ts_ms < ?",
                        (device, metric, cutoff),
                    ).rowcount
                conn.execute("DELETE FROM latest WHERE ts_ms < ?", (cutoff,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return deleted

    def history(self, device_key: str, metric: str, since: float | None = None, until: float | None = None,
                limit: int = 1000) -> list[tuple[float, float]]:
        """Return (ts seconds, value) oldest first: the newest `limit` points within [since, until]."""
        lo = round(since * 1000) if since is not None else -(1 << 62)
        hi = round(until * 1000) if until is not None else 1 << 62
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT ts_ms, value FROM samples WHERE device = ? AND metric = ? AND ts_ms BETWEEN ? AND ? "
                "ORDER BY ts_ms DESC LIMIT ?",
                (device_key, metric, lo, hi, max(0, int(limit))),
            ).fetchall()
        return [(ts / 1000.0, value) for ts, value in reversed(rows)]

    def latest(self, device_key: str) -> dict[str, tuple[float, float]]:
        """Return the newest (ts seconds, value) of every metric of a device."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT metric, ts_ms, value FROM latest WHERE device = ? ORDER BY metric", (device_key,)
            ).fetchall()
        return {metric: (ts / 1000.0, value) for metric, ts, value in rows}

    def count(self) -> int:
        """Return the number of stored samples."""
        with self._reader() as conn:
            return conn.execute("SELECT count(*) FROM samples").fetchone()[0]

    def _reader(self) -> _Reader:
        return _Reader(self)

    def close(self) -> None:
        """Close the writing connection."""
        with self._write_lock:
            self._writer.close()


class _Reader:
    """A short-lived read connection, so API threads never share the writer's connection."""

    def __init__(self, store: LocalStore) -> None:
        self._conn = sqlite3.connect(store.path, timeout=10.0, isolation_level=None)

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


class LocalStoreSink:
    """A sink that parses line protocol back into rows for the LocalStore."""

    name = "local"

    def __init__(self, store: LocalStore, *, prune_every_s: float = 600.0) -> None:
        self.store = store
        self.prune_every_s = prune_every_s
        self._next_prune = 0.0
        self.malformed_lines = 0

    def send(self, lines: list[str]) -> None:
        """Store the numeric fields of the lines; SQLite errors are retryable (locked, disk full)."""
        rows: list[Row] = []
        for line in lines:
            try:
                rows.extend(rows_from_line(line))
            except ValueError:
                self.malformed_lines += 1
        try:
            self.store.write(rows)
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + self.prune_every_s
                self.store.prune()
        except sqlite3.Error as exc:
            raise RetryableError(f"sqlite: {exc}") from exc

    def close(self) -> None:
        """Close the store's writing connection."""
        self.store.close()


def rows_from_line(line: str) -> list[Row]:
    """Return LocalStore rows for one line of (millisecond precision) line protocol."""
    measurement, tags, fields, ts = parse_line(line)
    device = tags.get("device")
    if not device:
        return []
    ts_ms = ts if ts is not None else round(time.time() * 1000)
    if measurement == EVENTS_MEASUREMENT:
        value = 0.0 if tags.get("state") == "cleared" else 1.0
        return [(device, f"event_{tags.get('kind', 'unknown')}", ts_ms, value)]
    return [(device, key, ts_ms, float(value)) for key, value in fields.items()
            if isinstance(value, (int, float))]


_UNESCAPE = re.compile(r"\\([,= \\\"])")


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, float | int | bool | str], int | None]:
    """Parse one line of line protocol into (measurement, tags, fields, timestamp or None)."""
    line = line.strip()
    if "\\" not in line and '"' not in line:
        parts = line.split(" ")
    else:
        # Quotes mean something only in the field set; a tag value may hold a bare '"'.
        head, rest = (_split(line, " ", quotes=False, maxsplit=1) + [""])[:2]
        parts = [head, *_split(rest, " ", quotes=True)]
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"malformed line: {line[:80]!r}")
    ts = int(parts[2]) if len(parts) == 3 else None
    head = _split(parts[0], ",", quotes=False)
    measurement = _unescape(head[0])
    tags: dict[str, str] = {}
    for item in head[1:]:
        key, _, value = _split_once(item)
        tags[_unescape(key)] = _unescape(value)
    fields: dict[str, float | int | bool | str] = {}
    for item in _split(parts[1], ",", quotes=True):
        key, sep, raw = _split_once(item)
        if not sep:
            raise ValueError(f"field without value: {item!r}")
        fields[_unescape(key)] = _field_value(raw)
    return measurement, tags, fields, ts


def _field_value(raw: str) -> float | int | bool | str:
    if raw.startswith('"'):
        return _unescape(raw[1:-1])
    if raw in ("t", "T", "true", "True", "TRUE"):
        return True
    if raw in ("f", "F", "false", "False", "FALSE"):
        return False
    if raw.endswith(("i", "u")):
        return int(raw[:-1])
    return float(raw)


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _split(text: str, sep: str, *, quotes: bool, maxsplit: int = -1) -> list[str]:
    """Split at separators that are neither escaped nor (optionally) inside double quotes."""
    if "\\" not in text and not (quotes and '"' in text):
        return text.split(sep, maxsplit)
    out, start, i, quoted = [], 0, 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if quotes and ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted and len(out) != maxsplit:
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return out


def _split_once(item: str) -> tuple[str, str, str]:
    """Split `key=value` at the first unescaped '='."""
    i = 0
    while i < len(item):
        if item[i] == "\\":
            i += 2
            continue
        if item[i] == "=":
            return item[:i], "=", item[i + 1:]
        i += 1
    return item, "", ""
