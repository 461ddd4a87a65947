"""Working-day arithmetic for feedback clocks: weekends and public holidays off, make-up workdays (调休) on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection


def is_workday(day: dt.date, holidays: Collection[dt.date] = (), extra_workdays: Collection[dt.date] = ()) -> bool:
    """Return whether `day` is a working day."""
    if day in extra_workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def add_workdays(day: dt.date, n: int, holidays: Collection[dt.date] = (),
                 extra_workdays: Collection[dt.date] = ()) -> dt.date:
    """Return the `n`th working day after `day` (the day received does not count)."""
    remaining = n
    while remaining > 0:
        day += dt.timedelta(days=1)
        remaining -= is_workday(day, holidays, extra_workdays)
    return day
