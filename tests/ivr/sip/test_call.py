"""The call handle, the event routing with its early-event buffer, and the one `first` helper."""

from __future__ import annotations

import asyncio
import gc

from sip_fakes import FakeEngine, settle

from ivr.race import discard, first
from ivr.sip.call import Call, Calls
from ivr.sip.events import CallState, Digit, IncomingCall, MediaReady, Registration


def test_events_before_the_dial_returns_reach_its_handle() -> None:
    calls = Calls()
    calls.dispatch(CallState("abc@host", "CALLING", 0, ""))
    calls.dispatch(CallState("abc@host", "EARLY", 180, "Ringing"))
    call = calls.claim(Call("abc@host"))
    assert call.ringing.is_set() and not call.answered.is_set()
    assert (call.status, call.reason) == (180, "Ringing")
    calls.dispatch(CallState("abc@host", "CONFIRMED", 200, "OK"))
    calls.dispatch(MediaReady("abc@host"))
    assert call.answered.is_set() and call.media_ready.is_set()


def test_an_ended_call_leaves_the_table() -> None:
    calls = Calls()
    call = calls.claim(Call("x"))
    calls.dispatch(CallState("x", "DISCONNECTED", 486, "Busy Here"))
    assert call.ended.is_set() and call.status == 486 and len(calls) == 0


def test_incoming_call_gets_a_handle_with_its_details_and_keys() -> None:
    got: list[Call] = []
    regs: list[Registration] = []
    calls = Calls(got.append, regs.append)
    calls.dispatch(CallState("in@host", "CONNECTING", 200, "OK"))  # the answer's state beats the event
    calls.dispatch(IncomingCall("in@host", "13800138000", "12345", "127.0.0.1:5060"))
    calls.dispatch(Digit("in@host", "5", "rfc2833"))
    calls.dispatch(Registration(200, "OK", 300))
    [call] = got
    assert (call.id, call.caller, call.dialled, call.source) == (
        "in@host",
        "13800138000",
        "12345",
        "127.0.0.1:5060",
    )
    assert call.status == 200 and call.key.is_set() and call.digits.get_nowait() == "5"
    assert regs == [Registration(200, "OK", 300)]


async def test_wait_answer_true_on_answer_false_on_hangup_or_timeout() -> None:
    engine = FakeEngine()
    engine.on_dial = lambda call: engine.pick_up(call.id)
    answered = await engine.dial("sip:1001@127.0.0.1")
    assert await answered.wait_answer(1)

    engine.on_dial = lambda call: engine.hang_up(call.id, 486)
    busy = await engine.dial("sip:1002@127.0.0.1")
    assert not await busy.wait_answer(1) and busy.status == 486

    engine.on_dial = lambda call: None
    silent = await engine.dial("sip:1003@127.0.0.1")
    assert not await silent.wait_answer(0.05)
    await settle()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_first_returns_the_winner_and_cancels_the_rest() -> None:
    slow = asyncio.ensure_future(asyncio.sleep(10))
    fast = asyncio.ensure_future(asyncio.sleep(0, "done"))
    assert await first(slow, fast) is fast and fast.result() == "done"
    assert slow.cancelled()
    assert await first(asyncio.sleep(10), timeout=0.01) is None


async def test_first_prefers_argument_order_and_reads_a_second_error() -> None:
    async def boom() -> None:
        raise ValueError("late")

    a = asyncio.ensure_future(asyncio.sleep(0, "a"))
    b = asyncio.ensure_future(boom())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert a.done() and b.done()
    assert await first(a, b) is a  # b's error is read: no "exception never retrieved"


async def test_discard_closes_a_coroutine_that_never_ran() -> None:
    discard(asyncio.sleep(1))  # no "coroutine was never awaited" (warnings are errors here)
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    discard(fut)
    assert fut.cancelled()
    gc.collect()
