"""The shared queue across nodes: two SharedAcd instances ("a" and "b") on one real PostgreSQL
database, fake seat lines at the seam."""

from __future__ import annotations

from acd_fakes import seat
from shared_nodes import MakeCentre, until

from ivr.records import QueueEventKind as K


async def test_caller_on_node_a_is_answered_by_a_seat_whose_last_call_was_on_node_b(
    centre: MakeCentre,
) -> None:
    c = await centre([seat("s1")])
    a, b = await c.node("a"), await c.node("b")
    await b.acd.seat_command("s1", "login")
    b.call("b1")
    await until(lambda: K.CONNECT in b.kinds("b1"), what="b1 connected on b")
    assert b.acd.call_ended("b1", "operator")
    assert (await b.result("b1")).outcome == "operator_hangup"
    a.call("a1")
    await until(lambda: K.CONNECT in a.kinds("a1"), what="a1 connected on a")
    assert b.line.rings == [("s1", "b1")]
    assert a.line.rings == [("s1", "a1")]  # node a rang the seat for its own caller
    assert await c.seat_state("s1") == "talking"
    assert a.acd.call_ended("a1", "caller")
    assert (await a.result("a1")).outcome == "completed"
    await until(lambda: K.COMPLETECALLER in a.kinds("a1"))
    assert await c.seat_state("s1") == "ready"
    c.check_events()


async def test_priority_and_arrival_order_hold_across_nodes_and_positions_count_both(
    centre: MakeCentre,
) -> None:
    c = await centre([seat("s1")])
    a, b = await c.node("a"), await c.node("b")
    a.call("a1")
    await a.joined("a1")
    b.call("b1")
    await b.joined("b1")
    a.call("a2", priority=5)
    await a.joined("a2")
    b.call("b2")
    await b.joined("b2")
    assert [await a.acd.position(x) for x in ("a2", "a1")] == [1, 2]
    assert [await b.acd.position(x) for x in ("b1", "b2")] == [3, 4]
    status = await a.acd.fresh_status("general")
    assert (status.waiting, status.logged_in) == (4, 0)
    await until(lambda: b.acd.status("general").waiting == 4, what="b's copy counts a's callers")
    assert b.acd.status("general").longest_wait >= 0.0
    enter = [e for e in c.queue_events() if e.kind is K.ENTERQUEUE]
    assert {e.call_id: e.data["position"] for e in enter} == {"a1": 1, "b1": 2, "a2": 1, "b2": 4}
    assert [e.call_id for e in await b.acd.waiting()] == ["a2", "a1", "b1", "b2"]
    await a.acd.seat_command("s1", "login")
    served: list[str] = []
    for _ in range(4):
        await until(lambda: len(c.rings()) > len(served), what="next offer")
        call_id = c.rings()[-1][1]
        node = a if call_id.startswith("a") else b
        await until(lambda n=node, cid=call_id: K.CONNECT in n.kinds(cid), what=f"{call_id} connected")
        served.append(call_id)
        assert node.acd.call_ended(call_id, "operator")
        await node.result(call_id)
    assert served == ["a2", "a1", "b1", "b2"]
    c.check_events()


async def test_unanswered_caller_goes_back_to_the_front_of_the_shared_queue(centre: MakeCentre) -> None:
    c = await centre([seat("s1"), seat("s2")], max_no_answer=1)
    a, b = await c.node("a"), await c.node("b")
    a.line.script = {"s1": ["manual"]}
    await a.acd.seat_command("s1", "login")
    a.call("first")
    await until(lambda: "s1" in a.line.pending, what="s1 rings for first")
    b.call("second")
    await b.joined("second")
    a.line.resolve("s1", "no_answer")
    await until(lambda: K.RINGNOANSWER in a.kinds("first"))
    await until(lambda: a.acd._entries["first"].state.value == "waiting", what="first waiting again")
    assert await c.seat_state("s1") == "not_ready"  # one miss is max_no_answer here
    assert [e.call_id for e in await a.acd.waiting()] == ["first", "second"]
    assert await a.acd.position("first") == 1
    await b.acd.seat_command("s2", "login")
    await until(lambda: K.CONNECT in a.kinds("first"), what="first connected to s2")
    assert a.line.rings == [("s1", "first"), ("s2", "first")]
    assert b.line.rings == []
    c.check_events()


async def test_wrapup_holds_the_next_caller_of_another_node(centre: MakeCentre) -> None:
    c = await centre([seat("s1")], wrapup_seconds=20)
    a, b = await c.node("a"), await c.node("b")
    await a.acd.seat_command("s1", "login")
    a.call("a1")
    await until(lambda: K.CONNECT in a.kinds("a1"))
    a.acd.call_ended("a1", "operator")
    await a.result("a1")
    await until(lambda: any(e.state.value == "wrap_up" for e in a.log.seat))
    b.call("b1")
    await b.joined("b1")
    await c.clock.advance(19)
    assert await c.seat_state("s1") == "wrap_up"
    assert b.line.rings == []
    await c.clock.advance(1)
    await until(lambda: K.CONNECT in b.kinds("b1"), what="b1 connected after wrap-up")
    wrapups = [e for e in c.seat_events() if e.previous.value == "wrap_up"]
    assert [(e.duration, e.call_id) for e in wrapups] == [(20.0, "a1")]


async def test_callback_keeps_the_place_ahead_of_later_callers_on_other_nodes(centre: MakeCentre) -> None:
    c = await centre([seat("s1")])
    a, b = await c.node("a"), await c.node("b")
    a.call("a1")
    await a.joined("a1")
    assert a.acd.request_callback("a1")
    assert (await a.result("a1")).outcome == "callback"
    await until(lambda: K.CALLBACK in a.kinds("a1"))
    b.call("b1")
    await b.joined("b1")
    await b.acd.seat_command("s1", "login")
    await until(lambda: bool(a.line.offers), what="the callback offered first")
    assert a.line.offers[0].callback and a.line.offers[0].call_id == "a1"
    assert b.line.rings == []


async def test_queue_limit_counts_callers_of_every_node(centre: MakeCentre) -> None:
    c = await centre([seat("s1")], max_length=2)
    a, b = await c.node("a"), await c.node("b")
    a.call("a1")
    await a.joined("a1")
    b.call("b1")
    await b.joined("b1")
    a.call("a2")
    assert (await a.result("a2")).outcome == "full"
    assert a.kinds("a2") == [K.FULL]


async def test_a_seat_command_on_any_node_is_seen_by_all(centre: MakeCentre) -> None:
    c = await centre([seat("s1")])
    a, b = await c.node("a"), await c.node("b")
    await a.acd.seat_command("s1", "login")
    await b.acd.seat_command("s1", "not_ready", "break")
    s = await a.acd.seat("s1")
    assert (s.state.value, s.reason) == ("not_ready", "break")
    assert (await b.acd.fresh_status("general")).ready == 0
    await until(lambda: a.acd.status("general").logged_in == 1 and a.acd.status("general").ready == 0)


async def test_announcements_count_the_callers_ahead_on_every_node(centre: MakeCentre) -> None:
    c = await centre([seat("s1")], announce_every=30, default_handle_seconds=120)
    a, b = await c.node("a"), await c.node("b")
    b.call("b1")
    await b.joined("b1")
    b.call("b2")
    await b.joined("b2")
    a.call("a1")
    await a.joined("a1")
    await c.clock.advance(30)
    await until(lambda: bool(a.callers["a1"].said()), what="a1 hears an announcement")
    assert a.callers["a1"].said()[0].startswith("您前面还有2位来电在等待")
    await until(lambda: bool(b.callers["b1"].said()))
    assert b.callers["b1"].said()[0].startswith("您是下一位")


async def test_max_wait_and_skill_widening_work_on_shared_rows(centre: MakeCentre) -> None:
    c = await centre([seat("junior", level=1)], max_wait=100, skill_widen_after=(30,), skills={})
    a, b = await c.node("a"), await c.node("b")
    await b.acd.seat_command("junior", "login")
    a.call("expert-needed", level=3)
    await a.joined("expert-needed")
    a.call("leaves")
    await a.joined("leaves")
    await c.clock.advance(1)
    # the junior seat takes the caller who needs no skill, not the one who needs level 3
    await until(lambda: K.CONNECT in a.kinds("leaves"))
    assert a.line.rings == [("junior", "leaves")]
    a.acd.call_ended("leaves", "operator")
    await a.result("leaves")
    await c.clock.advance(30)  # past the widening threshold: any seat of the queue will do
    await until(lambda: K.CONNECT in a.kinds("expert-needed"), what="widened match")
    b.call("times-out")
    await b.joined("times-out")
    await c.clock.advance(101)
    assert (await b.result("times-out")).outcome == "timeout"
    assert b.kinds("times-out")[-1] is K.EXITWITHTIMEOUT


async def test_last_seat_logging_out_sends_every_nodes_callers_away_when_the_queue_says_leave(
    centre: MakeCentre,
) -> None:
    c = await centre([seat("s1")], when_no_seats="leave")
    a, b = await c.node("a"), await c.node("b")
    await a.acd.seat_command("s1", "login")
    await a.acd.seat_command("s1", "not_ready", "break")
    a.call("a1")
    b.call("b1")
    await a.joined("a1")
    await b.joined("b1")
    await a.acd.seat_command("s1", "logout")
    assert (await a.result("a1")).outcome == "no_agents"
    assert (await b.result("b1")).outcome == "no_agents"
    exits = [e for e in c.queue_events() if e.kind is K.EXITEMPTY]
    assert sorted(e.call_id for e in exits) == ["a1", "b1"]
    b.call("b2")
    assert (await b.result("b2")).outcome == "no_agents"
    assert b.kinds("b2") == [K.JOINEMPTY]


async def test_every_node_keeps_a_current_copy_of_the_seats_for_its_consoles(centre: MakeCentre) -> None:
    c = await centre([seat("s1"), seat("s2")])
    a, b = await c.node("a"), await c.node("b")
    await a.acd.seat_command("s1", "login")
    await until(lambda: b.acd.seats["s1"].state.value == "ready", what="b sees s1 ready")
    await b.acd.seat_command("s1", "not_ready", "lunch")
    await until(lambda: (a.acd.seats["s1"].state.value, a.acd.seats["s1"].reason) == ("not_ready", "lunch"))
    await b.acd.seat_command("s1", "ready")
    a.call("a1")
    await until(lambda: K.CONNECT in a.kinds("a1"))
    await until(lambda: (b.acd.seats["s1"].state.value, b.acd.seats["s1"].call_id) == ("talking", "a1"))
    await until(lambda: b.acd.callers.get("a1", ("", "", 0.0))[:2] == ("general", "connected"))
    assert a.acd.seats["s2"].state.value == "logged_out"
    late = await c.node("late")  # a node started later loads the rows as they are
    assert late.acd.seats["s1"].state.value == "talking"
    assert late.acd.callers["a1"][1] == "connected"
    assert a.acd.call_ended("a1", "operator")
    await until(lambda: "a1" not in b.acd.callers and "a1" not in late.acd.callers, what="a1 gone everywhere")
