"""Settings of a ticket's life after the call: units' deadlines ([deadlines]), follow-up calls
([followup]) and the outgoing webhook ([webhook]). Checked like every section (ivr.configcheck);
`ivr.config` reads them into `Settings`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.configcheck import (
    HOURS,
    NAME,
    POSITIVE,
    POSITIVE_SECONDS,
    SECONDS,
    TIME_LIMITS,
    Problems,
    Rule,
    checked,
)


@dataclass(frozen=True)
class DeadlineSettings:
    """Units' time limits (办理时限): urgent tickets in hours around the clock, normal ones in
    working days of `calendar` (holidays and 调休 days from the file admins keep)."""

    calendar: str = checked("flows/calendar/12345.yaml", NAME)  # relative to this config file
    critical_hours: float = checked(2.0, HOURS)
    urgent_hours: float = checked(24.0, HOURS)
    normal_workdays: int = checked(5, POSITIVE)
    # per category path, most specific wins, for normal tickets: {"城市管理/市政设施" = "3d"}
    categories: dict[str, str] = field(default_factory=dict, metadata={"rule": TIME_LIMITS})
    due_soon_hours: float = checked(24.0, HOURS)  # the board and the unit are told this long before
    calendar_ahead_days: int = checked(60, POSITIVE)  # warn when the holidays do not cover these


def _ranges(values: tuple[str, ...]) -> bool:
    from ivr.flow.calendar import TimeRange  # the calendar's own parser, so both agree

    try:
        return bool(values) and all(TimeRange.parse(v) for v in values)
    except ValueError:
        return False


_TRUNK = Rule(
    'a "host:port" such as "10.0.0.1:5060", or "" for no calls',
    lambda v: not v or (v.count(":") == 1 and v.split(":")[1].isdigit() and bool(v.split(":")[0])),
)


@dataclass(frozen=True)
class FollowupSettings:
    """Follow-up calls (回访) the line places after a unit's reply (agents/followups)."""

    enabled: bool = True
    trunk: str = checked("", _TRUNK)  # host:port citizens are dialled through; "": no calls
    hours: tuple[str, ...] = checked(
        ("09:00-20:00",), Rule('a list such as ["09:00-12:00", "14:00-20:00"]', _ranges)
    )
    delay_minutes: float = checked(0.0, SECONDS)  # after the reply, before the first call
    retry_minutes: float = checked(60.0, POSITIVE_SECONDS)  # after no answer or busy
    max_attempts: int = checked(3, POSITIVE)  # then the operators' worklist
    answer_seconds: float = checked(45.0, POSITIVE_SECONDS)  # ring this long
    every_seconds: float = checked(30.0, POSITIVE_SECONDS)  # how often due tasks are looked for
    flow: str = checked("followup", NAME)


@dataclass(frozen=True)
class WebhookSettings:
    """Every step of a ticket's life POSTed to a city's dispatch platform (agents/tickets/webhook)."""

    url: str = checked(
        "",
        Rule(
            'an http:// or https:// URL, or "" for none',
            lambda v: not v or v.startswith(("http://", "https://")),
        ),
    )
    secret: str = ""  # HMAC-SHA256 key for X-Hotline-Signature; required with a url
    timeout: float = checked(10.0, POSITIVE_SECONDS)


def webhook_settings(raw: Any, problems: Problems) -> WebhookSettings:
    """[webhook], with the rule that a URL needs a secret."""
    hook = problems.section(WebhookSettings, raw, "[webhook]")
    if hook.url and not hook.secret:
        problems.add(
            "[webhook]",
            'secret: expected a shared secret when url is set (receivers check signatures), got ""',
        )
    return hook
