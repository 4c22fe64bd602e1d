"""The centre's protection policy: how sign-in is guarded ([signin]), who supervises
([[supervisors]]), how long personal data is kept ([retention]), and whether the console may
listen where it is configured to (`exposure`).

Checked like every section (ivr.configcheck); `ivr.config` reads them into `Settings`. Passwords
in config may be PBKDF2 hashes (`ivr passwd` prints one) or, on a console that only listens on
loopback, plain text with a warning at start."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ivr.configcheck import NAME, POSITIVE, POSITIVE_SECONDS, Problems, Rule, above, checked, show
from ivr.passwords import is_hash

# the passwords config.toml ships with: a console that still uses them is anyone's
SHIPPED_PASSWORDS = frozenset({"hotline-1001", "hotline-1002", "hotline-supervisor"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PASSWORD = Rule(
    'a password, or a hash from `ivr passwd` ("pbkdf2_sha256$...")',
    lambda v: not v.startswith("pbkdf2_sha256$") or is_hash(v),
)


@dataclass(frozen=True)
class SigninSettings:
    """Sign-in guard and session lifetime, the same for seats, supervisors and unit staff."""

    session_hours: float = checked(12.0, above(0, "a number of hours"))  # a shift, then sign in again
    idle_minutes: float = checked(30.0, above(0, "a number of minutes"))  # unused this long: signed out
    account_failures: int = checked(5, POSITIVE)  # wrong passwords for one account before a lockout
    address_failures: int = checked(20, POSITIVE)  # from one address (an office shares one behind NAT)
    lockout_seconds: float = checked(60.0, POSITIVE_SECONDS)  # the first lockout; each later one doubles
    lockout_max_seconds: float = checked(3600.0, POSITIVE_SECONDS)
    failure_window_minutes: float = checked(15.0, above(0, "a number of minutes"))  # failures forgotten after
    ticket_seconds: float = checked(30.0, POSITIVE_SECONDS)  # a live socket's one-use ticket lives this long


@dataclass(frozen=True)
class SupervisorSettings:
    """A named supervisor (班长) account: one session per person."""

    login: str = checked("", NAME)
    name: str = checked("", NAME)
    password: str = checked("", PASSWORD)


@dataclass(frozen=True)
class RetentionSettings:
    """How long personal data is kept ([store] recording_retention_days covers recordings)."""

    # caller number, name, address and complaint text of closed tickets and their calls; 0: forever
    personal_days: int = checked(1095, Rule("a number of days >= 0", lambda v: v >= 0))
    # the audit trail itself (网络安全法: at least six months)
    audit_days: int = checked(1095, Rule("a number of days >= 180", lambda v: v >= 180))
    every_hours: float = checked(6.0, above(0, "a number of hours"))  # how often housekeeping runs


def supervisors(raw: Any, legacy_password: str, problems: Problems) -> tuple[SupervisorSettings, ...]:
    """[[supervisors]] blocks; the older `[web] supervisor_password` is the account `supervisor`."""
    found: list[SupervisorSettings] = []
    if legacy_password:
        found.append(SupervisorSettings("supervisor", "班长", legacy_password))
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        problems.add(
            "[[supervisors]]", f"expected a list of tables ([[supervisors]] blocks), got {show(raw)}"
        )
        return tuple(found)
    for i, s in enumerate(raw):
        where = f"[[supervisors]] #{i + 1}"
        account = problems.section(SupervisorSettings, s, where)
        if any(a.login == account.login for a in found):
            problems.add(where, f"login: expected a login no other supervisor has, got {show(account.login)}")
        found.append(account)
    return tuple(found)


def is_loopback(bind: str) -> bool:
    if bind in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def exposure(
    bind: str, cert: str, passwords: dict[str, str], hosts: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """(reasons not to start, warnings) for a console on `bind`; `passwords` maps each account
    ("seat 1001", "supervisor zhang") to its configured password or hash; `hosts` are the names
    it answers to besides its bind address and loopback."""
    shipped = sorted(who for who, pw in passwords.items() if pw in SHIPPED_PASSWORDS)
    plain = sorted(who for who, pw in passwords.items() if pw and not is_hash(pw))
    refuse: list[str] = []
    warn: list[str] = []
    if is_loopback(bind):
        if shipped:
            warn.append(f"the shipped example passwords are in use ({', '.join(shipped)}): change them")
        elif plain:
            warn.append(f"plain-text passwords in config ({', '.join(plain)}): use `ivr passwd` hashes")
        return refuse, warn
    where = f'[web] bind = "{bind}" listens beyond this machine'
    if shipped:
        refuse.append(f"{where} while the shipped example passwords are in use ({', '.join(shipped)})")
    elif plain:
        refuse.append(f"{where} with plain-text passwords ({', '.join(plain)}); put `ivr passwd` hashes")
    if not cert:
        refuse.append(f"{where} without TLS: set [web] cert and key")
    if bind in ("0.0.0.0", "::") and not hosts:
        refuse.append(f"{where} but answers only loopback names: list its names in [web] hosts")
    return refuse, warn
