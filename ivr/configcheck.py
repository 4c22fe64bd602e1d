"""Checking config.toml values against the settings' field types and rules.

A field's type (str, int, float, tuple[str, ...], dict[str, int], Literal[...]) says what TOML
value it takes; a `Rule` in the field's metadata (`checked(default, rule)`) narrows it where the
meaning needs it (ports, non-negative durations, known names). Every problem is collected as
`FILE: [section] key: expected ..., got ...` so an admin fixes them all in one pass, and a bad
value is replaced by the field's default only so that the remaining checks can still run.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")

MISSING: Any = dataclasses.MISSING


@dataclass(frozen=True)
class Rule:
    """What a value must be beyond its type; `expected` replaces the type's description."""

    expected: str
    ok: Callable[[Any], bool]


def checked(default: T, rule: Rule) -> T:
    """A dataclass field whose value `rule` narrows (the type still says what TOML value it takes)."""
    field: T = dataclasses.field(default=default, metadata={"rule": rule})
    return field


def show(value: Any) -> str:
    """A value as it is written in TOML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def one_of(*choices: Any) -> Rule:
    return Rule(f"one of {', '.join(show(c) for c in choices)}", lambda v: v in choices)


def at_least(low: float, noun: str = "a number") -> Rule:
    return Rule(f"{noun} >= {show(low)}", lambda v: v is None or v >= low)


def above(low: float, noun: str = "a number") -> Rule:
    return Rule(f"{noun} > {show(low)}", lambda v: v > low)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_ipv4(text: str) -> bool:
    """The SIP transports and the console's socket are IPv4."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")


def _is_zone(name: str) -> bool:
    if not name:
        return True  # the system's zone
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


PORT = Rule("a port number 0-65535", lambda v: 0 <= v <= 65535)
LISTEN_PORT = Rule("a port number 1-65535", lambda v: 1 <= v <= 65535)
SECONDS = at_least(0, "a number of seconds")
POSITIVE_SECONDS = above(0, "a number of seconds")
END_SILENCE = Rule("a number of seconds from 0.1 to 2", lambda v: 0.1 <= v <= 2.0)
COUNT = at_least(0, "an integer")
POSITIVE = at_least(1, "an integer")
HOURS = above(0, "a number of hours")
_LIMIT = re.compile(r"^\d+(\.\d+)?h$|^\d+d$")
TIME_LIMITS = Rule(
    'a table of category paths ("城市管理" or "城市管理/市政设施") to limits'
    ' such as "48h" or "3d" (working days)',
    lambda v: all(k.strip() and _LIMIT.match(x) and float(x[:-1]) > 0 for k, x in v.items()),
)
IPV4 = Rule('an IPv4 address such as "127.0.0.1"', _is_ipv4)
IPV4_LIST = Rule('a list of IPv4 addresses such as ["127.0.0.1"]', lambda v: all(_is_ipv4(a) for a in v))
IPV4_OR_HOST = Rule(
    'an IPv4 address or host name such as "127.0.0.1"',
    lambda v: _is_ipv4(v) or (bool(_HOST.match(v)) and not _is_ip(v)),
)
HOST_OR_EMPTY = Rule(
    'a host name or IP address, or "" for none', lambda v: not v or bool(_HOST.match(v)) or _is_ip(v)
)
ZONE = Rule('a time zone such as "Asia/Shanghai", or "" for the system\'s', _is_zone)
SIP_URI = Rule('a SIP URI such as "sip:1001@127.0.0.1:5081"', lambda v: v.startswith(("sip:", "sips:")))
REGISTRAR = Rule('a SIP URI such as "sip:10.0.0.1:5060", or "" for none', lambda v: not v or SIP_URI.ok(v))
NAME = Rule("a non-empty string", lambda v: bool(v.strip()))
KEY = Rule(
    'one key: 0-9, "*" or "#", or "" for none', lambda v: v == "" or (len(v) == 1 and v in "0123456789*#")
)
LEVELS = Rule("a table of skill levels (integers >= 0)", lambda v: all(x >= 0 for x in v.values()))
THRESHOLDS = Rule(
    "a list of seconds (numbers >= 0) in increasing order",
    lambda v: all(x >= 0 for x in v) and list(v) == sorted(v),
)


def subset_of(*choices: str) -> Rule:
    return Rule(
        f"a list of {', '.join(show(c) for c in choices)}",
        lambda v: bool(v) and all(x in choices for x in v) and len(set(v)) == len(v),
    )


# -- types --


def _args(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if _is_union(tp):
        return " or ".join(describe(a) for a in _args(tp) if a is not type(None))
    if origin is Literal:
        return f"one of {', '.join(show(c) for c in _args(tp))}"
    if origin is tuple:
        return f"a list of {_plural(_args(tp)[0])}"
    if origin in (dict, Mapping):
        return f"a table of {_plural(_args(tp)[1])}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _plural(tp: Any) -> str:
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(tp, describe(tp))


def conform(tp: Any, value: Any) -> Any:
    """`value` as `tp` (lists become tuples, integers become floats), or MISSING if it is not one."""
    origin = typing.get_origin(tp)
    if _is_union(tp):
        for arg in _args(tp):
            if arg is not type(None) and (got := conform(arg, value)) is not MISSING:
                return got
        return MISSING
    if origin is Literal:
        return value if value in _args(tp) else MISSING
    if origin is tuple:
        if not isinstance(value, list):
            return MISSING
        items = [conform(_args(tp)[0], v) for v in value]
        return MISSING if any(i is MISSING for i in items) else tuple(items)
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            return MISSING
        table = {k: conform(_args(tp)[1], v) for k, v in value.items()}
        return MISSING if any(v is MISSING for v in table.values()) else table
    if tp is float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else MISSING
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else MISSING
    return value if isinstance(value, tp) else MISSING


class Problems:
    """Problems of one config file, each `FILE: WHERE key: message`."""

    def __init__(self, file: str):
        self.file = file
        self.found: list[str] = []
        self._bad: set[tuple[str, str]] = set()  # (where, key) already reported: no second message

    def add(self, where: str, message: str) -> None:
        self.found.append(f"{self.file}: {where}{' ' if where else ''}{message}")

    def value(self, where: str, key: str, tp: Any, raw: Any, rule: Rule | None = None) -> Any:
        """The checked value, or MISSING after recording why it is wrong."""
        value = conform(tp, raw)
        if value is MISSING or (rule is not None and not rule.ok(value)):
            expected = rule.expected if rule is not None else describe(tp)
            self.add(where, f"{key}: expected {expected}, got {show(raw)}")
            self._bad.add((where, key))
            return MISSING
        return value

    def table(self, where: str, raw: Any) -> dict[str, Any]:
        if isinstance(raw, dict):
            return raw
        self.add(where, f"expected a table, got {show(raw)}")
        return {}

    def section(self, cls: type[T], raw: Any, where: str, **given: Any) -> T:
        """An instance of the settings dataclass `cls` from a TOML table, checking every key."""
        raw = self.table(where, raw)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        self.unknown(where, raw, set(fields) - set(given))  # given: from the table name
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = dict(given)
        for name, f in fields.items():
            if name in given:
                continue
            if name not in raw:
                if f.default is MISSING and f.default_factory is MISSING:
                    rule = f.metadata.get("rule")
                    expected = rule.expected if rule is not None else describe(hints[name])
                    self.add(where, f"{name}: missing, expected {expected}")
                    values[name] = _blank(hints[name])
                continue
            value = self.value(where, name, hints[name], raw[name], f.metadata.get("rule"))
            if value is not MISSING:
                values[name] = value
            elif f.default is MISSING and f.default_factory is MISSING:
                values[name] = _blank(hints[name])
        return cls(**values)

    def unknown(self, where: str, raw: Mapping[str, Any], known: Iterable[str]) -> None:
        """A key nobody reads is a typo: name it, with the likeliest intended key."""
        names = sorted(known)
        for key in sorted(set(raw) - set(names)):
            near = difflib.get_close_matches(key, names, n=1)
            hint = f'did you mean "{near[0]}"? ' if near else ""
            self.add(where, f"{key}: unknown key ({hint}known: {', '.join(names)})")

    # -- files and folders the line needs at start --
    def folder(self, where: str, key: str, path: Path) -> None:
        if (where, key) in self._bad:
            return
        if not path.is_dir():
            state = "is not a folder" if path.exists() else "no such folder"
            self.add(where, f"{key}: {state}: {path}")

    def pem(self, where: str, key: str, path: Path, marker: str) -> None:
        """A PEM file pjsua can read: exists, readable, with a `-----BEGIN ...{marker}` block."""
        if (where, key) in self._bad:
            return
        try:
            with path.open("rb") as f:
                text = f.read(1_000_000)
        except FileNotFoundError:
            self.add(where, f"{key}: no such file: {path}")
            return
        except OSError as exc:
            self.add(where, f"{key}: cannot read {path}: {exc.strerror}")
            return
        if not re.search(rb"-----BEGIN [A-Z ]*" + marker.encode() + rb"-----", text):
            self.add(where, f"{key}: expected a PEM file with a {marker}, got {path}")

    def creatable(self, where: str, key: str, folder: Path) -> None:
        """`folder` exists or can be made: its nearest existing parent is a writable folder."""
        if (where, key) in self._bad:
            return
        probe = folder
        for _ in range(64):  # bounded walk up to the root
            if probe.exists() or probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            self.add(where, f"{key}: cannot create folder {folder}: {probe} is not a folder")
        elif not os.access(probe, os.W_OK | os.X_OK):
            self.add(where, f"{key}: cannot create or write folder {folder}: {probe} is not writable")


def _blank(tp: Any) -> Any:
    """A stand-in for a missing required value (the settings are discarded: it is never used)."""
    return "" if tp is str else None
