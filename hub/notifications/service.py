"""Notification reads and writes: queue a message, claim due ones, record attempts, family links."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.audit.service import SYSTEM
from hub.notifications.models import DeliveryAttempt, DeliveryState, FamilyLink, Notification

_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time] | None:
    """Parse "22:00-07:00" into (start, end); empty means none; raise ValueError when malformed."""
    if not text.strip():
        return None
    match = _QUIET.match(text)
    if not match:
        raise ValueError(f"quiet hours {text!r} are not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"quiet hours {text!r} are not valid times")
    return dt.time(h1, m1), dt.time(h2, m2)


def quiet_until(quiet_hours: str, now: float, tz: ZoneInfo) -> float | None:
    """Return when the quiet hours covering `now` end (epoch), or None when `now` is not in them."""
    try:
        window = parse_quiet_hours(quiet_hours)
    except ValueError:
        return None  # a malformed setting must never hold a message back
    if window is None:
        return None
    start, end = window
    local = dt.datetime.fromtimestamp(now, tz)
    t = local.timetz().replace(tzinfo=None)
    if start <= end:
        inside = start <= t < end
    else:  # spans midnight
        inside = t >= start or t < end
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(end_day, end, tz).timestamp()


def queue(*, db_session: Session, dedupe_key: str, alert_id: int, step: int, action: str, recipient_kind: str,
          recipient_id: int, recipient_name: str, url: str, language: str, priority: int, title: str, body: str,
          now: float, not_before: float | None = None, deferred_reason: str = "") -> Notification | None:
    """Queue one message; None when this exact message was already queued (a step is never sent twice)."""
    if db_session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)) is not None:
        return None
    row = Notification(dedupe_key=dedupe_key, alert_id=alert_id, step=step, action=action,
                       recipient_kind=recipient_kind, recipient_id=recipient_id, recipient_name=recipient_name,
                       url=url, language=language, priority=priority, title=title, body=body,
                       state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=not_before or now,
                       deferred_reason=deferred_reason, last_error="", created_at=now)
    db_session.add(row)
    db_session.flush()
    return row


def recover(*, db_session: Session) -> int:
    """Put messages a crash left mid-send back in the queue (they may go twice: never zero times)."""
    # An UPDATE gives a CursorResult (Session.execute is typed as returning the plain Result).
    result = cast("CursorResult[Any]", db_session.execute(
        update(Notification).where(Notification.state == DeliveryState.SENDING.value)
        .values(state=DeliveryState.PENDING.value)))
    return result.rowcount or 0


def claim_due(*, db_session: Session, now: float, limit: int = 50) -> list[Notification]:
    """Mark due messages as being sent and return them, most urgent first."""
    rows = list(db_session.scalars(
        select(Notification).where(Notification.state == DeliveryState.PENDING.value,
                                   Notification.next_attempt_at <= now)
        .order_by(Notification.priority, Notification.next_attempt_at, Notification.id).limit(limit)))
    claimed = []
    for row in rows:
        # Compare-and-set: another sender (a second hub on the same database) may have claimed it.
        result = cast("CursorResult[Any]", db_session.execute(
            update(Notification).where(Notification.id == row.id, Notification.state == DeliveryState.PENDING.value)
            .values(state=DeliveryState.SENDING.value, attempts=Notification.attempts + 1)))
        if result.rowcount == 1:
            claimed.append(row)
    for row in claimed:
        db_session.refresh(row)
    return claimed


def record_attempt(*, db_session: Session, notification_id: int, ok: bool, error: str, duration_s: float,
                   now: float, max_attempts: int, backoff_s: float, max_backoff_s: float) -> Notification:
    """Record one delivery attempt; a failure is retried with exponential backoff until attempts run out."""
    row = db_session.get(Notification, notification_id)
    assert row is not None
    db_session.add(DeliveryAttempt(notification_id=row.id, at=now, ok=ok, error=error[:2000],
                                   duration_s=duration_s))
    detail = {"alert_id": row.alert_id, "recipient": f"{row.recipient_kind}:{row.recipient_id}",
              "channel": channel_of(row.url), "attempt": row.attempts}
    if ok:
        row.state, row.sent_at, row.last_error = DeliveryState.SENT.value, now, ""
        audit.append(db_session=db_session, actor=SYSTEM, action="notification.sent", entity="notification",
                     entity_id=row.id, at=now, detail=detail)
    elif row.attempts >= max_attempts or error.startswith("unusable address"):
        row.state, row.last_error = DeliveryState.FAILED.value, error[:2000]
        audit.append(db_session=db_session, actor=SYSTEM, action="notification.failed", entity="notification",
                     entity_id=row.id, at=now, detail={**detail, "error": error[:300]})
    else:
        row.state, row.last_error = DeliveryState.PENDING.value, error[:2000]
        row.next_attempt_at = now + min(backoff_s * 3 ** (row.attempts - 1), max_backoff_s)
        row.deferred_reason = "retry"
    return row


def for_alert(*, db_session: Session, alert_id: int) -> list[tuple[Notification, list[DeliveryAttempt]]]:
    """Return an alert's messages with their attempts, oldest first."""
    rows = list(db_session.scalars(select(Notification).where(Notification.alert_id == alert_id)
                                   .order_by(Notification.id)))
    attempts = list(db_session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.notification_id.in_([r.id for r in rows])).order_by(DeliveryAttempt.id)))
    by_id: dict[int, list[DeliveryAttempt]] = {r.id: [] for r in rows}
    for attempt in attempts:
        by_id[attempt.notification_id].append(attempt)
    return [(r, by_id[r.id]) for r in rows]


def channel_of(url: str) -> str:
    """Return the scheme of an apprise URL (its credentials stay out of logs and the API)."""
    return url.split("://", 1)[0] if "://" in url else "?"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_family_link(*, db_session: Session, alert_id: int, contact_id: int, contact_name: str, language: str,
                      now: float, ttl_s: float) -> str:
    """Create a link token for one contact and alert; only its digest is stored."""
    token = secrets.token_urlsafe(24)
    db_session.add(FamilyLink(token_digest=_digest(token), alert_id=alert_id, contact_id=contact_id,
                              contact_name=contact_name, language=language, created_at=now,
                              expires_at=now + ttl_s, answers=[]))
    db_session.flush()
    return token


def family_link(*, db_session: Session, token: str, now: float) -> FamilyLink | None:
    """Return the live link for `token` (None when unknown or expired)."""
    link = db_session.scalar(select(FamilyLink).where(FamilyLink.token_digest == _digest(token)))
    if link is None or link.expires_at <= now:
        return None
    return link


def record_family_answer(*, db_session: Session, alert_id: int, actor: str, answer: str, now: float,
                         detail: dict | None = None) -> None:
    """Log a family member's answer ("handling", "call_me") in the alert's audited history."""
    audit.append(db_session=db_session, actor=actor, action="alert.family_response", entity="alert",
                 entity_id=alert_id, at=now, detail={"answer": answer, **(detail or {})})


def record_link_answer(*, db_session: Session, link: FamilyLink, answer: str, now: float) -> None:
    """Log an answer given from a family link, on the link and in the alert's history."""
    link.answers = [*link.answers, {"answer": answer, "at": now}]
    record_family_answer(db_session=db_session, alert_id=link.alert_id, actor=f"family:{link.contact_name}",
                         answer=answer, now=now, detail={"contact_id": link.contact_id, "contact": link.contact_name})
