"""SQLite writers of this process take turns in Python, alarm writers first.

SQLite has one writer at a time. A second writer that finds the file locked does not wait for the lock:
its busy handler sleeps in growing steps (1, 2, 5 … 100 ms) and tries again, so under telemetry load an
SOS commit or alert transaction waited 300–650 ms for a lock released long before. Here each connection
takes the process-wide turn at its first write statement (the moment SQLite takes its own lock, as the
`sqlite3` module opens the transaction there) and gives it back after its commit or rollback; a waiter
wakes the moment the turn is free, and a thread marked as an alarm writer goes before waiting others.
Other processes on the same file still meet SQLite's own busy handler.

Every commit is synced to disk (`synchronous=FULL`) except inside `relaxed_sync()`: writes whose source
is already on disk (an alarm's detections and alerts, after the alarm itself was committed) or that may
be lost in a power cut (telemetry side rows) skip the fsync. The WAL keeps commit order, so a relaxed
commit is lost only together with everything after it, and an alarm whose alert was lost is still
marked unhandled and re-run at the next start.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

_WRITES = ("insert", "update", "delete", "replace", "create", "drop", "alter")
_local = threading.local()


def mark_alarm_writer() -> None:
    """Let the calling thread's writes go before waiting telemetry writes (alarm recorder, detectors)."""
    _local.alarm = True


@contextmanager
def relaxed_sync() -> Iterator[None]:
    """Let the calling thread's commits inside the block skip the fsync (see the module docstring)."""
    before = getattr(_local, "relaxed", False)
    _local.relaxed = True
    try:
        yield
    finally:
        _local.relaxed = before


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].lower().startswith(_WRITES)


class WriteTurn:
    """A reentrant, per-thread write turn with a queue of alarm writers that goes first."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._alarm_waiting = 0

    def acquire(self) -> None:
        """Wait for the turn (an alarm writer ahead of others); raise as SQLite would after the timeout."""
        me = threading.get_ident()
        alarm = getattr(_local, "alarm", False)
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            if alarm:
                self._alarm_waiting += 1
            try:
                while self._owner is not None or (not alarm and self._alarm_waiting):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise sqlite3.OperationalError("database is locked (waited for this process's writer)")
                    self._cond.wait(left)
            finally:
                if alarm:
                    self._alarm_waiting -= 1
            self._owner, self._depth = me, 1

    def release(self) -> None:
        """Give the turn back (the outermost holder of the thread frees it for the next writer)."""
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


def gated_connection(turn: WriteTurn) -> type[sqlite3.Connection]:
    """Return a `sqlite3.Connection` class whose writes hold `turn` from first write to commit/rollback."""

    class Cursor(sqlite3.Cursor):
        def _gated(self, run: Callable[[str, Any], Self], sql: str, args: Any) -> Self:
            conn: GatedConnection = self.connection  # type: ignore[assignment]
            conn._take(sql)
            try:
                return run(sql, args)
            finally:
                conn._settle()

        def execute(self, sql: str, parameters: Any = (), /) -> Self:
            return self._gated(super().execute, sql, parameters)

        def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
            return self._gated(super().executemany, sql, seq_of_parameters)

    class GatedConnection(sqlite3.Connection):
        _holds = False
        _sync = "FULL"  # what make_engine sets on connect

        def cursor(self, factory: Any = Cursor) -> Any:
            return super().cursor(factory)

        def _take(self, sql: str) -> None:
            if not self._holds and _is_write(sql):
                # Before the transaction opens: SQLite refuses to change the safety level inside one.
                sync = "NORMAL" if getattr(_local, "relaxed", False) else "FULL"
                if sync != self._sync and not self.in_transaction:
                    super().execute(f"PRAGMA synchronous={sync}")
                    self._sync = sync
                turn.acquire()
                self._holds = True

        def _settle(self) -> None:
            # A statement outside a transaction (DDL, autocommit) or one that failed to open it ends the turn.
            if self._holds and not self.in_transaction:
                self._give_back()

        def _give_back(self) -> None:
            self._holds = False
            turn.release()

        def _end_then_give_back(self, end: Callable[[], None]) -> None:
            try:
                end()
            finally:
                if self._holds:
                    self._give_back()

        def commit(self) -> None:
            self._end_then_give_back(super().commit)

        def rollback(self) -> None:
            self._end_then_give_back(super().rollback)

        def close(self) -> None:
            self._end_then_give_back(super().close)

    return GatedConnection
