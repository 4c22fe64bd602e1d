"""The audit trail of reads: a ticket read by a person, searches, CSV exports and recording
plays land in it with the person and the address; supervisors read it, nobody else."""

from __future__ import annotations

import time
from pathlib import Path

from web_rig import Rig

from ivr.store import AuditQuery


async def audited(rig: Rig, action: str) -> list[tuple[str, str]]:
    await rig.store.audit.flush()
    return [(e.actor, e.subject) for e in await rig.store.audit.search(AuditQuery(action=action))]


async def test_ticket_reads_exports_and_plays_are_audited(rig: Rig) -> None:
    h = await rig.login("1001")
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=h)
    rig.call("c1", caller="13900000001")
    await rig.until(lambda: rig.acd.seats["1001"].state.value == "talking")
    offer = (await rig.http.get("/api/seats/1001/offer", headers=h)).json()["offer"]
    ticket_id = offer["ticket"]["id"]
    assert (await rig.http.get(f"/api/tickets/{ticket_id}", headers=h)).status_code == 200
    assert (await rig.http.get("/api/tickets?q=路灯", headers=h)).status_code == 200
    assert ("seat:1001", ticket_id) in await audited(rig, "ticket.read")
    searches = await rig.store.audit.search(AuditQuery(action="ticket.search"))
    assert searches[0].actor == "seat:1001" and "q=" in searches[0].detail
    assert (await rig.http.get("/api/tickets?caller=13900000001", headers=h)).status_code == 200
    await rig.store.audit.flush()
    searches = await rig.store.audit.search(AuditQuery(action="ticket.search"))
    assert searches[0].detail == "caller=139****0001"  # the trail never keeps a caller's number

    boss = await rig.supervisor()
    today = time.strftime("%Y-%m-%d")
    r = await rig.http.get(f"/api/reports/operators?from={today}&to={today}&format=csv", headers=boss)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert await audited(rig, "export.csv") == [("supervisor:supervisor", "operators")]
    await rig.http.get(f"/api/reports/operators?from={today}&to={today}", headers=boss)  # JSON: no export
    assert len(await audited(rig, "export.csv")) == 1

    day = Path(rig.settings.resolve(rig.settings.store.recordings)) / today
    day.mkdir(parents=True, exist_ok=True)
    wav = day / f"{ticket_id}-{int(time.time())}.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    listed = (await rig.http.get(f"/api/tickets/{ticket_id}/recordings", headers=boss)).json()
    assert [r["name"] for r in listed["recordings"]] == [wav.name]
    played = await rig.http.get(f"/api/tickets/{ticket_id}/recordings/{wav.name}", headers=boss)
    assert played.status_code == 200 and played.content == wav.read_bytes()
    assert await audited(rig, "recording.play") == [
        ("supervisor:supervisor", f"{ticket_id}/recordings/{wav.name}")
    ]
    r = await rig.http.get(f"/api/tickets/{ticket_id}/recordings/{wav.name}", headers=h)
    assert r.status_code == 403  # operators do not play recordings
    r = await rig.http.get(f"/api/tickets/{ticket_id}/recordings/..%2F..%2Fweb.db", headers=boss)
    assert r.status_code == 404


async def test_the_trail_is_for_supervisors(rig: Rig) -> None:
    h = await rig.login("1001")
    assert (await rig.http.get("/api/audit", headers=h)).status_code == 403
    boss = await rig.supervisor()
    r = await rig.http.get("/api/audit?actor=seat:", headers=boss)
    assert r.status_code == 200
    entries = r.json()["entries"]
    assert [(e["actor"], e["action"]) for e in entries[:2]] == [
        ("seat:1001", "refused"),
        ("seat:1001", "signin"),
    ]
    assert entries[0]["subject"] == "GET /api/audit" and entries[0]["address"] == "127.0.0.1"
    assert (await rig.http.get("/api/audit?from=30-11-2026", headers=boss)).status_code == 400
    assert (await rig.http.get("/api/audit?limit=0", headers=boss)).status_code == 400
    today = time.strftime("%Y-%m-%d")
    r = await rig.http.get(f"/api/audit?from={today}&to={today}&action=signin", headers=boss)
    assert {e["actor"] for e in r.json()["entries"]} == {"seat:1001", "supervisor:supervisor"}
    assert (await rig.http.get("/api/audit")).status_code == 401
