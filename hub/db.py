"""Relational store: engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from hub.write_turn import WriteTurn, gated_connection

SQLITE_BUSY_S = 30.0  # how long a writer waits for the database before the write fails


class Base(DeclarativeBase):
    """Declarative base for every CareHub table."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so readers never block the alarm writer."""
    if url.startswith("sqlite"):
        # Writers of this process queue in Python (alarms first), not in SQLite's sleeping busy handler.
        factory = gated_connection(WriteTurn(timeout_s=SQLITE_BUSY_S))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S,
                                                  "factory": factory})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: an alarm acknowledged to the broker must survive a power cut, not just a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to `engine`."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
