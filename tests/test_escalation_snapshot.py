"""The escalation snapshot is typed: policies freeze into it, it survives the JSON row unchanged, bad rows fail."""

import pytest

from hub.escalation.policies import DEFAULT_POLICIES, snapshot
from hub.escalation.snapshot import Action, FrozenStep, Snapshot
from hub.escalation.steps import plan


def test_a_default_policy_freezes_family_steps_per_contact_and_round_trips_through_json():
    snap = snapshot(policy=None, priority=1, contact_ids=[7, 9], reason="unacknowledged", now=100.0, run=1)
    actions = [s.action for s in snap.steps]
    assert actions.count(Action.NOTIFY_CONTACT) == 2 and actions[0] == Action.NOTIFY_STAFF
    assert [s.contact_id for s in snap.steps if s.action == Action.NOTIFY_CONTACT] == [7, 9]
    assert snap.steps[2] == FrozenStep(Action.NOTIFY_STAFF, role="supervisor")
    assert Snapshot.from_json(snap.to_json()) == snap
    assert snap.to_json()["steps"][0] == {"action": "notify_staff", "role": "operator"}  # the row's shape
    assert len(snap.steps) == len(DEFAULT_POLICIES[1]) + 2  # family: 2 contacts and one wait between


def test_planning_a_snapshot_is_pure_and_catches_up_after_a_late_run():
    snap = snapshot(policy=None, priority=3, contact_ids=[], reason="unacknowledged", now=0.0, run=1)
    late = plan(snap, step=0, due=0.0, now=7200.0)
    assert [e.action for e in late.effects] == [Action.NOTIFY_STAFF, Action.NOTIFY_STAFF] and late.next_at is None
    assert snap.repeats_done == 0  # plan never changes the frozen snapshot


def test_a_stored_step_with_an_unknown_action_is_refused():
    with pytest.raises(ValueError):
        Snapshot.from_json({"policy": "x", "run": 1, "steps": [{"action": "email_the_mayor"}]})
