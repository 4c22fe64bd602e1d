"""What a crashed run of the line left, put right before it answers again.

A SIGKILL (or a power cut) during a bridged call used to leave: no calls row, a QA recording
whose WAV header still said 0 bytes (pjmedia writes the sizes when the recorder closes, so the
file was not a readable WAVE file), the recording not linked to its ticket, and CONNECT without
COMPLETE in the queue events. The line now writes the calls row when it answers (open: no
`ended_at`) and again when an operator takes the call (seat, ticket, recording), so at start
this module finds its own open rows and closes each with the outcome `crashed`: its queue entry
gets a CRASHED event, its recording a header that matches its length, and the ticket the link
to that recording. Rows are found by line (`node`), so a node of a centre closes only its own.
A line with its own queue also closes each seat's last state (the board counts a seat by its
last event, and the restarted queue has every seat logged out).
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ivr.records import QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store import Store

log = logging.getLogger(__name__)

CRASHED = "crashed"
# queue events after which the caller was still in the queue (or talking) when the line died
_OPEN = frozenset(
    {
        QueueEventKind.ENTERQUEUE,
        QueueEventKind.OFFER,
        QueueEventKind.RINGNOANSWER,
        QueueEventKind.RINGCANCELED,
        QueueEventKind.CONNECT,
    }
)
LinkRecording = Callable[[str, str, str], Awaitable[None]]  # ticket id, recording, seat id


@dataclass(frozen=True)
class Recovered:
    calls: int = 0
    queue_entries: int = 0
    recordings: int = 0  # WAV headers rewritten
    linked: int = 0
    seats: int = 0  # seats whose last state (ready, talking ...) was closed: they start logged out


def repair_wav(path: Path) -> bool:
    """Make the RIFF and data chunk sizes match the file (a recorder killed before it closed
    leaves them 0). True when the header was rewritten; False when it was right already.
    Raises ValueError for a file that is not a WAVE file at all."""
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        size = os.fstat(f.fileno()).st_size
        changed = False
        offset, block = 12, 2
        while offset + 8 <= size:
            f.seek(offset)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"fmt ":
                fmt = f.read(min(length, 16))
                if len(fmt) >= 14:
                    block = max(1, struct.unpack("<H", fmt[12:14])[0])
            if chunk == b"data":
                have = size - offset - 8
                have -= have % block  # a half-written last frame is not audio
                if length != have:
                    f.seek(offset + 4)
                    f.write(struct.pack("<I", have))
                    changed = True
                riff = offset + 8 + have - 8
                f.seek(4)
                if struct.unpack("<I", f.read(4))[0] != riff:
                    f.seek(4)
                    f.write(struct.pack("<I", riff))
                    changed = True
                if offset + 8 + have < size:
                    f.truncate(offset + 8 + have)
                    changed = True
                return changed
            offset += 8 + length + (length & 1)
        raise ValueError(f"{path}: no data chunk")


async def recover(
    store: Store, node: str, link: LinkRecording, *, seats: bool = True, now: float | None = None
) -> Recovered:
    """Close what the line `node` left open when it stopped without ending its calls; with
    `seats` (a line whose queue is its own, not a centre's shared one), also each seat's last
    state, since the queue starts every seat logged out."""
    now = time.time() if now is None else now
    calls = entries = repaired = linked = 0
    alive = 0.0  # the line's last sign of life that the store and the recordings show
    for call in await store.open_calls(node):
        events = await store.queue_events_of(call.call_id)
        last_seen = max([call.started_at, *(e.at for e in events)])
        recording = Path(call.recording) if call.recording else None
        if recording is not None:
            try:
                if repair_wav(recording):
                    repaired += 1
                last_seen = max(last_seen, recording.stat().st_mtime)
            except (OSError, ValueError) as exc:
                log.error("call %s: recording %s not repaired: %s", call.call_id, recording, exc)
                recording = None
        last = events[-1] if events else None
        if last is not None and last.kind in _OPEN:
            entries += 1
            entered = next((e.at for e in events if e.kind is QueueEventKind.ENTERQUEUE), call.started_at)
            connect = next((e for e in reversed(events) if e.kind is QueueEventKind.CONNECT), None)
            data: dict[str, float | str] = {
                "wait": round((connect.at if connect else last_seen) - entered, 3)
            }
            if connect is not None:
                data["talk"] = round(max(0.0, last_seen - connect.at), 3)
            store.queue_event(
                QueueEvent(
                    now, call.call_id, last.queue, QueueEventKind.CRASHED, call.seat_id or last.seat_id, data
                )
            )
        if recording is not None and call.ticket_id:
            try:
                await link(call.ticket_id, str(recording), call.seat_id)
                linked += 1
            except Exception as exc:  # the row is closed all the same; the file stays
                log.error("call %s: recording not linked to ticket %s: %s", call.call_id, call.ticket_id, exc)
        alive = max(alive, last_seen)
        await store.save_call(replace(call, ended_at=last_seen, outcome=CRASHED))
        calls += 1
        log.warning(
            "call %s was cut off by a crash: closed (seat %s, ticket %s, recording %s)",
            call.call_id,
            call.seat_id or "-",
            call.ticket_id or "-",
            "kept" if recording is not None else "-",
        )
    closed = 0
    for seat in await store.last_seat_events() if seats else []:
        if seat.state is not SeatState.LOGGED_OUT:
            held = max(0.0, alive - seat.at)  # unknown beyond the last sign of life
            store.seat_event(
                SeatEvent(
                    now, seat.seat_id, SeatState.LOGGED_OUT, seat.state, held, "line restarted", seat.call_id
                )
            )
            closed += 1
    if calls or closed:
        await store.flush()
    if calls:
        log.warning(
            "recovered from a crash: %d calls closed as crashed, %d queue entries, "
            "%d recordings repaired, %d linked to their tickets",
            *(calls, entries, repaired, linked),
        )
    if closed:
        log.info("%d seats' last states closed: every seat starts logged out", closed)
    return Recovered(calls, entries, repaired, linked, closed)
