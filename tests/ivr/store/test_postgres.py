"""What only the shared store must guarantee: several nodes on one PostgreSQL database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from ivr.config import ConfigError, parse
from ivr.ports import free_port
from ivr.records import QueueEvent, QueueEventKind
from ivr.store import Outgoing, Store, StoreError, check_store_url, open_store, redact_store_url
from ivr.store.pgschema import MIGRATIONS


async def _nodes(url: str, n: int = 2) -> list[Store]:
    return list(await asyncio.gather(*(open_store(url) for _ in range(n))))


async def test_nodes_creating_tickets_at_once_never_share_an_id(pg_url: str) -> None:
    a, b = await _nodes(url=pg_url)  # both migrate at once: the advisory lock lets one do it
    try:
        made = await asyncio.gather(
            *(node.tickets.create(f"1390000{i:04d}") for i in range(60) for node in (a, b))
        )
        ids = [t.id for t in made]
        assert len(set(ids)) == 120
        assert sorted(int(i[8:]) for i in ids) == list(range(1, 121))  # one daily sequence, no gaps
        assert {i[:8] for i in ids} == {ids[0][:8]}
        for t in made[::17]:
            assert await b.tickets.get(t.id) == t  # each node reads what the other wrote
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_nodes_editing_one_ticket_lose_no_change(pg_url: str) -> None:
    a, b = await _nodes(pg_url)
    try:
        t = await a.tickets.create("1")
        await asyncio.gather(
            *(
                node.tickets.update(t.id, {"description": f"v{i}.{k}"}, actor=f"node{k}")
                for i in range(10)
                for k, node in enumerate((a, b))
            )
        )
        hist = await b.tickets.history(t.id)
        assert len(hist) == 21
        olds = [h.changes["description"][0] for h in hist[1:]]
        news = [h.changes["description"][1] for h in hist[1:]]
        assert olds[1:] == news[:-1]  # every change saw the one before it, whichever node made it
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_an_outbox_written_by_one_node_wakes_and_is_delivered_in_order_by_another(pg_url: str) -> None:
    writer, sender = await _nodes(pg_url)
    try:
        woken = asyncio.Event()
        sender.outbox_listeners.append(woken.set)
        t = await writer.tickets.create("1", also=lambda tk: [Outgoing(f"pop/{tk.id}", b"0")])
        await asyncio.wait_for(woken.wait(), 5)  # LISTEN/NOTIFY, no polling
        for i in range(1, 40):
            await writer.outbox_put(f"t/{i % 3}", str(i).encode())
        await writer.outbox_put_many([Outgoing("t/many", b"40"), Outgoing("t/many", b"41")])
        pending = await sender.outbox_pending(limit=100)
        assert [i.payload for i in pending] == [str(i).encode() for i in range(42)]
        assert pending[0].topic == f"pop/{t.id}"
        assert [i.id for i in pending] == sorted(i.id for i in pending)
        await sender.outbox_delivered([i.id for i in pending[:10]])
        assert await writer.outbox_pending() == []  # one sender at a time: no message goes out twice
        woken.clear()
        writer.outbox_listeners.append(woken.set)
        await sender.close()  # the sender stops: the other node is told and takes over
        await asyncio.wait_for(woken.wait(), 5)
        assert [i.payload for i in await writer.outbox_pending()] == [str(i).encode() for i in range(10, 42)]
    finally:
        await asyncio.gather(writer.close(), sender.close())


async def test_events_written_fire_and_forget_are_all_there_after_close(pg_url: str) -> None:
    s = await open_store(pg_url, batch_max=7)
    for i in range(100):
        s.queue_event(QueueEvent(float(i), f"c{i}", "general", QueueEventKind.ENTERQUEUE))
    await s.close()
    s = await open_store(pg_url)
    try:
        assert [e.call_id for e in await s.queue_events()] == [f"c{i}" for i in range(100)]
        assert [e.call_id for e in await s.queue_events(since=98.0, queue="general")] == ["c98", "c99"]
    finally:
        await s.close()


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO schema_version VALUES ($1)", len(MIGRATIONS) + 1)
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        await open_store(pg_url)


async def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql://hotline:s3cret@127.0.0.1:{free_port()}/hotline"
    with pytest.raises(StoreError, match="not reachable") as caught:
        await open_store(url)
    assert "s3cret" not in str(caught.value) and "hotline:***@127.0.0.1" in str(caught.value)


def test_malformed_store_urls_are_refused(tmp_path: Path) -> None:
    for bad, why in [
        ("mysql://u@h/db", "postgresql://"),
        ("postgresql:///db", "no host"),
        ("postgresql://u:p@h:5432/", "no database"),
        ("postgresql://u:p@h:notaport/db", "port"),
    ]:
        with pytest.raises(StoreError, match=why):
            check_store_url(bad)
    check_store_url("postgresql://u:p@h:5432/db")
    check_store_url("postgresql://u@/db?host=/run/hotline")  # a unix socket
    assert redact_store_url("postgresql://u:p@h:5432/db") == "postgresql://u:***@h:5432/db"
    with pytest.raises(ConfigError, match=r"\[store\] url"):
        parse({"store": {"url": "postgres://nohost"}}, tmp_path / "config.toml")
    assert parse({"store": {"url": "postgresql://u@h/db"}}, tmp_path / "c.toml").store.url


async def test_nodes_listen_again_after_the_server_drops_their_connections(pg_url: str) -> None:
    writer, sender = await _nodes(pg_url)
    try:
        conn = await asyncpg.connect(pg_url)
        try:  # what a server restart or a network cut does to every other connection
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        assert killed >= 4  # each node's pool connection and listening connection
        woken = asyncio.Event()
        sender.outbox_listeners.append(woken.set)
        await asyncio.sleep(1.0)  # the nodes notice and reconnect
        woken.clear()
        await writer.outbox_put("t/after", b"1")  # the pool replaces its dead connection
        await asyncio.wait_for(woken.wait(), 10)
        assert [i.topic for i in await sender.outbox_pending()] == ["t/after"]
    finally:
        await asyncio.gather(writer.close(), sender.close())
