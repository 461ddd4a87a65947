"""The live feed's fan-out: scope per subscriber, and a resync instead of silent loss when a console lags."""

from __future__ import annotations

import asyncio

from hub.alerts.bus import AlertBus, Subscription
from hub.auth.principal import Principal
from hub.auth.roles import Role


def _principal(role: Role, sites=None, residents=()) -> Principal:
    return Principal(kind="user", id=1, name="u", role=role, site_ids=sites, resident_ids=frozenset(residents))


def test_changes_reach_only_subscribers_whose_scope_covers_them():
    async def run() -> tuple[list, list]:
        bus = AlertBus()
        operator = bus.subscribe(_principal(Role.DUTY_OPERATOR, sites=frozenset({1})))
        family = bus.subscribe(_principal(Role.FAMILY, residents={7}))
        bus.publish({"id": 1, "site_id": 1, "resident_id": 8}, change="raised")
        bus.publish({"id": 2, "site_id": 2, "resident_id": 7}, change="raised")
        await asyncio.sleep(0)
        drain = lambda sub: [sub.queue.get_nowait()["data"]["alert"]["id"] for _ in range(sub.queue.qsize())]  # noqa: E731
        return drain(operator), drain(family)

    assert asyncio.run(run()) == ([1], [2])


def test_a_lagging_console_gets_resync_instead_of_silently_losing_changes():
    async def run() -> list[str]:
        sub = Subscription(_principal(Role.ADMIN), asyncio.get_running_loop(), asyncio.Queue(3))
        for i in range(5):
            sub.offer({"event": "alert", "data": {"i": i}})
        return [sub.queue.get_nowait()["event"] for _ in range(sub.queue.qsize())]

    assert asyncio.run(run()) == ["alert", "alert", "resync"]
