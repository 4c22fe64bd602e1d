"""The call controls' queue side against the ACD with a manual clock: seat states through blind
and consulted transfers, three-way calls the operator leaves and outbound calls; refusals change
nothing. The SIP side is a fake at the `CallSide` seam (the SIP tests drive the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest
from acd_fakes import Harness, MakeHarness, seat

from agents.controls import SeatControls
from agents.stats import queue_figures
from ivr.control import ControlError
from ivr.records import OutboundResult
from ivr.records import QueueEventKind as K
from ivr.store import Store, open_store


class FakeCallSide:
    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []
        self.consult_answers = True
        self.target_ended = asyncio.Event()

    def state(self, call_id: str) -> dict[str, object]:
        return {"held": ("hold", call_id) in self.done and ("resume", call_id) not in self.done}

    async def hold(self, call_id: str) -> None:
        self.done.append(("hold", call_id))

    async def resume(self, call_id: str) -> None:
        self.done.append(("resume", call_id))

    async def consult(self, call_id: str, uri: str, headers: Mapping[str, str]) -> asyncio.Event | None:
        self.done.append(("consult", uri))
        return self.target_ended if self.consult_answers else None

    async def back(self, call_id: str) -> None:
        self.done.append(("back", call_id))
        self.target_ended.set()  # the line hangs the consulted phone up

    async def complete(self, call_id: str, seat_id: str, seat_uri: str) -> None:
        self.done.append(("complete", seat_id))

    async def release(self, call_id: str) -> object:
        self.done.append(("release", call_id))
        return None

    async def conference(self, call_id: str, number: str, headers: Mapping[str, str]) -> bool:
        self.done.append(("conference", number))
        return True

    async def hangup_outside(self, call_id: str) -> None:
        self.done.append(("hangup_outside", call_id))

    async def leave(self, call_id: str) -> None:
        self.done.append(("leave", call_id))


class FakeDialer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.on_end: Callable[[], None] | None = None

    async def __call__(
        self, seat_uri: str, number: str, call_id: str, *, on_end: Callable[[], None] | None = None
    ) -> OutboundResult:
        self.calls.append((seat_uri, number))
        self.on_end = on_end
        return OutboundResult("answered")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "hotline.db")
    yield s
    await s.close()


async def rig(
    make: MakeHarness, store: Store, leader: str = "c"
) -> tuple[Harness, SeatControls, FakeCallSide]:
    h = make(
        [seat("a"), seat("b", housing=3), seat("c", queues=()), seat("d", housing=5)],
        wrapup_seconds=5,
    )
    sip = FakeCallSide()
    controls = SeatControls(h.acd, store, sip, leader=lambda _seat: leader, dialer=FakeDialer())
    await h.start("a")
    h.call("c1")
    await h.advance(2)
    assert h.state("a") == "talking"
    return h, controls, sip


async def test_blind_transfer_to_a_seat_rings_it_and_the_first_seat_wraps_up(
    make: MakeHarness, store: Store
) -> None:
    h, controls, sip = await rig(make, store)
    h.acd.seat_command("b", "login")
    view = await controls.act("a", "transfer", {"to": "seat:b", "mode": "blind"})
    assert view["outcome"] == "queued" and ("release", "c1") in sip.done
    assert h.state("a") == "wrap_up"
    await h.advance(2)
    assert h.state("b") == "talking" and h.line.rings[-1] == ("b", "c1")
    assert h.acd.call_ended("c1", "caller")
    result = await h.result("c1")
    assert result.outcome == "completed" and result.seat_id == "b"
    assert h.kinds("c1").count(K.CONNECT) == 2 and K.TRANSFER in h.kinds("c1")
    transfer = next(e for e in h.log.queue if e.kind is K.TRANSFER)
    assert transfer.seat_id == "a" and transfer.data == {"to": "seat:b", "how": "blind", "seats": "b"}
    figures = queue_figures("general", h.log.queue, h.log.seat, h.clock.now(), 20)
    assert (figures.entered, figures.answered, figures.completed) == (1, 1, 1)  # one call, answered once


async def test_blind_transfer_to_a_skill_group_waits_at_the_front_for_that_group(
    make: MakeHarness, store: Store
) -> None:
    h, controls, _ = await rig(make, store)
    h.acd.seat_command("d", "login")
    h.acd.seat_command("d", "not_ready", "break")
    h.call("c2")  # another caller waits for a seat of the queue
    await controls.act("a", "transfer", {"to": "skill:housing", "mode": "blind"})
    await h.advance(6)  # a's wrap-up ends: a is free, yet the transferred caller waits for housing
    assert h.state("a") == "talking" and h.acd.seats["a"].call_id == "c2"
    h.acd.seat_command("d", "ready")
    await h.advance(2)
    assert h.acd.seats["d"].call_id == "c1" and h.state("d") == "talking"


async def test_consult_then_back_then_complete(make: MakeHarness, store: Store) -> None:
    h, controls, sip = await rig(make, store)
    h.acd.seat_command("b", "login")
    view = await controls.act("a", "transfer", {"to": "skill:housing", "mode": "consult"})
    assert view["outcome"] == "consulting" and view["consult_to"] == "b"  # d is not signed in
    assert h.state("b") == "talking"  # busy while consulted: no caller is offered to it
    assert controls.view("b")["consulted_by"] == "a"
    with pytest.raises(ControlError) as refused:
        await controls.act("a", "hold", {})
    assert refused.value.status == 409
    await controls.act("a", "back", {})
    await asyncio.sleep(0)
    assert h.state("b") == "ready" and h.state("a") == "talking"
    sip.target_ended = asyncio.Event()
    await controls.act("a", "transfer", {"to": "seat:b", "mode": "consult"})
    await controls.act("a", "complete", {})
    assert ("complete", "b") in sip.done
    assert h.state("a") == "wrap_up" and h.state("b") == "talking"
    assert h.acd.call_ended("c1", "operator")
    assert h.state("b") == "wrap_up" and (await h.result("c1")).seat_id == "b"
    outcomes = [e.data.get("outcome", "") for e in h.log.queue if e.kind is K.CONSULT]
    assert outcomes == ["", "back", ""]


async def test_consult_nobody_answers_frees_the_target(make: MakeHarness, store: Store) -> None:
    h, controls, sip = await rig(make, store)
    await h.advance(1)
    h.acd.seat_command("c", "login")
    sip.consult_answers = False
    view = await controls.act("a", "transfer", {"to": "leader", "mode": "consult"})
    assert view["outcome"] == "no_answer" and h.state("c") == "ready" and h.state("a") == "talking"


async def test_three_way_the_operator_leaves_and_the_call_goes_on(make: MakeHarness, store: Store) -> None:
    h, controls, sip = await rig(make, store)
    with pytest.raises(ControlError):
        await controls.act("a", "conference", {"number": "12o"})
    view = await controls.act("a", "conference", {"number": "120"})
    assert view["outcome"] == "answered" and ("conference", "120") in sip.done
    await controls.act("a", "leave", {})
    assert h.state("a") == "wrap_up"
    await h.advance(6)
    assert h.state("a") == "ready"  # free for the next caller while the first talks to 120
    assert h.acd.call_ended("c1", "operator")  # 120 hung up
    result = await h.result("c1")
    assert result.outcome == "operator_hangup" and result.seat_id is None


async def test_outbound_call_keeps_the_seat_busy_until_it_ends(make: MakeHarness, store: Store) -> None:
    h, controls, _ = await rig(make, store)
    h.acd.seat_command("b", "login")
    h.acd.seat_command("b", "not_ready", "meeting")
    view = await controls.act("b", "dial", {"number": "010-62345678"})
    assert view["outcome"] == "calling"
    await asyncio.sleep(0.01)
    dialer = controls.outbound.dialer
    assert isinstance(dialer, FakeDialer) and dialer.calls == [("sip:b@127.0.0.1", "01062345678")]
    assert h.state("b") == "talking" and controls.view("b")["outbound"]["state"] == "answered"
    with pytest.raises(ControlError):
        await controls.act("b", "dial", {"number": "120"})  # one call at a time
    assert dialer.on_end is not None
    dialer.on_end()
    assert h.state("b") == "wrap_up" and controls.view("b")["outbound"] is None
    await h.advance(6)
    assert h.state("b") == "not_ready"  # back to the break it was on


@pytest.mark.parametrize(
    ("seat_id", "action", "data", "status"),
    [
        ("a", "jump", {}, 400),
        ("b", "hold", {}, 409),  # no call
        ("a", "transfer", {"to": "seat:a"}, 400),
        ("a", "transfer", {"to": "seat:b"}, 409),  # not signed in
        ("a", "transfer", {"to": "somewhere"}, 400),
        ("a", "transfer", {"to": "skill:plumbing"}, 404),
        ("a", "transfer", {"to": "seat:b", "mode": "later"}, 400),
        ("a", "back", {}, 409),
        ("a", "complete", {}, 409),
        ("a", "leave", {}, 409),
        ("z", "hold", {}, 404),
    ],
)
async def test_refusals_change_nothing(
    make: MakeHarness, store: Store, seat_id: str, action: str, data: dict[str, object], status: int
) -> None:
    h, controls, sip = await rig(make, store, leader="")
    if action == "leave":
        sip.leave = _refuse  # type: ignore[method-assign]
    with pytest.raises(ControlError) as refused:
        await controls.act(seat_id, action, data)
    assert refused.value.status == status, refused.value.message
    assert h.state("a") == "talking" and not [d for d in sip.done if d[0] != "leave"]


async def _refuse(call_id: str) -> None:
    raise ControlError(409, "外线尚未接通")


async def test_no_leader_on_duty_is_refused(make: MakeHarness, store: Store) -> None:
    _, controls, _ = await rig(make, store, leader="")
    with pytest.raises(ControlError) as refused:
        await controls.act("a", "transfer", {"to": "leader"})
    assert refused.value.status == 409 and "值班班长" in refused.value.message


async def test_worklist_follow_up_calls_keep_the_seat_busy_too(make: MakeHarness, store: Store) -> None:
    h, controls, _ = await rig(make, store)
    h.acd.seat_command("b", "login")
    result = await controls.outbound.place("sip:b@127.0.0.1", "13900000002", "followup-7")
    assert result.outcome == "answered" and h.state("b") == "talking"
    assert h.acd.seats["b"].call_id == "followup-7"
    with pytest.raises(ControlError) as refused:  # a's phone is on the queue's caller
        await controls.outbound.place("sip:a@127.0.0.1", "13900000002", "followup-8")
    assert refused.value.status == 409 and h.acd.seats["a"].call_id == "c1"
    dialer = controls.outbound.dialer
    assert isinstance(dialer, FakeDialer) and dialer.on_end is not None
    dialer.on_end()
    assert h.state("b") == "wrap_up"
