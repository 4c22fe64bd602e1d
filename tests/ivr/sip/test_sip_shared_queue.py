"""Two `ivr serve` nodes sharing one queue in PostgreSQL, over real SIP: a seat phone that took
a call on node b takes the next caller on node a. Every part is real and separate: both nodes,
the callers (`ivr call`), the operator's phone (`ivr seat`), mosquitto, the PostgreSQL server;
the operator's console is this test: it signs in on node a and sends its commands over MQTT
with the broker account it was issued (one node takes each command)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
from sip_peers import call, desk, free_port, seat_phone, serve, sign_in, write_config

from ivr.broker import LocalBroker

pytestmark = pytest.mark.sip


PASSWORD = "op-1001-secret"


def node_config(folder: Path, name: str, seat_port: int, broker: LocalBroker, url: str) -> Path:
    folder.mkdir()
    extra = f"""
[queues.general]
announce_every = 0
wrapup_seconds = 1
ring_timeout = 10
[queues.urgent]
wrapup_seconds = 1
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general", "urgent"]
password = "{PASSWORD}"
"""
    cfg = write_config(folder / "config.toml", sip_port=free_port(), extra=extra, broker=broker)
    text = cfg.read_text(encoding="utf-8")
    text = text.replace("[store]\n", f'[store]\nurl = "{url}"\n', 1)
    # each node is its own line on the broker, with its own account and client id
    line = f"hotline-{name}"
    text = text.replace(broker.password_file(broker.lines[0]).name, broker.password_file(line).name)
    text = text.replace(f'"{broker.lines[0]}"', f'"{line}"')
    cfg.write_text(text, encoding="utf-8")
    return cfg


async def seat_ready(console: str) -> None:
    """Sign in and log in (a seat logs in ready). One command only: one node takes each command,
    so two sent at once could be applied out of order; a real console waits for its seat's state
    before the next."""
    account = await asyncio.to_thread(sign_in, console, "1001", PASSWORD)
    async with desk(account) as client:
        await client.subscribe("hotline/v1/seat/1001/state", qos=1)
        messages = aiter(client.messages)
        for action, wanted in (("login", {"ready"}),):
            await client.publish("hotline/v1/seat/1001/command", json.dumps({"action": action}), qos=1)
            while True:
                body = json.loads(bytes((await anext(messages)).payload))  # type: ignore[arg-type]
                assert body["type"] != "seat_error", body  # no command was applied twice
                if body["type"] == "seat_state" and body["state"] in wanted:
                    break


async def test_a_seat_whose_last_call_was_on_node_b_answers_a_caller_on_node_a(
    tmp_path: Path, pg_url: str
) -> None:
    seat_port = free_port()
    async with LocalBroker(lines=("hotline-a", "hotline-b")) as broker:
        cfg_a = node_config(tmp_path / "a", "a", seat_port, broker, pg_url)
        cfg_b = node_config(tmp_path / "b", "b", seat_port, broker, pg_url)
        seat = seat_phone("1001", seat_port, talk=3, max_calls=2)
        try:
            with serve(cfg_a) as node_a, serve(cfg_b) as node_b:
                await asyncio.wait_for(seat_ready(node_a.console), 20)
                script = "wait 2; dtmf 1; wait 12"
                first = await asyncio.to_thread(call, node_b.uri, script, caller="13911112222")
                node_b.wait_log("connected to seat 1001", timeout=20)
                await asyncio.sleep(2)  # the operator hangs up, wrap-up (1 s) ends
                second = await asyncio.to_thread(call, node_a.uri, script, caller="13933334444")
                node_a.wait_log("connected to seat 1001", timeout=20)
                await asyncio.sleep(1)
        finally:
            seat.terminate()
            out, _ = seat.communicate(timeout=20)
    assert first["answered"] and second["answered"], (first, second)
    assert "answered 2 call(s)" in out, out
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT call_id, kind, seat_id FROM queue_events ORDER BY id")
    finally:
        await conn.close()
    connects = [r["call_id"] for r in rows if r["kind"] == "CONNECT"]
    assert len(connects) == 2 and len(set(connects)) == 2, rows
    assert all(r["seat_id"] == "1001" for r in rows if r["kind"] == "CONNECT")
    assert [r["kind"] for r in rows].count("COMPLETEAGENT") == 2, rows
    # the first caller was on node b, the second on node a: each node bridged its own caller
    assert f"call {connects[0]} connected to seat 1001" in node_b.log_text()
    assert f"call {connects[1]} connected to seat 1001" in node_a.log_text()
    terminal = [r["call_id"] for r in rows if r["kind"] in ("COMPLETEAGENT", "COMPLETECALLER", "ABANDON")]
    assert sorted(terminal) == sorted(connects)  # one end per caller, from the events
