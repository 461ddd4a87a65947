"""While an alarm is on its way to the database, the GIL changes hands every 0.5 ms; otherwise as before."""

import sys

from hub.ingest.lanes import ALARM_SWITCH_S, AlarmPriority


def test_the_short_hand_over_lasts_exactly_while_alarms_are_in_flight():
    normal = sys.getswitchinterval()
    priority = AlarmPriority()
    try:
        priority.begin()
        priority.begin()
        assert sys.getswitchinterval() == ALARM_SWITCH_S
        priority.end()
        assert sys.getswitchinterval() == ALARM_SWITCH_S, "one alarm is still in flight"
        priority.end()
        assert sys.getswitchinterval() == normal
        priority.end(5)  # more ends than begins (a lost shard's queue) never leaves it short
        assert sys.getswitchinterval() == normal
        priority.begin()
        assert sys.getswitchinterval() == ALARM_SWITCH_S
    finally:
        priority.end(10)
    assert sys.getswitchinterval() == normal
