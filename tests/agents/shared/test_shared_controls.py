"""The call controls with the shared queue (a centre's cluster): the controls that only touch
the audio work on the call's node and leave the seat's row as it is; the ones that move a caller
between seats answer 501 and change nothing (docs/cluster.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from acd_fakes import seat
from shared_nodes import MakeCentre, until
from test_controls import FakeCallSide, FakeDialer

from agents.controls import SeatControls
from ivr.control import ControlError
from ivr.records import QueueEventKind as K
from ivr.records import SeatState
from ivr.store import Store, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "hotline.db")
    yield s
    await s.close()


async def test_hold_works_and_transfers_are_refused_with_the_seat_left_as_it_was(
    centre: MakeCentre, store: Store
) -> None:
    c = await centre([seat("s1"), seat("s2")])
    b = await c.node("b")
    await b.acd.seat_command("s1", "login")
    b.call("b1")
    await until(lambda: K.CONNECT in b.kinds("b1"), what="b1 connected")
    await until(lambda: b.acd.seats["s1"].state is SeatState.TALKING, what="s1 talking on b's copy")
    sip = FakeCallSide()
    controls = SeatControls(b.acd, store, sip, leader=lambda _seat: "s2", dialer=FakeDialer())
    await controls.act("s1", "hold", {})
    assert ("hold", "b1") in sip.done and K.HOLD in b.kinds("b1")
    for action, data in (("transfer", {"to": "seat:s2"}), ("leave", {}), ("dial", {"number": "120"})):
        with pytest.raises(ControlError) as refused:
            await controls.act("s1", action, data)
        assert refused.value.status == 501, (action, refused.value.message)
    assert [d for d in sip.done if d[0] != "hold"] == []
    assert await c.seat_state("s1") == "talking"
    assert b.acd.call_ended("b1", "caller")
    await until(lambda: K.COMPLETECALLER in b.kinds("b1"))
    assert await c.seat_state("s1") == "ready"
    c.check_events()
