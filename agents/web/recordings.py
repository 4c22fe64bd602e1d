"""Call recordings of a ticket for quality review (质检): `GET /api/tickets/{id}/recordings`
lists them, `GET /api/tickets/{id}/recordings/{name}` plays one. Supervisors only; every play
is in the audit trail (agents/web/audit.py). Recordings are the seat line's WAV files
(`<day>/<ticket id>-<time>.wav` under [store] recordings), kept as long as
`recording_retention_days` says."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from agents.web.api import ApiError, endpoint, token_of
from agents.web.sessions import Sessions

_NAME = re.compile(r"^[A-Za-z0-9_.-]+-\d+\.wav$")


class RecordingDesk:
    def __init__(self, sessions: Sessions, folder: Path) -> None:
        self._sessions = sessions
        self._folder = folder

    def routes(self) -> list[Route]:
        one = "/api/tickets/{ticket_id}/recordings"
        return [Route(one, endpoint(self.list)), Route(one + "/{name}", endpoint(self.play))]

    def _of(self, ticket_id: str) -> list[Path]:
        stem = ticket_id.replace("/", "_")
        if not self._folder.is_dir():
            return []
        return sorted(p for p in self._folder.glob(f"*/{stem}-*.wav") if _NAME.match(p.name))

    async def list(self, request: Request) -> Response:
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))
        found = self._of(request.path_params["ticket_id"])
        return JSONResponse(
            {"recordings": [{"name": p.name, "bytes": p.stat().st_size, "day": p.parent.name} for p in found]}
        )

    async def play(self, request: Request) -> Response:
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))
        name = request.path_params["name"]
        for path in self._of(request.path_params["ticket_id"]):
            if path.name == name:
                return FileResponse(path, media_type="audio/wav")
        raise ApiError(404, f"没有录音 {name}")
