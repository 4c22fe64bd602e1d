"""Who is at the console: operator sessions bound to one seat (a team leader signs in at their
own seat), supervisor (值班长) sessions, admin sessions (seats and teams), unit staff sessions.

Seats come from the roster (ivr.roster: config.toml's seats with their config password, the
store's with a PBKDF2 hash) when one is given, else from config.toml alone.

A token is the only credential the browser keeps (per tab, in sessionStorage), sent only in the
Authorization header. Seats, supervisors and unit staff sign in through one path: the sign-in
guard (agents/web/guard.py) locks out guessing per account and per address, every sign-in,
failure and sign-out is audited, and a session ends `session_hours` after sign-in or
`idle_minutes` after its last use ([signin]), whichever comes first. One supervisor has one
session: signing in again ends the earlier one (the supervisor moved desks; the old page is told).
One seat has at most one session: a second login for a seat whose console is open (live socket connected) is
refused with 409 unless it asks to take over, so two tabs never edit the same calls.

Sessions are kept by the store (a SHA-256 of each token, never the token): a restarted node
keeps its operators signed in, and every node of a centre accepts every token. What only the
node holding the socket knows stays in memory: open live sockets and who to tell on sign-out.
A takeover on another node ends the old session everywhere; the old tab learns it at its next
request (its socket, held by the other node, is not closed from here).

With broker accounts (`ivr.accounts.SeatAccounts`), a seat's sign-in also gets an MQTT account
limited to that seat, returned once with the token; sign-out, takeover and expiry delete it (the
broker disconnects the console). No account issued (broker down, no dynsec) does not stop the
sign-in: the browser console does not use MQTT.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from agents.web.api import ApiError as AuthError
from agents.web.guard import SigninGuard
from ivr.accounts import AccountError, SeatAccounts
from ivr.audit import AuditTrail
from ivr.config import SeatSettings, SigninSettings, SupervisorSettings
from ivr.passwords import check_password, hash_password, password_matches
from ivr.roster import Roster
from ivr.store import SessionBook, SessionRecord, UnitBook

log = logging.getLogger(__name__)

Role = Literal["seat", "supervisor", "unit", "admin"]
SUPERVISOR: Role = "supervisor"
UNIT: Role = "unit"
ADMIN: Role = "admin"
ROLES = ("seat", SUPERVISOR, UNIT, ADMIN)


@functools.cache
def _nobody() -> str:
    """Checked against when a login is unknown, so it costs as long as a wrong password."""
    return hash_password("no such login")


TOUCH_EVERY = 60.0  # last_seen is written at most this often per session


@dataclass
class Session:
    token: str
    role: Role
    seat_id: str  # "" for supervisors and units
    created_at: float
    live: int = 0  # open live sockets (0 or 1 for a seat)
    mqtt: dict[str, Any] | None = None  # the broker account issued at sign-in, until told
    unit_id: str = ""  # the unit of a unit staff session
    login: str = ""  # the person: a supervisor's or unit staff member's login
    address: str = ""  # where it signed in from (audit entries of sockets)
    on_revoke: list[Callable[[str], None]] = field(default_factory=list)

    @property
    def actor(self) -> str:
        """Who, in the audit trail: "seat:1001", "supervisor:zhang", "unit:wang"."""
        return f"seat:{self.seat_id}" if self.role == "seat" else f"{self.role}:{self.login}"

    def can_see_seat(self, seat_id: str) -> bool:
        return self.role == SUPERVISOR or (self.role == "seat" and self.seat_id == seat_id)

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "seat_id": self.seat_id, "unit_id": self.unit_id}


def token_hash(token: str) -> str:
    """What the store keeps: tokens are 192 random bits, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        seats: Iterable[SeatSettings],
        supervisors: Iterable[SupervisorSettings],
        book: SessionBook,
        guard: SigninGuard,
        audit: AuditTrail,
        *,
        signin: SigninSettings | None = None,
        now: Callable[[], float] = time.time,
        accounts: SeatAccounts | None = None,
        units: UnitBook | None = None,
        roster: Callable[[], Roster] | None = None,
        admin_password: str = "",
    ) -> None:
        signin = signin or SigninSettings()
        self._accounts = accounts
        self._roster = roster
        self._admin_password = admin_password
        self._seats = {s.id: s for s in seats}
        self._units = units
        self._supervisors = {s.login: s for s in supervisors}
        self._book = book
        self.guard = guard
        self.audit = audit
        self._now = now
        self._idle = signin.idle_minutes * 60.0
        self._lifetime = signin.session_hours * 3600.0
        self._by_token: dict[str, Session] = {}  # sessions this node has served, by token hash
        self._by_seat: dict[str, Session] = {}
        self._touched: dict[str, float] = {}  # token hash -> last_seen as written

    def seat(self, seat_id: str) -> SeatSettings | None:
        return self._roster().seats.get(seat_id) if self._roster is not None else self._seats.get(seat_id)

    def seat_name(self, seat_id: str) -> str:
        seat = self.seat(seat_id)
        return seat.name if seat is not None else ""

    async def _check(
        self, account: str, address: str, password: str, configured: str | None, wrong: str
    ) -> None:
        """The one password check: the guard first (429 while locked out), then the password
        against its configured value or hash, off the loop and as long for unknown accounts."""
        await self.guard.check(account, address)
        given = password if configured else "no such login"
        ok = await asyncio.to_thread(password_matches, given, configured or _nobody())
        if not configured or not ok:
            await self.guard.failed(account, address)
            raise AuthError(401, wrong)
        await self.guard.succeeded(account)

    def _seat_password(self, seat_id: str) -> str | None:
        """config.toml's password (plain or hash) for its seats, the store's hash for the others;
        None for an unknown seat."""
        seat = self.seat(seat_id)
        if seat is None:
            return None
        if seat.password:
            return seat.password
        return self._roster().hashes.get(seat_id, "") if self._roster is not None else ""

    async def login_seat(
        self, seat_id: str, password: str, takeover: bool = False, address: str = ""
    ) -> Session:
        # one answer for unknown seat and wrong password: the form must not reveal seat ids
        configured = self._seat_password(seat_id)
        await self._check(f"seat:{seat_id}", address, password, configured, "座席号或密码错误")
        old = self._by_seat.get(seat_id)
        if old is not None and old.live > 0 and not takeover:
            raise AuthError(409, "该座席已在另一个窗口登录；如需在此接管，请选择“接管”")
        if old is not None:
            self._forget(old, "该座席已在另一个窗口登录，本窗口已退出")
        session = await self._open("seat", seat_id, address=address)  # the store ends the seat's others
        if self._accounts is not None:
            try:  # the seat's other accounts go with its other sessions
                account = await self._accounts.issue(seat_id, token_hash(session.token))
                session.mqtt = account.as_dict()
            except AccountError as exc:
                log.error("seat %s signed in without a broker account: %s", seat_id, exc)
        return session

    async def login_supervisor(self, login: str, password: str, address: str = "") -> tuple[Session, str]:
        """A supervisor's sign-in; their earlier session, on any node, ends (one per person)."""
        account = self._supervisors.get(login)
        configured = account.password if account else None
        await self._check(f"supervisor:{login}", address, password, configured, "班长账号或密码错误")
        assert account is not None
        for record in await self._book.by_login(SUPERVISOR, login):
            local = self._by_token.get(record.token_hash)
            if local is not None:
                self._forget(local, "该班长账号已在别处登录，本窗口已退出")
            self.audit.record(f"supervisor:{login}", "session.replaced", address=address)
        session = await self._open(SUPERVISOR, "", login=login, address=address)
        return session, account.name

    async def login_admin(self, password: str, address: str = "") -> Session:
        await self._check("admin", address, password, self._admin_password or None, "管理员密码错误")
        return await self._open(ADMIN, "", login="admin", address=address)

    async def login_unit(self, login: str, password: str, address: str = "") -> tuple[Session, str]:
        """A unit staff sign-in; returns the session and the staff member's name. Units may sign
        in several times (a unit's office has several desks)."""
        staff = await self._units.staff(login) if self._units is not None else None
        await self.guard.check(f"unit:{login}", address)
        # PBKDF2 takes ~0.1 s: off the loop, and as long for unknown logins as for known ones
        ok = await asyncio.to_thread(check_password, password, staff.password_hash if staff else _nobody())
        if staff is None or not ok:
            await self.guard.failed(f"unit:{login}", address)
            raise AuthError(401, "账号或密码错误")
        await self.guard.succeeded(f"unit:{login}")
        return await self._open(UNIT, "", staff.unit_id, login=login, address=address), staff.name

    async def get(self, token: str | None) -> Session:
        """The session of `token` if the store still has it (on any node's say) and it was used
        within the idle limit; otherwise 401."""
        key = token_hash(token or "")
        record = await self._book.get(key) if token else None
        now = self._now()
        if record is not None and record.created_at < now - self._lifetime:
            who = f"seat:{record.seat_id}" if record.seat_id else f"{record.role}:{record.login}"
            self.audit.record(who, "session.expired")
            await self._end(key, record, "登录已超过最长时限，请重新登录")
            raise AuthError(401, "登录已超过最长时限，请重新登录")
        if record is None or record.last_seen < now - self._idle or record.role not in ROLES:
            local = self._by_token.get(key)
            if local is not None:
                self._forget(local, "登录已失效，请重新登录")
            if record is not None:
                await self._book.delete(key)
                await self._revoke_account(record.seat_id, key)
            raise AuthError(401, "未登录或登录已失效，请重新登录")
        session = self._by_token.get(key)
        if session is None:  # signed in on another node, or before this node restarted
            role = cast(Role, record.role)
            session = Session(
                cast(str, token),
                role,
                record.seat_id,
                record.created_at,
                unit_id=record.unit_id,
                login=record.login,
            )
            self._remember(key, session)
        if now - max(record.last_seen, self._touched.get(key, 0.0)) >= TOUCH_EVERY:
            self._touched[key] = now
            await self._book.touch(key, now)
        return session

    async def _end(self, key: str, record: SessionRecord, why: str) -> None:
        local = self._by_token.get(key)
        if local is not None:
            self._forget(local, why)
        await self._book.delete(key)
        await self._revoke_account(record.seat_id, key)

    def known(self, token: str) -> Session | None:
        """The session of `token` if this node has served it (for audit entries; not a check)."""
        return self._by_token.get(token_hash(token)) if token else None

    async def revoke(self, token: str, why: str = "已退出") -> None:
        key = token_hash(token)
        record = await self._book.get(key)
        await self._book.delete(key)
        session = self._by_token.get(key)
        if session is not None:
            self._forget(session, why)
        seat_id = session.seat_id if session is not None else record.seat_id if record is not None else ""
        await self._revoke_account(seat_id, key)

    async def _revoke_account(self, seat_id: str, key: str) -> None:
        if self._accounts is None or not seat_id:
            return
        try:
            await self._accounts.revoke(seat_id, key)
        except AccountError as exc:  # the sweep tries again later
            log.error("broker account of seat %s not revoked yet: %s", seat_id, exc)

    async def alive(self, key: str) -> bool:
        """Whether the session with this key (token hash) is still signed in, on any node."""
        record = await self._book.get(key)
        return record is not None and record.last_seen >= self._now() - self._idle

    async def sweep_accounts(self) -> int:
        """Delete broker accounts whose session ended unseen (idle expiry, another node's
        sign-out that could not reach the broker); how many went."""
        if self._accounts is None:
            return 0
        return await self._accounts.sweep(self.alive)

    async def _open(
        self, role: Role, seat_id: str, unit_id: str = "", *, login: str = "", address: str = ""
    ) -> Session:
        now = self._now()
        token = secrets.token_urlsafe(24)
        session = Session(token, role, seat_id, now, unit_id=unit_id, login=login, address=address)
        key = token_hash(session.token)
        await self._book.put(SessionRecord(key, role, seat_id, now, now, unit_id, login))
        self._remember(key, session)
        self.audit.record(session.actor, "signin", address=address)
        return session

    def _remember(self, key: str, session: Session) -> None:
        self._by_token[key] = session
        if session.seat_id:
            old = self._by_seat.get(session.seat_id)
            if old is not None and old is not session:
                self._forget(old, "该座席已在另一个窗口登录，本窗口已退出")
            self._by_seat[session.seat_id] = session

    def _forget(self, session: Session, why: str) -> None:
        """This node stops serving `session` and tells its open sockets why."""
        key = token_hash(session.token)
        self._by_token.pop(key, None)
        self._touched.pop(key, None)
        if self._by_seat.get(session.seat_id) is session:
            del self._by_seat[session.seat_id]
        for fn in list(session.on_revoke):
            fn(why)

    def now(self) -> float:
        return self._now()

    def lifetime_left(self, session: Session) -> float:
        return session.created_at + self._lifetime - self._now()

    def require_seat(self, session: Session, seat_id: str) -> None:
        if self.seat(seat_id) is None:
            raise AuthError(404, f"没有座席 {seat_id}")
        if not session.can_see_seat(seat_id):
            raise AuthError(403, "无权访问其他座席")

    def require_unit(self, session: Session, unit_id: str) -> None:
        """Unit staff act for their own unit only; supervisors may read any unit's side."""
        if session.role == UNIT and session.unit_id == unit_id:
            return
        if session.role != SUPERVISOR:
            raise AuthError(403, "无权访问其他单位")

    def require_supervisor(self, session: Session) -> None:
        if session.role != SUPERVISOR:
            raise AuthError(403, "仅班长可以访问")

    def require_admin(self, session: Session) -> None:
        if session.role != ADMIN:
            raise AuthError(403, "仅管理员可以访问")

    def led_teams(self, session: Session) -> list[str]:
        """The ids of the teams a seat's operator leads (班组长)."""
        if session.role != "seat" or self._roster is None:
            return []
        return [t.id for t in self._roster().led_by(session.seat_id)]

    def may_supervise(self, session: Session, seat_id: str) -> bool:
        """Listening in follows the teams: the supervisor on duty to every seat, a team leader
        (signed in at their own seat) to the seats of the teams they lead."""
        if session.role == SUPERVISOR:
            return True
        if session.role != "seat" or self._roster is None:
            return False
        return self._roster().may_supervise(session.seat_id, seat_id)
