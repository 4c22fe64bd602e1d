"""Calls for quality-check tests: answered calls with tickets, call records, and a recording each
(a real WAV: a 440 Hz tone) in the console's recordings folder, as the seat line leaves them."""

from __future__ import annotations

import math
import struct
import time
import wave
from dataclasses import replace
from pathlib import Path

from web_rig import Rig

from ivr.records import CallRecord

ROOT = Path(__file__).resolve().parents[3]


def with_checklist(rig: Rig) -> None:
    """Before `rig.start()`: the shipped checklist, and every answered call sampled."""
    checklist = str(ROOT / "flows" / "quality" / "checklist.yaml")
    qa = replace(rig.settings.qa, checklist=checklist, share=1.0, settle_minutes=0)
    rig.settings = replace(rig.settings, qa=qa)


def tone(path: Path, seconds: float = 3.0, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames))


async def answered_call(
    rig: Rig, call_id: str, seat: str, *, recording: Path | None = None, **ticket: object
) -> str:
    """A call `seat` answered that ended a minute ago; returns its ticket id."""
    s = rig.settings
    folder = s.resolve(s.store.recordings) / time.strftime("%Y-%m-%d")
    wav = recording or folder / f"{call_id}.wav"
    if recording is None:
        tone(wav)
    ended = time.time() - 60
    context = {
        "flow": "main",
        "path": ["main:greeting", "main:main_menu", "main:route_call"],
        "choices": {"category": "投诉"},
        "transcript": ["ivr: 请直接说出您要反映的问题", "caller (按键): 2"],
        "recordings": [str(wav)],
    }
    t = await rig.store.tickets.create(
        "13800138000", status="open", operator=seat, call_id=call_id, category1="城市管理",
        category2="噪音扰民", description="楼下工地夜间施工噪音", address="朝阳区建国路1号",
        context=context, **ticket,
    )  # fmt: skip
    await rig.store.save_call(
        CallRecord(call_id, "13800138000", ended - 200, answered_at=ended - 200, ended_at=ended, flow="main",
                   path=("greeting", "main_menu", "route_call"), outcome="completed", queue="general",
                   seat_id=seat, ticket_id=t.id)
    )  # fmt: skip
    return t.id
