"""Shard leases on a real PostgreSQL: one holder at a time, takeover after the TTL, fencing by epoch,
and the coordinator spreading shards over live hubs and moving them when one joins or dies."""

import time
from collections import Counter

import pytest
from sqlalchemy import text

from hub import migrate
from hub.cluster.balance import assign, plan
from hub.cluster.coordinator import Coordinator
from hub.cluster.fence import Fence, LeaseLost
from hub.cluster.leases import Lease, LeaseStore
from hub.db import make_engine, make_session_factory


@pytest.fixture
def engine(pg_url):
    migrate.upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def test_one_holder_at_a_time_and_takeover_only_after_the_ttl(engine):
    a, b = (LeaseStore(engine, hub_id=h, ttl_s=0.6) for h in ("hub-a", "hub-b"))
    a.ensure_shards(["s1"])
    epoch = a.acquire("s1")
    assert epoch == 1
    assert b.acquire("s1") is None  # held and unexpired
    assert a.renew({"s1": epoch}) == {"s1"}
    assert b.renew({"s1": epoch}) == set()  # only the holder renews
    time.sleep(0.8)
    assert a.renew({"s1": epoch}) == set()  # too late: the lease ran out
    assert b.acquire("s1") == 2
    (lease,) = a.leases()
    assert (lease.holder, lease.epoch, lease.takeovers) == ("hub-b", 2, 1)
    b.release("s1", 2)
    assert a.leases()[0].holder is None
    assert a.acquire("s1") == 3
    assert a.leases()[0].takeovers == 1  # a released shard taken again is no takeover


def test_a_fence_refuses_commits_once_another_hub_holds_the_shard(engine):
    a, b = (LeaseStore(engine, hub_id=h, ttl_s=0.5) for h in ("hub-a", "hub-b"))
    a.ensure_shards(["s1"])
    fence = Fence(shard="s1", hub_id="hub-a", epoch=a.acquire("s1"), deadline=time.monotonic() + 60)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        fence.check(session)  # ours: passes
    time.sleep(0.7)
    assert b.acquire("s1") == 2
    with pytest.raises(LeaseLost), factory() as session, session.begin():
        fence.check(session)  # the local deadline is far, but the database says no
    assert not fence.valid()


def test_the_local_deadline_stops_a_hub_before_the_database_would():
    now = [100.0]
    fence = Fence(shard="s1", hub_id="h", epoch=1, deadline=105.0, monotonic=lambda: now[0])
    assert fence.valid()
    now[0] = 105.0
    assert not fence.valid()


def _lease(shard, holder=None, expires_in_s=-100.0):
    return Lease(shard=shard, holder=holder, epoch=1, age_s=None, expires_in_s=expires_in_s, takeovers=0)


def test_a_joining_hub_takes_only_its_share_and_every_hub_holds_a_fair_one():
    shards = [f"s{i}" for i in range(60)]
    before, after = assign(shards, ["a", "b"]), assign(shards, ["a", "b", "c"])
    moved = [s for s in shards if before[s] != after[s]]
    assert moved and all(after[s] == "c" for s in moved)
    assert len(moved) <= 24  # its third, give or take what the share bound shifts
    for members in (["a", "b", "c"], ["a", "c"], ["hub-1", "hub-2", "hub-3"], [f"h{n}" for n in range(7)]):
        for count in (1, 7, 8, 60):
            counts = Counter(assign([f"site-{i}" for i in range(count)], members).values())
            assert sum(counts.values()) == count
            assert max(counts.values()) - (min(counts.values()) if len(counts) == len(members) else 0) <= 1


def test_plan_takes_its_own_free_shards_hands_over_others_and_adopts_orphans():
    members = ["a", "b"]
    shards = ["s1", "s2"]
    wanted = assign(shards, members)
    mine = next(s for s in shards if wanted[s] == "a")
    theirs = next(s for s in shards if wanted[s] == "b")
    step = plan(me="a", members=members, leases=[_lease(mine, expires_in_s=-0.1), _lease(theirs, expires_in_s=-0.1)],
                held=set(), orphan_after_s=4.0)
    assert (step.acquire, step.release) == ([mine], [])
    step = plan(me="a", members=members, leases=[_lease(mine, "a", 5.0), _lease(theirs, "a", 5.0)],
                held={mine, theirs}, orphan_after_s=4.0)
    assert step.release == [theirs]
    step = plan(me="a", members=members, leases=[_lease(mine, "a", 5.0), _lease(theirs, expires_in_s=-10.0)],
                held={mine}, orphan_after_s=4.0)
    assert step.acquire == [theirs]  # b has not taken it for 10 s: a does


class Work:
    """Records what the coordinator asked for."""

    def __init__(self):
        self.calls = []

    def start(self, shard, fence):
        self.calls.append(("start", shard))

    def hand_over(self, shard):
        self.calls.append(("hand_over", shard))

    def abandon(self, shard):
        self.calls.append(("abandon", shard))


def test_coordinators_spread_shards_rebalance_on_join_and_take_over_from_a_dead_hub(engine):
    shards = [f"site-{i}" for i in range(8)]
    hubs = {}
    for name in ("hub-a", "hub-b"):
        hubs[name] = (Coordinator(LeaseStore(engine, hub_id=name, ttl_s=1.0), shards, Work(), renew_s=0.2), )
    a, b = hubs["hub-a"][0], hubs["hub-b"][0]
    a.store.ensure_shards(shards)
    a.step()
    assert sorted(a.held()) == shards  # alone: a takes everything
    b.step()  # b joins: a sees it at its next step and hands b's share over
    a.step()
    b.step()
    assert sorted(a.held() + b.held()) == shards and not set(a.held()) & set(b.held())
    assert set(b.held()) == {s for s, hub in assign(shards, ["hub-a", "hub-b"]).items() if hub == "hub-b"} != set()
    assert ("hand_over", b.held()[0]) in a.work.calls
    # a dies (no more steps): after the TTL b takes a's shards over, counted as takeovers.
    a_share = a.held()
    time.sleep(1.3)
    b.step()
    b.step()
    assert sorted(b.held()) == shards
    with engine.connect() as conn:
        takeovers = conn.execute(text("SELECT sum(takeovers) FROM shard_leases")).scalar()
    assert takeovers == len(a_share)
    # a comes back from a pause: its renewals fail, it abandons (commits nothing) and holds nothing.
    a.step()
    assert a.held() == [] and {c for c, _ in a.work.calls[-len(shards):]} >= {"abandon"}


def test_clustering_refuses_sqlite(tmp_path):
    with pytest.raises(ValueError, match="PostgreSQL"):
        LeaseStore(make_engine(f"sqlite:///{tmp_path / 'x.db'}"), hub_id="h", ttl_s=9)
