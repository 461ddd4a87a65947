"""Message templates per alert type and language (zh-CN by default, en)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.alerts.types import type_name

DEFAULT_LANGUAGE = "zh-CN"

# What the reader should do, per alert type; types not listed get the language's "*" line.
ADVICE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "sos": "老人按下了呼叫按钮，请立即电话联系或上门查看。",
        "fall": "检测到跌倒，请立即电话联系或上门查看。",
        "fire": "请立即确认火情，必要时组织疏散并拨打119。",
        "gas": "请立即关闭气源、开窗通风，勿开关电器，必要时疏散。",
        "co": "请立即开窗通风并让老人离开房间，必要时拨打120。",
        "inactivity": "老人长时间没有活动，请电话确认平安。",
        "missed_checkin": "老人今天没有报平安，请电话确认。",
        "help_not_arrived": "已派出的人员未在规定时间内确认到达，请立即跟进。",
        "call_emergency": "报警无人响应，请立即拨打 {number} 并在系统中记录通话结果。",
        "*": "请尽快处理。",
    },
    "en": {
        "sos": "The resident pressed the call button: phone them or go and see now.",
        "fall": "A fall was detected: phone the resident or go and see now.",
        "fire": "Confirm the fire now; evacuate and call 119 if needed.",
        "gas": "Shut off the gas and ventilate now; do not switch electrical devices; evacuate if needed.",
        "co": "Ventilate and get the resident out of the room now; call 120 if needed.",
        "inactivity": "The resident has not moved for unusually long: phone to check they are well.",
        "missed_checkin": "The resident did not check in today: phone to check.",
        "help_not_arrived": "The responder sent has not confirmed arrival in time: follow up now.",
        "call_emergency": "Nobody has answered this alarm: call {number} now and record the outcome.",
        "*": "Please deal with it soon.",
    },
}

_LAYOUT = {
    "zh-CN": ("【P{priority} {type_name}】{resident}",
              "{type_name}：{resident}（{place}）\n时间：{time}\n{advice}\n{family_line}查看：{link}\n编号：{ref}"),
    "en": ("[P{priority} {type_name}] {resident}",
           "{type_name}: {resident} ({place})\nTime: {time}\n{advice}\n{family_line}Details: {link}\nRef: {ref}"),
}
_FAMILY_LINE = {
    "zh-CN": "请点击链接回复“我来处理”或“请给我回电”：{answer_link}\n",
    "en": "Answer \"I'm handling it\" or \"please call me\" here: {answer_link}\n",
}
UNKNOWN_RESIDENT = {"zh-CN": "（未绑定老人）", "en": "(no resident bound)"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send."""

    title: str
    body: str


def language_of(requested: str | None) -> str:
    """Return a supported language for `requested` (zh-CN when unknown)."""
    return requested if requested in _LAYOUT else DEFAULT_LANGUAGE


def render(*, language: str, alert_type: str, priority: int, resident: str | None, place: str, time: str,
           link: str, ref: str, reason: str = "", number: str = "", answer_link: str = "") -> Rendered:
    """Render the title and body of one message."""
    lang = language_of(language)
    advice_key = reason if reason in ("help_not_arrived", "call_emergency") else alert_type
    advice = ADVICE[lang].get(advice_key, ADVICE[lang]["*"]).format(number=number)
    fields = {
        "priority": priority, "type_name": type_name(alert_type, lang),
        "resident": resident or UNKNOWN_RESIDENT[lang], "place": place or "-", "time": time, "advice": advice,
        "link": link, "ref": ref,
        "family_line": _FAMILY_LINE[lang].format(answer_link=answer_link) if answer_link else "",
    }
    title, body = _LAYOUT[lang]
    return Rendered(title.format(**fields), body.format(**fields))
