"""The centre on the supervisor board: every node's figures over one real broker, and the other
nodes' calls counted from a shared PostgreSQL store (two consoles, one database)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect
from web_rig import SUPERVISOR, Rig

from agents.web.centre import DOWN_AFTER, STALE_AFTER, NodeFigures
from ivr.broker import LocalBroker
from ivr.bus import Bus
from ivr.config import MqttSettings
from ivr.store import SqliteStore

NODES = ("node1", "node2", "node3")
FAST = {"retry_min": 0.05, "retry_max": 0.3, "keepalive": 5}


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalBroker]:
    b = LocalBroker(data_dir=tmp_path / "mosquitto", lines=NODES)
    await b.start()
    yield b
    await b.close()


class Clock:
    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


async def _node(
    broker: LocalBroker, tmp: Path, name: str, calls: dict[str, int], clock: Clock
) -> NodeFigures:
    store = await SqliteStore.open(tmp / f"{name}.db")
    settings = MqttSettings(host="127.0.0.1", port=broker.port, client_id=name, **FAST)
    bus = Bus(settings, store, account=(name, broker.password(name)))
    figures = NodeFigures(bus, name, lambda: dict(calls), every=0.2, now=clock)
    figures.attach()
    await bus.start()
    await bus.wait_connected(10)
    figures.start()
    return figures


async def _until(predicate: object, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_every_node_sees_every_node_and_a_silent_one_goes_stale_then_down(
    broker: LocalBroker, tmp_path: Path
) -> None:
    clock = Clock()
    one, two, three = {"calls_now": 3, "calls_handled": 10}, {"calls_now": 1, "calls_handled": 4}, {}
    a = await _node(broker, tmp_path, "node1", one, clock)
    b = await _node(broker, tmp_path, "node2", two, clock)
    c = await _node(broker, tmp_path, "node3", three, Clock())
    try:
        await _until(lambda: len(a.nodes()) == 3 and len(b.nodes()) == 3)
        rows = {n["node"]: n for n in b.nodes()}
        assert rows["node1"]["calls_now"] == 3 and rows["node1"]["calls_handled"] == 10
        assert rows["node2"]["this"] and not rows["node1"]["this"]
        assert {n["state"] for n in rows.values()} == {"up"}
        await a.stop()  # a clean stop says so
        await _until(lambda: {n["node"]: n["state"] for n in b.nodes()}["node1"] == "stopped")
        assert {n["node"]: n for n in b.nodes()}["node1"]["calls_now"] == 0
        assert c._task is not None
        c._task.cancel()  # node3 dies: its figures simply stop
        await asyncio.sleep(0.3)
        clock.skew = STALE_AFTER + 1
        assert {n["node"]: n["state"] for n in b.nodes()}["node3"] == "stale"
        clock.skew = DOWN_AFTER + 1
        states = {n["node"]: n["state"] for n in b.nodes()}
        assert states["node3"] == "down" and states["node1"] == "stopped"
    finally:
        await b.stop()
        for f in (a, b, c):
            await f.bus.stop()
            await f.bus._store.close()  # type: ignore[attr-defined]


async def test_the_board_of_one_node_counts_the_calls_of_another(pg_url: str, tmp_path: Path) -> None:
    a, b = Rig(tmp_path / "a", pg_url), Rig(tmp_path / "b", pg_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    await a.start()
    await b.start()
    try:
        b.acd.seat_command("1001", "login")
        b.acd.seat_command("1001", "ready")
        b.call("c-b1")
        b.call("c-b2")
        await b.until(lambda: b.acd.status("general").waiting == 1)
        await b.until(lambda: b.acd.seats["1001"].state.value == "talking")
        await b.store.flush()
        await a.server.board.catch_up()
        await a.server.board.catch_up()  # a second look adds nothing twice
        headers = await a.supervisor()
        board = (await a.http.get("/api/board", headers=headers)).json()
        general = next(q for q in board["queues"] if q["queue"] == "general")
        assert general["entered"] == 2 and general["answered"] == 1
        assert board["centre"]["entered"] == 2 and board["centre"]["answered"] == 1
        assert board["nodes"] == []  # no broker figures on this rig
        assert (await a.http.get("/api/board")).status_code == 401
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.browser
async def test_the_supervisor_page_shows_the_centre_and_each_node(
    broker: LocalBroker, pg_url: str, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    a = Rig(tmp_path / "a", pg_url)
    await a.start()
    clock = Clock()
    mine = await _node(broker, tmp_path, "node1", {"calls_now": 2, "calls_handled": 7}, clock)
    other = await _node(broker, tmp_path, "node2", {"calls_now": 5, "calls_handled": 9}, clock)
    a.server.board.nodes = mine.nodes
    try:
        a.acd.seat_command("1001", "login")
        a.call("c-a1")
        await _until(lambda: len(mine.nodes()) == 2)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            try:
                sup = await (await browser.new_context(locale="zh-CN")).new_page()
                await sup.goto(a.server.url)
                await sup.click("#tab-sup")
                await sup.fill("#password", SUPERVISOR)
                await sup.click("#submit")
                await sup.wait_for_url("**/board.html")
                await expect(sup.locator('tr[data-node="node1"]')).to_contain_text("node1（本机）运行27")
                await expect(sup.locator('tr[data-node="node2"] [data-field="calls_now"]')).to_have_text("5")
                await expect(sup.locator("#centre")).to_contain_text("今日进线 1 / 接通 1 / 放弃 0")
                await expect(sup.locator("#centre")).to_contain_text("当前通话 7 · 运行节点 2 / 2")
                await other.stop()
                await expect(sup.locator('tr[data-node="node2"] [data-field="state"]')).to_have_text(
                    "已停止", timeout=15000
                )
                await expect(sup.locator("#centre")).to_contain_text("运行节点 1 / 2")
            finally:
                await browser.close()
    finally:
        await mine.stop()
        for f in (mine, other):
            await f.bus.stop()
            await f.bus._store.close()  # type: ignore[attr-defined]
        await a.stop()


async def test_two_nodes_starting_at_once_on_a_fresh_store_both_serve_the_seeded_articles(
    pg_url: str,
) -> None:
    from typing import cast

    from agents.web.articles import Articles
    from agents.web.knowledge import KnowledgeBase
    from agents.web.sessions import Sessions
    from ivr.store import open_store

    stores = [await open_store(pg_url) for _ in range(2)]
    bases = [KnowledgeBase.load() for _ in stores]
    try:
        shipped = len(bases[0].articles)
        nodes = [Articles(cast(Sessions, None), s.knowledge, b) for s, b in zip(stores, bases, strict=True)]
        await asyncio.gather(*(n.reload() for n in nodes))  # one seeds, the other reads its seed
        assert [len(b.articles) for b in bases] == [shipped, shipped]
        assert len(await stores[0].knowledge.versions()) == shipped
    finally:
        for s in stores:
            await s.close()
