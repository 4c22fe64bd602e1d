"""The admins' pages (管理员): teams (班组) with their leaders, seats with team, shift and skills,
a bulk CSV import; and the roster every other part of the console reads (`current`).

config.toml's seats are shown read-only (ivr.roster.seats says how the two merge). A change
here is written to the store, then the roster is read back and new or changed seats reach this
node's queue at once (a centre's shared queue takes them at its nodes' next start). The roster is
also read again every READ_EVERY seconds, so an `ivr seats import` or another node's admin page
reaches this node's sign-ins (and its single-node queue) within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.acd import Acd
from agents.shared import AnyAcd
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.sessions import Sessions
from ivr.config import QueueSettings, SeatSettings
from ivr.passwords import hash_password
from ivr.records import SHIFTS, SeatRow, Team
from ivr.roster import Roster, apply, check, load, read
from ivr.roster.csvfile import MIN_PASSWORD
from ivr.store import Store, StoreError

log = logging.getLogger(__name__)

MAX_CSV = 4 * 1024 * 1024  # 1,500 seats are ~150 KB
READ_EVERY = 60.0  # seconds; reading 1,500 seats back takes ~40 ms
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class RosterDesk:
    def __init__(
        self,
        store: Store,
        config_seats: Iterable[SeatSettings],
        queues: Mapping[str, QueueSettings],
        acd: AnyAcd | None = None,
    ) -> None:
        self._store = store
        self._config = tuple(config_seats)
        self._queues = queues
        self._acd = acd
        self.current = Roster.of(self._config, (), ())
        self._sessions: Sessions | None = None
        self._lock = asyncio.Lock()  # one admin change at a time: each reads the roster back
        self._reader: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """At start: config.toml's seats copied into the store, then the roster read; from then
        on read again every READ_EVERY seconds until `close`."""
        self.current = await load(self._store, self._config)
        self._to_queue()
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_often(), name="roster")

    async def _read_often(self) -> None:
        while True:
            await asyncio.sleep(READ_EVERY)
            try:
                async with self._lock:
                    await self.reload()
            except Exception:  # a store hiccup: the roster in hand stays, the next round retries
                log.exception("roster not read again")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def reload(self) -> None:
        self.current = await read(self._store, self._config)
        self._to_queue()

    def _to_queue(self) -> None:
        if isinstance(self._acd, Acd):
            for seat in self.current.seats.values():
                if self._acd.seats.get(seat.id) is None or self._acd.seats[seat.id].settings != seat:
                    self._acd.put_seat(seat)

    def routes(self, sessions: Sessions) -> list[Route]:
        self._sessions = sessions
        return [
            Route("/api/admin/roster", endpoint(self.roster)),
            Route("/api/admin/teams/{team_id}", endpoint(self.put_team), methods=["PUT"]),
            Route("/api/admin/teams/{team_id}", endpoint(self.delete_team), methods=["DELETE"]),
            Route("/api/admin/seats/import", endpoint(self.import_csv), methods=["POST"]),
            Route("/api/admin/seats/{seat_id}", endpoint(self.put_seat), methods=["PUT"]),
            Route("/api/admin/seats/{seat_id}", endpoint(self.delete_seat), methods=["DELETE"]),
        ]

    async def _admin(self, request: Request) -> None:
        assert self._sessions is not None
        self._sessions.require_admin(await self._sessions.get(token_of(request)))

    def view(self) -> dict[str, Any]:
        r = self.current
        names = {t.id: t.name for t in r.teams.values()}
        return {
            "teams": [
                {"id": t.id, "name": t.name, "leader": t.leader, "seats": len(r.team_seats(t.id))}
                for t in r.teams.values()
            ],
            "seats": [
                {
                    "id": s.id,
                    "name": s.name,
                    "uri": s.uri,
                    "team": s.team,
                    "team_name": names.get(s.team, ""),
                    "shift": s.shift,
                    "skills": dict(s.skills),
                    "queues": list(s.queues),
                    "wrapup_seconds": s.wrapup_seconds,
                    "source": "config" if s.id in r.config_ids else "store",
                    "has_password": bool(s.password) or s.id in r.hashes,
                }
                for s in r.seats.values()
            ],
            "shifts": list(SHIFTS),
            "queues": sorted(self._queues),
        }

    async def roster(self, request: Request) -> Response:
        await self._admin(request)
        return JSONResponse(self.view())

    async def put_team(self, request: Request) -> Response:
        await self._admin(request)
        team_id = request.path_params["team_id"]
        if not team_id.strip() or len(team_id) > 50:
            raise ApiError(400, "班组编号应为 1-50 个字符")
        data = await read_json(request)
        name = text_field(data, "name", limit=50).strip()
        leader = text_field(data, "leader", required=False, limit=50)
        if leader and leader not in self.current.seats:
            raise ApiError(400, f"没有座席 {leader}，不能设为班长")
        async with self._lock:
            try:
                await self._store.roster.put_team(Team(team_id, name, leader))
            except StoreError as exc:
                raise ApiError(409, f"班组名称“{name}”已被其他班组使用") from exc
            await self.reload()
        log.info("team %s (%s) saved, leader %s", team_id, name, leader or "-")
        return JSONResponse(self.view())

    async def delete_team(self, request: Request) -> Response:
        await self._admin(request)
        team_id = request.path_params["team_id"]
        if team_id not in self.current.teams:
            raise ApiError(404, f"没有班组 {team_id}")
        async with self._lock:
            try:
                await self._store.roster.delete_team(team_id)
            except StoreError as exc:
                raise ApiError(409, "班组中还有座席，请先调整这些座席的班组") from exc
            await self.reload()
        return JSONResponse(self.view())

    async def put_seat(self, request: Request) -> Response:
        await self._admin(request)
        seat_id = request.path_params["seat_id"]
        if not _ID.match(seat_id):
            raise ApiError(400, "座席号只能由字母、数字、点、下划线和减号组成（最多 32 位）")
        if seat_id in self.current.config_ids:
            raise ApiError(409, f"座席 {seat_id} 在 config.toml 中定义，请在配置文件中修改")
        data = await read_json(request)
        row = self._seat_row(seat_id, data)
        password = text_field(data, "password", required=False, limit=200)
        if password and len(password) < MIN_PASSWORD:
            raise ApiError(400, f"密码至少 {MIN_PASSWORD} 位")
        if password:
            hashed = await asyncio.to_thread(hash_password, password)
            row = dataclasses.replace(row, password_hash=hashed)
        async with self._lock:
            try:
                await self._store.roster.put_seats([row], keep_passwords=True)
            except StoreError as exc:
                raise ApiError(400, str(exc)) from exc
            await self.reload()
        log.info("seat %s saved by an admin", seat_id)
        return JSONResponse(self.view())

    def _seat_row(self, seat_id: str, data: dict[str, Any]) -> SeatRow:
        name = text_field(data, "name", limit=50).strip()
        uri = text_field(data, "uri", limit=200).strip()
        if not uri.startswith(("sip:", "sips:")) or "@" not in uri:
            raise ApiError(400, "话机地址应为 SIP URI，例如 sip:1001@10.0.0.21")
        team = text_field(data, "team", required=False, limit=50)
        if team and team not in self.current.teams:
            raise ApiError(400, f"没有班组 {team}")
        shift = text_field(data, "shift", required=False, limit=10)
        if shift not in ("", *SHIFTS):
            raise ApiError(400, f"班次应为 {'、'.join(SHIFTS)} 之一")
        skills = data.get("skills", {})
        if not isinstance(skills, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100
            for k, v in skills.items()
        ):
            raise ApiError(400, "技能应为 {名称: 0-100 的整数等级}")
        queues = data.get("queues", [])
        if not isinstance(queues, list) or not all(isinstance(q, str) and q in self._queues for q in queues):
            raise ApiError(400, f"队列应为以下之一的列表：{', '.join(sorted(self._queues))}")
        wrapup = data.get("wrapup_seconds")
        if wrapup is not None and (
            not isinstance(wrapup, int | float) or isinstance(wrapup, bool) or not 0 <= wrapup <= 3600
        ):
            raise ApiError(400, "话后处理时长应为 0-3600 秒，或留空（按队列设置）")
        return SeatRow(
            seat_id,
            name,
            uri,
            team,
            shift,
            dict(skills),
            tuple(queues),
            "",
            None if wrapup is None else float(wrapup),
        )

    async def delete_seat(self, request: Request) -> Response:
        await self._admin(request)
        seat_id = request.path_params["seat_id"]
        if seat_id in self.current.config_ids:
            raise ApiError(409, f"座席 {seat_id} 在 config.toml 中定义，请在配置文件中删除")
        if seat_id not in self.current.seats:
            raise ApiError(404, f"没有座席 {seat_id}")
        seat = self._acd.seats.get(seat_id) if self._acd is not None else None
        if seat is not None and seat.logged_in:
            raise ApiError(409, f"座席 {seat_id} 正在签入，请先让其签出")
        async with self._lock:
            await self._store.roster.delete_seat(seat_id)
            await self.reload()
        return JSONResponse(self.view())

    async def import_csv(self, request: Request) -> Response:
        """The CSV file as the request body; 422 with every problem (and its line) when any."""
        await self._admin(request)
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_CSV:
                raise ApiError(413, f"文件过大（上限 {MAX_CSV // 1024 // 1024} MB）")
        name = request.query_params.get("name", "seats.csv")[:100]
        async with self._lock:
            teams = await self._store.roster.teams()
            checked = check(
                data, name=name, queues=self._queues, config_ids=self.current.config_ids, teams=teams
            )
            if checked.problems:
                body = {
                    "error": f"{name} 有 {len(checked.problems)} 处问题，未导入任何座席",
                    "status": 422,
                    "problems": checked.problems[:500],
                }
                return JSONResponse(body, status_code=422)
            counts = await apply(self._store.roster, checked, teams)
            await self.reload()
        log.info("seats imported from %s: %s", name, counts)
        made = [t.name for t in checked.new_teams]
        body = {
            **self.view(),
            "imported": counts["seats"],
            "passwords": counts["passwords"],
            "new_teams": made,
        }
        return JSONResponse(body)
