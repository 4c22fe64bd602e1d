"""Who is at the console: operator sessions bound to one seat, supervisor sessions.

A token is the only credential the browser keeps (per tab, in sessionStorage). One seat has at
most one session: a second login for a seat whose console is open (live socket connected) is
refused with 409 unless it asks to take over, so two tabs never edit the same calls.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from agents.web.api import ApiError as AuthError
from ivr.config import SeatSettings

Role = Literal["seat", "supervisor"]
SUPERVISOR: Role = "supervisor"


@dataclass
class Session:
    token: str
    role: Role
    seat_id: str  # "" for supervisors
    created_at: float
    live: int = 0  # open live sockets (0 or 1 for a seat)
    on_revoke: list[Callable[[str], None]] = field(default_factory=list)

    def can_see_seat(self, seat_id: str) -> bool:
        return self.role == SUPERVISOR or self.seat_id == seat_id

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "seat_id": self.seat_id}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Sessions:
    def __init__(
        self,
        seats: Iterable[SeatSettings],
        supervisor_password: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._seats = {s.id: s for s in seats}
        self._supervisor_password = supervisor_password
        self._now = now
        self._by_token: dict[str, Session] = {}
        self._by_seat: dict[str, Session] = {}

    def seat_name(self, seat_id: str) -> str:
        seat = self._seats.get(seat_id)
        return seat.name if seat is not None else ""

    def login_seat(self, seat_id: str, password: str, takeover: bool = False) -> Session:
        seat = self._seats.get(seat_id)
        # one answer for unknown seat and wrong password: the form must not reveal seat ids
        if seat is None or not seat.password or not _same(seat.password, password):
            raise AuthError(401, "座席号或密码错误")
        old = self._by_seat.get(seat_id)
        if old is not None and old.live > 0 and not takeover:
            raise AuthError(409, "该座席已在另一个窗口登录；如需在此接管，请选择“接管”")
        if old is not None:
            self.revoke(old.token, "该座席已在另一个窗口登录，本窗口已退出")
        session = Session(secrets.token_urlsafe(24), "seat", seat_id, self._now())
        self._by_token[session.token] = session
        self._by_seat[seat_id] = session
        return session

    def login_supervisor(self, password: str) -> Session:
        if not self._supervisor_password or not _same(self._supervisor_password, password):
            raise AuthError(401, "班长密码错误")
        session = Session(secrets.token_urlsafe(24), SUPERVISOR, "", self._now())
        self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session:
        session = self._by_token.get(token or "")
        if session is None:
            raise AuthError(401, "未登录或登录已失效，请重新登录")
        return session

    def revoke(self, token: str, why: str = "已退出") -> None:
        session = self._by_token.pop(token, None)
        if session is None:
            return
        if self._by_seat.get(session.seat_id) is session:
            del self._by_seat[session.seat_id]
        for fn in list(session.on_revoke):
            fn(why)

    def require_seat(self, session: Session, seat_id: str) -> None:
        if seat_id not in self._seats:
            raise AuthError(404, f"没有座席 {seat_id}")
        if not session.can_see_seat(seat_id):
            raise AuthError(403, "无权访问其他座席")

    def require_supervisor(self, session: Session) -> None:
        if session.role != SUPERVISOR:
            raise AuthError(403, "仅班长可以访问")
