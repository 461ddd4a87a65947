"""SQLite writers of one process take turns, alarm writers first; relaxed commits skip the fsync."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub.db import make_engine, make_session_factory
from hub.write_turn import WriteTurn, mark_alarm_writer, relaxed_sync


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'turn.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    yield engine
    engine.dispose()


def _wait_until(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_an_alarm_writer_goes_before_a_telemetry_writer_that_waited_longer(engine):
    factory = make_session_factory(engine)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with factory() as session, session.begin():
            session.execute(text("INSERT INTO t VALUES ('holder')"))
            holding.set()
            release.wait(5)

    def write(who, alarm):
        if alarm:
            mark_alarm_writer()
        with factory() as session, session.begin():
            session.execute(text("INSERT INTO t VALUES (:who)"), {"who": who})

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    telemetry = threading.Thread(target=write, args=("telemetry", False))
    telemetry.start()
    time.sleep(0.2)  # the telemetry writer queues first
    alarm = threading.Thread(target=write, args=("alarm", True))
    alarm.start()
    time.sleep(0.2)
    release.set()
    for t in (holder, telemetry, alarm):
        t.join(10)
    with engine.connect() as conn:
        order = [row[0] for row in conn.execute(text("SELECT who FROM t ORDER BY rowid"))]
    assert order == ["holder", "alarm", "telemetry"]


def test_a_turn_not_given_back_in_time_fails_like_a_locked_database():
    turn = WriteTurn(timeout_s=0.2)
    taken = threading.Event()
    done = threading.Event()

    def hold():
        turn.acquire()
        taken.set()
        done.wait(5)
        turn.release()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        turn.acquire()
    done.set()
    holder.join(5)
    turn.acquire()  # free again once the holder is done
    turn.release()


def test_the_same_thread_may_take_the_turn_again():
    turn = WriteTurn(timeout_s=0.2)
    outcomes = []

    def try_take():
        try:
            turn.acquire()
        except sqlite3.OperationalError:
            outcomes.append("refused")
        else:
            outcomes.append("taken")
            turn.release()

    turn.acquire()
    turn.acquire()
    turn.release()
    for release_first in (False, True):
        if release_first:
            turn.release()
        other = threading.Thread(target=try_take)
        other.start()
        other.join(5)
    assert outcomes == ["refused", "taken"]


def test_ddl_and_failed_writes_give_the_turn_back(engine):
    factory = make_session_factory(engine)
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE u (x INTEGER PRIMARY KEY)"))  # autocommit DDL: no transaction left
    with pytest.raises(IntegrityError), factory() as session, session.begin():
        session.execute(text("INSERT INTO u VALUES (1)"))
        session.execute(text("INSERT INTO u VALUES (1)"))  # duplicate key: the transaction rolls back
    result = []

    def other():
        with factory() as session, session.begin():
            session.execute(text("INSERT INTO u VALUES (2)"))
        result.append("written")

    t = threading.Thread(target=other)
    t.start()
    t.join(5)
    assert result == ["written"]


def test_relaxed_commits_skip_the_fsync_and_others_keep_it(engine):
    factory = make_session_factory(engine)
    with relaxed_sync(), factory() as session, session.begin():
        session.execute(text("INSERT INTO t VALUES ('relaxed')"))
        relaxed_level = session.execute(text("PRAGMA synchronous")).scalar()
    with factory() as session, session.begin():
        session.execute(text("INSERT INTO t VALUES ('durable')"))
        durable_level = session.execute(text("PRAGMA synchronous")).scalar()
    assert (relaxed_level, durable_level) == (1, 2)  # NORMAL, FULL
