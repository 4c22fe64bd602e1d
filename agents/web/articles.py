"""The knowledge base as supervisors edit it in the console: add, change and retire articles,
every version kept in the store (`knowledge_versions`). The shipped YAML seeds an empty store
once; from then on the store is the knowledge base.

Operators' search (agents.web.knowledge) reads the live articles: an edit replaces them at once
on this node; other nodes of a centre pick edits up when they start (`reload`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.knowledge import Article, KnowledgeBase
from agents.web.sessions import Sessions
from ivr.records import KnowledgeVersion
from ivr.store import KnowledgeBook, StoreError


def _keywords(data: dict[str, Any]) -> tuple[str, ...]:
    raw = data.get("keywords", [])
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw) or len(raw) > 30:
        raise ApiError(400, "keywords 应为字符串列表（最多 30 个）")
    return tuple(k.strip()[:20] for k in raw if k.strip())


class Articles:
    def __init__(
        self,
        sessions: Sessions,
        book: KnowledgeBook,
        base: KnowledgeBase,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._book = book
        self._base = base  # the operators' search reads base.articles
        self._now = now
        self._lock = asyncio.Lock()  # one edit at a time on this node (version numbers)

    async def reload(self) -> None:
        """Seed an empty store from the shipped articles, then serve the store's live ones."""
        versions = await self._book.versions()
        if not versions:
            now = self._now()
            seed = [
                KnowledgeVersion(a.id, 1, a.title, a.keywords, a.answer, False, "seed", now)
                for a in self._base.articles
            ]
            try:
                await self._book.add(seed)
                versions = seed
            except StoreError:  # another node of the centre seeded the shared store first
                versions = await self._book.versions()
        latest: dict[int, KnowledgeVersion] = {}
        for v in versions:
            latest[v.article] = v
        self._base.articles[:] = [
            Article(v.article, v.title, v.keywords, v.answer) for v in latest.values() if not v.retired
        ]

    def routes(self) -> list[Route]:
        one = "/api/knowledge/articles/{article}"
        return [
            Route("/api/knowledge/articles", endpoint(self.list_articles)),
            Route("/api/knowledge/articles", endpoint(self.add), methods=["POST"]),
            Route(one, endpoint(self.change), methods=["PATCH"]),
            Route(one + "/retire", endpoint(self.retire), methods=["POST"]),
            Route(one + "/history", endpoint(self.history)),
        ]

    async def _supervisor(self, request: Request) -> None:
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))

    async def list_articles(self, request: Request) -> Response:
        """Every article's latest version, retired ones too (marked)."""
        await self._supervisor(request)
        latest: dict[int, KnowledgeVersion] = {}
        for v in await self._book.versions():
            latest[v.article] = v
        return JSONResponse([_view(v) for v in latest.values()])

    async def history(self, request: Request) -> Response:
        await self._supervisor(request)
        article = _number(request)
        found = [_view(v) for v in await self._book.versions() if v.article == article]
        if not found:
            raise ApiError(404, f"没有知识条目 {article}")
        return JSONResponse(found)

    async def add(self, request: Request) -> Response:
        await self._supervisor(request)
        data = await read_json(request)
        title, answer = text_field(data, "title", limit=100), text_field(data, "answer", limit=2000)
        keywords = _keywords(data)
        async with self._lock:
            versions = await self._book.versions()
            number = max((v.article for v in versions), default=0) + 1
            return await self._write(
                KnowledgeVersion(number, 1, title, keywords, answer, False, "supervisor", self._now())
            )

    async def change(self, request: Request) -> Response:
        await self._supervisor(request)
        data = await read_json(request)
        async with self._lock:
            last = await self._latest(_number(request))
            title = text_field(data, "title", limit=100) if "title" in data else last.title
            answer = text_field(data, "answer", limit=2000) if "answer" in data else last.answer
            keywords = _keywords(data) if "keywords" in data else last.keywords
            version = KnowledgeVersion(
                last.article, last.version + 1, title, keywords, answer, False, "supervisor", self._now()
            )
            return await self._write(version)

    async def retire(self, request: Request) -> Response:
        await self._supervisor(request)
        async with self._lock:
            last = await self._latest(_number(request))
            if last.retired:
                raise ApiError(409, "该知识条目已停用")
            v = KnowledgeVersion(
                last.article,
                last.version + 1,
                last.title,
                last.keywords,
                last.answer,
                True,
                "supervisor",
                self._now(),
            )
            return await self._write(v)

    async def _latest(self, article: int) -> KnowledgeVersion:
        found = [v for v in await self._book.versions() if v.article == article]
        if not found:
            raise ApiError(404, f"没有知识条目 {article}")
        return found[-1]

    async def _write(self, version: KnowledgeVersion) -> Response:
        try:
            await self._book.add([version])
        except StoreError as exc:  # another node wrote this version first
            raise ApiError(409, "该知识条目刚被其他班长修改，请刷新后重试") from exc
        await self.reload()
        return JSONResponse(_view(version))


def _number(request: Request) -> int:
    try:
        return int(request.path_params["article"])
    except ValueError as exc:
        raise ApiError(404, "没有该知识条目") from exc


def _view(v: KnowledgeVersion) -> dict[str, Any]:
    return {
        "id": v.article,
        "version": v.version,
        "title": v.title,
        "keywords": list(v.keywords),
        "answer": v.answer,
        "retired": v.retired,
        "actor": v.actor,
        "at": v.at,
    }
