"""Crash recovery (ivr.recovery) on a real SQLite store and real WAV files: WAV headers a killed
recorder left at 0 are made to match the file, open calls are closed as crashed with their queue
entry, and recordings are linked to their tickets once."""

from __future__ import annotations

import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.tickets import ScreenPopper
from ivr.bus import Topics
from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.recovery import recover, repair_wav
from ivr.store import SqliteStore, Store

K = QueueEventKind


def killed_recording(path: Path, seconds: float = 1.0, odd: bool = False) -> Path:
    """A WAV as pjmedia leaves it when killed mid-call: header sizes 0, audio after it."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 0)
    data[40:44] = struct.pack("<I", 0)
    path.write_bytes(bytes(data) + (b"\x01" if odd else b""))
    return path


def test_a_killed_recorders_header_is_repaired(tmp_path: Path) -> None:
    path = killed_recording(tmp_path / "r.wav", 1.5, odd=True)  # a half-written last frame too
    with pytest.raises(wave.Error, match="not a WAVE file"):  # as the crash left it
        wave.open(str(path), "rb")
    assert repair_wav(path) is True
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 12000)
    assert repair_wav(path) is False  # right already: untouched


def test_what_is_not_a_wave_file_is_said(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a riff file at all")
    with pytest.raises(ValueError, match="not a RIFF/WAVE file"):
        repair_wav(junk)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(killed_recording(tmp_path / "whole.wav").read_bytes()[:30])  # fmt chunk cut off
    with pytest.raises(ValueError, match="no data chunk"):
        repair_wav(cut)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await SqliteStore.open(tmp_path / "hotline.db")
    yield s
    await s.close()


async def test_open_calls_are_closed_as_crashed_with_queue_entry_recording_and_link(
    store: Store, tmp_path: Path
) -> None:
    ticket = await store.tickets.create("13800138000", call_id="talking")
    recording = killed_recording(tmp_path / "talking.wav", 2.0)
    talking = CallRecord(
        "talking", "13800138000", 100.0, answered_at=100.0, queue="general", seat_id="1001",
        ticket_id=ticket.id, recording=str(recording), node="line",
    )  # fmt: skip
    waiting = CallRecord("waiting", "13900139000", 105.0, answered_at=105.0, node="line")
    menu = CallRecord("menu", "13700137000", 108.0, answered_at=108.0, node="line")
    other = CallRecord("other", "13600136000", 108.0, answered_at=108.0, node="another-line")
    for row in (talking, waiting, menu, other):
        await store.save_call(row)
    store.seat_event(SeatEvent(102.0, "1001", SeatState.RINGING, SeatState.READY, 1.0, call_id="talking"))
    store.seat_event(SeatEvent(103.0, "1001", SeatState.TALKING, SeatState.RINGING, 1.0, call_id="talking"))
    store.seat_event(SeatEvent(90.0, "1003", SeatState.LOGGED_OUT, SeatState.READY, 5.0))
    for at, call, kind, seat in (
        (101.0, "talking", K.ENTERQUEUE, ""),
        (103.0, "talking", K.CONNECT, "1001"),
        (106.0, "waiting", K.ENTERQUEUE, ""),
        (107.0, "waiting", K.OFFER, "1002"),
    ):
        store.queue_event(QueueEvent(at, call, "general", kind, seat))
    await store.flush()
    popper = ScreenPopper(store, Topics("hotline"))

    done = await recover(store, "line", popper.link_recording, now=200.0)

    assert (done.calls, done.queue_entries, done.recordings, done.linked, done.seats) == (3, 2, 1, 1, 1)
    closed = {e.seat_id: e for e in await store.last_seat_events()}
    assert closed["1001"].state is SeatState.LOGGED_OUT and closed["1001"].previous is SeatState.TALKING
    assert closed["1001"].reason == "line restarted" and closed["1001"].duration >= 0.0
    assert closed["1003"].at == 90.0  # logged out already: left alone
    row = await store.get_call("talking")
    assert row is not None and (row.outcome, row.seat_id, row.ticket_id) == ("crashed", "1001", ticket.id)
    assert row.ended_at is not None and row.ended_at >= 103.0
    with wave.open(str(recording), "rb") as w:
        assert w.getnframes() == 16000
    linked = await store.tickets.get(ticket.id)
    assert linked is not None and linked.context["recordings"] == [str(recording)]
    crashed = (await store.queue_events_of("talking"))[-1]
    assert (crashed.kind, crashed.seat_id, crashed.data["wait"]) == (K.CRASHED, "1001", 2.0)
    assert [e.kind for e in await store.queue_events_of("waiting")][-1] is K.CRASHED
    assert await store.queue_events_of("menu") == []  # never queued: nothing to close there
    assert [c.call_id for c in await store.open_calls("another-line")] == ["other"]  # not ours

    again = await recover(store, "line", popper.link_recording, now=300.0)
    assert (again.calls, again.seats) == (0, 0)
    await popper.link_recording(ticket.id, str(recording), "1001")  # a second link is one link
    relinked = await store.tickets.get(ticket.id)
    assert relinked is not None and relinked.context["recordings"] == [str(recording)]
