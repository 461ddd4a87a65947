"""Notification API: an alert's messages and attempts; the family answer page behind a tokenised link.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency aliases.
"""

import datetime as dt
import html
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, status
from fastapi.responses import HTMLResponse

from hub.alerts import service as alert_service
from hub.alerts.flows import AlertFlow, public
from hub.alerts.models import Alert
from hub.alerts.types import type_name
from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.notifications import service
from hub.notifications.models import AttemptPublic, FamilyAnswer, FamilyAnswerIn, NotificationPublic
from hub.notifications.templates import language_of

_PAGE = {
    "zh-CN": {"title": "CareHub 报警通知", "state": "处理状态", "handling": "我来处理", "call_me": "请给我回电",
              "thanks": "已收到您的回复，值班人员可以看到。", "gone": "链接已失效。",
              "states": {"new": "等待值班人员响应", "acknowledged": "值班人员已响应", "dispatched": "已派人前往",
                         "resolved": "已处理完毕", "closed": "已处理完毕"}},
    "en": {"title": "CareHub alert", "state": "Status", "handling": "I'm handling it", "call_me": "Please call me",
           "thanks": "Thank you: the duty room can see your answer.", "gone": "This link is no longer valid.",
           "states": {"new": "Waiting for the duty room", "acknowledged": "The duty room has taken it",
                      "dispatched": "Someone is on their way", "resolved": "Dealt with", "closed": "Dealt with"}},
}


def make_router(auth: Auth, flow: AlertFlow, *, timezone: str) -> APIRouter:
    """Return the notifications router (API plus the family answer page)."""
    router = APIRouter(tags=["notifications"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.ALERTS_READ))]
    tz = ZoneInfo(timezone)

    @router.get("/api/alerts/{alert_id}/notifications")
    def alert_notifications(alert_id: int, principal: Reader) -> list[dict]:
        """Return the messages sent for an alert, each with its delivery attempts."""
        with flow.session_factory() as session:
            if alert_service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
            out = []
            for row, attempts in service.for_alert(db_session=session, alert_id=alert_id):
                item = NotificationPublic.model_validate({**_fields(row), "channel": service.channel_of(row.url)})
                out.append({**item.model_dump(mode="json"),
                            "attempts_log": [AttemptPublic.model_validate(a).model_dump() for a in attempts]})
            return out

    Family = Annotated[Principal, Depends(auth.require(Permission.FAMILY_RESPOND))]

    @router.post("/api/alerts/{alert_id}/family-response")
    def family_response(alert_id: int, body: FamilyAnswerIn, principal: Family) -> dict:
        """Let a signed-in family user answer an alert about their relative ("I'm handling it" / "call me")."""
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

    def page(lang: str, body: str) -> HTMLResponse:
        text = _PAGE[lang]
        return HTMLResponse(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{text["title"]}</title>'
            '<style>body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em}'
            'button{font-size:1.2em;padding:.6em 1em;margin:.3em 0;width:100%}</style></head>'
            f'<body><h1>{text["title"]}</h1>{body}</body></html>')

    def link_and_alert(session, token: str):
        link = service.family_link(db_session=session, token=token, now=flow.clock())
        alert = session.get(Alert, link.alert_id) if link else None
        if link is None or alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "link not valid")
        return link, alert

    @router.get("/f/{token}", response_class=HTMLResponse, include_in_schema=False)
    def family_page(token: str) -> HTMLResponse:
        """Show a family member the alert's status and the two answers they can give."""
        with flow.session_factory() as session:
            link, alert = link_and_alert(session, token)
            lang = language_of(link.language)
            text = _PAGE[lang]
            when = dt.datetime.fromtimestamp(alert.first_at, tz).strftime("%Y-%m-%d %H:%M")
            body = (f'<p><b>{html.escape(type_name(alert.type, lang))}</b> · {when}</p>'
                    f'<p>{text["state"]}: {text["states"].get(alert.state, alert.state)}</p>'
                    f'<form method="post"><button name="answer" value="handling">{text["handling"]}</button>'
                    f'<button name="answer" value="call_me">{text["call_me"]}</button></form>')
            return page(lang, body)

    @router.post("/f/{token}", response_class=HTMLResponse, include_in_schema=False)
    def family_answer(token: str, answer: Annotated[FamilyAnswer, Form()]) -> HTMLResponse:
        """Log a family member's answer on the alert and show it to the duty room at once."""
        now = flow.clock()
        with flow.session_factory() as session, session.begin():
            link, alert = link_and_alert(session, token)
            service.record_link_answer(db_session=session, link=link, answer=answer.value, now=now)
            alert.updated_at = now
            lang = language_of(link.language)
        flow.bus.publish(public(alert), change=f"family_{answer.value}")
        return page(lang, f'<p>{_PAGE[lang]["thanks"]}</p>')

    return router


def _fields(row) -> dict:
    return {c: getattr(row, c) for c in NotificationPublic.model_fields if c != "channel"}
