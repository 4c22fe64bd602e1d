"""The sign-in guard: lockout with back-off per account and per address, for seats,
supervisors and unit staff alike.

Failures are counted in the store (every node sees them, a restart forgets nothing). After
`account_failures` wrong passwords for one account, or `address_failures` from one address,
sign-in there is refused with 429 and Retry-After for `lockout_seconds`; every further failure
after a lockout ends doubles it, up to `lockout_max_seconds`. While locked, the password is not
even checked, so guessing gains nothing. A count is forgotten after `failure_window_minutes`
plus the longest lockout without failures; a successful sign-in clears its account's count
(not the address's: one good password must not buy an address more guesses). Each failure and
each lockout is logged and audited."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from agents.web.api import ApiError
from ivr.audit import AuditTrail
from ivr.policy import SigninSettings
from ivr.store import FailureCount, SigninBook

log = logging.getLogger(__name__)


class SigninGuard:
    def __init__(
        self, book: SigninBook, settings: SigninSettings, audit: AuditTrail, now: Callable[[], float]
    ) -> None:
        self._book = book
        self._s = settings
        self._audit = audit
        self._now = now

    def _lock(self, count: FailureCount | None, threshold: int) -> float:
        """Seconds left of the lockout `count` earns (0: not locked)."""
        if count is None or count.failures < threshold:
            return 0.0
        doubling = min(count.failures - threshold, 30)
        length = min(self._s.lockout_seconds * float(2**doubling), self._s.lockout_max_seconds)
        return max(0.0, count.last_failure + length - self._now())

    async def check(self, account: str, address: str) -> None:
        """429 while the account or the address is locked out."""
        left = max(
            self._lock(await self._book.get(f"account:{account}"), self._s.account_failures),
            self._lock(await self._book.get(f"address:{address}"), self._s.address_failures),
        )
        if left > 0:
            self._audit.record(account, "signin.locked", address=address, detail=f"{math.ceil(left)} s left")
            raise ApiError(
                429,
                f"登录失败次数过多，请 {math.ceil(left)} 秒后再试",
                headers={"Retry-After": str(math.ceil(left))},
            )

    async def failed(self, account: str, address: str) -> None:
        now = self._now()
        stale = now - self._s.failure_window_minutes * 60 - self._s.lockout_max_seconds
        by_account = await self._book.fail(f"account:{account}", now, stale)
        by_address = await self._book.fail(f"address:{address}", now, stale)
        log.warning(
            "sign-in failed for %s from %s (%d for the account, %d from the address)",
            account,
            address,
            by_account.failures,
            by_address.failures,
        )
        self._audit.record(account, "signin.failed", address=address, detail=f"{by_account.failures}")
        for count, threshold, what in (
            (by_account, self._s.account_failures, "account"),
            (by_address, self._s.address_failures, "address"),
        ):
            left = self._lock(count, threshold)
            if left > 0:
                log.warning("sign-in locked out: %s %s for %.0f s", what, count.key, left)
                self._audit.record(
                    account, "signin.lockout", subject=count.key, address=address, detail=f"{left:.0f} s"
                )

    async def succeeded(self, account: str) -> None:
        await self._book.clear(f"account:{account}")

    async def prune(self) -> None:
        forget = self._s.failure_window_minutes * 60 + self._s.lockout_max_seconds
        await self._book.prune(self._now() - forget)
