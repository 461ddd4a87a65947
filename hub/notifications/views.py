"""Notification API: an alert's messages and attempts; the family answer page behind a tokenised link.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import datetime as dt
import html
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from hub.alerts import service as alert_service
from hub.alerts.flows import AlertFlow, public
from hub.alerts.models import Alert, AlertPublic
from hub.alerts.types import type_name
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require
from hub.notifications import service
from hub.notifications.models import (
    AttemptPublic,
    FamilyAnswer,
    FamilyAnswerIn,
    NotificationDetail,
    NotificationPublic,
)
from hub.notifications.templates import language_of

_PAGE: dict[str, dict[str, Any]] = {
    "zh-CN": {"title": "CareHub 报警通知", "state": "处理状态", "handling": "我来处理", "call_me": "请给我回电",
              "thanks": "已收到您的回复，值班人员可以看到。", "gone": "链接已失效。",
              "states": {"new": "等待值班人员响应", "acknowledged": "值班人员已响应", "dispatched": "已派人前往",
                         "resolved": "已处理完毕", "closed": "已处理完毕"}},
    "en": {"title": "CareHub alert", "state": "Status", "handling": "I'm handling it", "call_me": "Please call me",
           "thanks": "Thank you: the duty room can see your answer.", "gone": "This link is no longer valid.",
           "states": {"new": "Waiting for the duty room", "acknowledged": "The duty room has taken it",
                      "dispatched": "Someone is on their way", "resolved": "Dealt with", "closed": "Dealt with"}},
}


@dataclass(frozen=True)
class NotificationContext:
    """What the notification routes need: the alert flow (database, clock, live feed) and the local timezone."""

    alerts: AlertFlow
    timezone: str


router = APIRouter(tags=["notifications"])


def get_notifications(request: Request) -> NotificationContext:
    """Return the app's notification context (create_app puts it on app.state)."""
    return request.app.state.notifications


Context = Annotated[NotificationContext, Depends(get_notifications)]
Reader = Annotated[Principal, require(Permission.ALERTS_READ)]
Family = Annotated[Principal, require(Permission.FAMILY_RESPOND)]


@router.get("/api/alerts/{alert_id}/notifications", response_model=list[NotificationDetail])
def alert_notifications(alert_id: int, principal: Reader, ctx: Context) -> list[NotificationDetail]:
    """Return the messages sent for an alert, each with its delivery attempts."""
    with ctx.alerts.session_factory() as session:
        if alert_service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
        return [NotificationDetail(**_fields(row), channel=service.channel_of(row.url),
                                   attempts_log=[AttemptPublic.model_validate(a) for a in attempts])
                for row, attempts in service.for_alert(db_session=session, alert_id=alert_id)]


@router.post("/api/alerts/{alert_id}/family-response", response_model=AlertPublic)
def family_response(alert_id: int, body: FamilyAnswerIn, principal: Family, ctx: Context) -> dict:
    """Let a signed-in family user answer an alert about their relative ("I'm handling it" / "call me")."""
    flow = ctx.alerts
    now = flow.clock()
    with flow.session_factory() as session, session.begin():
        alert = alert_service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal)
        if alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
        service.record_family_answer(db_session=session, alert_id=alert_id, actor=principal.actor,
                                     answer=body.answer.value, now=now)
        alert.updated_at = now
    flow.bus.publish(public(alert), change=f"family_{body.answer.value}")
    return public(alert)


def _page(lang: str, body: str) -> HTMLResponse:
    """Return the family page in `lang` around `body`."""
    text = _PAGE[lang]
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{text["title"]}</title>'
        '<style>body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em}'
        'button{font-size:1.2em;padding:.6em 1em;margin:.3em 0;width:100%}</style></head>'
        f'<body><h1>{text["title"]}</h1>{body}</body></html>')


def _link_and_alert(flow: AlertFlow, session, token: str):
    """Return the valid family link for `token` and its alert (404 otherwise)."""
    link = service.family_link(db_session=session, token=token, now=flow.clock())
    alert = session.get(Alert, link.alert_id) if link else None
    if link is None or alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "link not valid")
    return link, alert


@router.get("/f/{token}", response_class=HTMLResponse, response_model=None, include_in_schema=False)
def family_page(token: str, ctx: Context) -> HTMLResponse:
    """Show a family member the alert's status and the two answers they can give."""
    with ctx.alerts.session_factory() as session:
        link, alert = _link_and_alert(ctx.alerts, session, token)
        lang = language_of(link.language)
        text = _PAGE[lang]
        when = dt.datetime.fromtimestamp(alert.first_at, ZoneInfo(ctx.timezone)).strftime("%Y-%m-%d %H:%M")
        body = (f'<p><b>{html.escape(type_name(alert.type, lang))}</b> · {when}</p>'
                f'<p>{text["state"]}: {text["states"].get(alert.state, alert.state)}</p>'
                f'<form method="post"><button name="answer" value="handling">{text["handling"]}</button>'
                f'<button name="answer" value="call_me">{text["call_me"]}</button></form>')
        return _page(lang, body)


@router.post("/f/{token}", response_class=HTMLResponse, response_model=None, include_in_schema=False)
def family_answer(token: str, answer: Annotated[FamilyAnswer, Form()], ctx: Context) -> HTMLResponse:
    """Log a family member's answer on the alert and show it to the duty room at once."""
    flow = ctx.alerts
    now = flow.clock()
    with flow.session_factory() as session, session.begin():
        link, alert = _link_and_alert(flow, session, token)
        service.record_link_answer(db_session=session, link=link, answer=answer.value, now=now)
        alert.updated_at = now
        lang = language_of(link.language)
    flow.bus.publish(public(alert), change=f"family_{answer.value}")
    return _page(lang, f'<p>{_PAGE[lang]["thanks"]}</p>')


def _fields(row) -> dict:
    """Return the row's NotificationPublic fields but the channel (derived from the masked address)."""
    return {c: getattr(row, c) for c in NotificationPublic.model_fields if c != "channel"}
