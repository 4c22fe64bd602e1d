"""Follow-up (回访) tasks on both stores: one open task per ticket, due lists, claims that only
one taker wins, retries and the answer kept."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ivr.store import Outgoing, Store


async def test_one_open_task_per_ticket_and_a_new_one_after_done(store: Store) -> None:
    t = await store.tickets.create("13800000001", status="replied")
    a = await store.followups.add(t.id, t.caller, 100.0)
    assert (a.id, a.state, a.attempts) == (f"{t.id}-1", "due", 0)
    assert (await store.followups.add(t.id, t.caller, 200.0)).id == a.id  # still open: the same task
    await store.followups.save(replace(a, state="done", answer={"solved": True, "satisfaction": "满意"}))
    b = await store.followups.add(t.id, t.caller, 300.0)  # reopened and replied again
    assert b.id == f"{t.id}-2"
    tasks = await store.followups.for_ticket(t.id)
    assert [(x.id, x.state) for x in tasks] == [(a.id, "done"), (b.id, "due")]
    assert dict(tasks[0].answer) == {"solved": True, "satisfaction": "满意"}


async def test_a_reply_and_its_task_are_one_write(store: Store) -> None:
    t = await store.tickets.create("13800000009", status="accepted")

    def broken(_: object) -> list[Outgoing]:
        raise RuntimeError("the announcement could not be made")

    try:
        await store.tickets.update(
            t.id, {"status": "replied"}, actor="u", event="reply", followup_at=5.0, also=broken
        )
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failing announcement must fail the write")
    after = await store.tickets.get(t.id)
    assert after is not None and after.status == "accepted"  # neither the reply ...
    assert await store.followups.for_ticket(t.id) == []  # ... nor its task
    await store.tickets.update(t.id, {"status": "replied"}, actor="u", event="reply", followup_at=5.0)
    await store.tickets.update(t.id, {}, actor="u", event="note", note="again", followup_at=9.0)
    tasks = await store.followups.for_ticket(t.id)
    assert [(x.id, x.state, x.due_at, x.caller) for x in tasks] == [(f"{t.id}-1", "due", 5.0, t.caller)]
    await store.followups.save(replace(tasks[0], state="done"))
    await store.tickets.update(t.id, {"status": "reopened"}, actor="line", event="reopen")
    await store.tickets.update(t.id, {"status": "replied"}, actor="u", event="reply", followup_at=7.0)
    assert [x.id for x in await store.followups.for_ticket(t.id)] == [f"{t.id}-1", f"{t.id}-2"]


async def test_due_lists_and_single_winner_claims(store: Store) -> None:
    ids = []
    for i, due in enumerate((300.0, 100.0, 200.0)):
        t = await store.tickets.create(f"1380000000{i}", status="replied")
        ids.append((await store.followups.add(t.id, t.caller, due)).id)
    due = await store.followups.in_state("due", due_before=250.0)
    assert [x.id for x in due] == [ids[1], ids[2]]
    wins = await asyncio.gather(*(store.followups.claim(ids[1], "due", "calling") for _ in range(5)))
    assert sum(1 for w in wins if w is not None) == 1
    assert await store.followups.claim(ids[1], "due", "calling") is None
    task = await store.followups.get(ids[1])
    assert task is not None and task.state == "calling"
    await store.followups.save(replace(task, state="worklist", attempts=3, last_outcome="no_answer"))
    listed = await store.followups.in_state("worklist")
    assert [(x.id, x.attempts, x.last_outcome) for x in listed] == [(ids[1], 3, "no_answer")]
    taken = await store.followups.claim(ids[1], "worklist", "calling", operator="1001")
    assert taken is not None and taken.operator == "1001"


async def test_knowledge_versions_are_appended_never_overwritten(store: Store) -> None:
    from ivr.records import KnowledgeVersion
    from ivr.store import StoreError

    v1 = KnowledgeVersion(1, 1, "社保卡补办", ("社保卡",), "先挂失再补办", False, "seed", 1.0)
    v2 = KnowledgeVersion(
        1, 2, "社保卡补办", ("社保卡", "补办"), "先挂失，再到网点补办", False, "supervisor", 2.0
    )
    await store.knowledge.add([v1])
    await store.knowledge.add([v2])
    assert await store.knowledge.versions() == [v1, v2]
    try:
        await store.knowledge.add([v2])
    except StoreError:
        pass
    else:
        raise AssertionError("a version written twice must be refused")
    assert len(await store.knowledge.versions()) == 2
