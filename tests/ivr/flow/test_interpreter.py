"""The interpreter, node by node, against a scripted caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.control import CallerHangup, Heard
from ivr.flow.interpreter import Interpreter
from ivr.flow.services import FlowServices

from .conftest import FakeCall, Queues, Tickets, at

MENU = """
defaults:
  noinput: [没听到一, 没听到二]
  nomatch: [无效一, 无效二]
  on_failure: failed
global_options:
  - {speech: [人工, 转人工], key: "0", next: operator}
nodes:
  menu:
    type: menu
    prompt: 长提示
    reprompt: 短提示
    max_noinput: 2
    max_nomatch: 3
    max_failures: 4
    options:
      - {key: "1", speech: [咨询], set: {category: 咨询}, next: one}
      - {key: "2", speech: [投诉, 我要投诉], set: {category: 投诉}, next: one}
      - {key: "3", speech: [不满意], next: three}
      - {key: "*", repeat: true}
  one: {type: hangup, prompt: "选了{category}"}
  three: {type: hangup}
  operator: {type: queue, queue: general}
  failed: {type: hangup, prompt: 失败}
"""


async def run(flowset: Any, call: FakeCall, entry: str = "main", **services: Any) -> Any:
    return await Interpreter(flowset, call, FlowServices(**services)).run(entry)


async def test_menu_key_sets_variables_and_records_path(flows: Any) -> None:
    call = FakeCall(["2"])
    result = await run(flows(main=MENU), call)
    assert result.route == ["main:menu", "main:one"]
    assert result.variables["category"] == "投诉"
    assert result.outcome == "hangup" and call.hung_up
    assert call.played[-1] == ["选了投诉"]
    assert [u.who for u in result.transcript] == ["ivr", "caller", "ivr"]


async def test_menu_speech_exact_contained_and_longest(flows: Any) -> None:
    fs = flows(main=MENU)
    assert (await run(fs, FakeCall(["我要 投诉"]))).variables["category"] == "投诉"
    assert (await run(fs, FakeCall(["嗯我想咨询一下"]))).route[-1] == "main:one"
    # "不满意" contains "满意"-like shorter phrases elsewhere; the longest phrase inside wins
    assert (await run(fs, FakeCall(["我不满意"]))).route[-1] == "main:three"


async def test_menu_offers_grammar_and_single_key(flows: Any) -> None:
    call = FakeCall(["1"])
    await run(flows(main=MENU), call)
    _, digits, speech = call.asked[0]
    assert digits is not None and digits.max_digits == 1 and digits.terminator is None
    assert speech is not None and speech.phrases is not None
    assert {"咨询", "我要投诉", "人工", "转人工"} <= set(speech.phrases)


async def test_global_option_works_in_menu(flows: Any) -> None:
    call = FakeCall(["转人工"])
    result = await run(flows(main=MENU), call)
    assert "main:operator" in result.route and call.enqueued[0].queue == "general"


async def test_noinput_and_nomatch_escalate_separately(flows: Any) -> None:
    call = FakeCall(["9", "", "9", "1"])
    result = await run(flows(main=MENU), call)
    prompts = [a[0] for a in call.asked]
    assert prompts == [["长提示"], ["无效一", "短提示"], ["没听到一", "短提示"], ["无效二", "短提示"]]
    assert result.route[-1] == "main:one"


async def test_max_noinput_reached_before_max_failures(flows: Any) -> None:
    call = FakeCall(["", ""])
    result = await run(flows(main=MENU), call)
    assert result.route == ["main:menu", "main:failed"]
    assert result.variables["failed_menu"] == "menu"


async def test_max_failures_counts_both_kinds(flows: Any) -> None:
    call = FakeCall(["9", "", "8", "7"])
    result = await run(flows(main=MENU), call)
    assert len(call.asked) == 4 and result.route[-1] == "main:failed"


async def test_last_escalation_message_repeats(flows: Any) -> None:
    call = FakeCall(["9", "9", "9"])
    await run(flows(main=MENU), call)
    assert [a[0][0] for a in call.asked] == ["长提示", "无效一", "无效二"]


async def test_repeat_option_replays_full_prompt(flows: Any) -> None:
    call = FakeCall(["9", "*", "1"])
    await run(flows(main=MENU), call)
    assert [a[0] for a in call.asked] == [["长提示"], ["无效一", "短提示"], ["长提示"]]


async def test_low_confidence_speech_is_nomatch(flows: Any) -> None:
    text = MENU.replace("max_failures: 4", "max_failures: 4\n    min_confidence: 0.6")
    call = FakeCall([Heard("speech", "投诉", confidence=0.3), "1"])
    result = await run(flows(main=text), call)
    assert call.asked[1][0][0] == "无效一" and result.variables["category"] == "咨询"


async def test_barge_in_key_answers_next_menu(flows: Any) -> None:
    text = (
        MENU.split("nodes:")[0]
        + "nodes:\n  hi: {type: say, text: 欢迎, barge_in: true}\n"
        + MENU.split("nodes:\n")[1]
    )
    call = FakeCall([], barge="2")
    result = await run(flows(main=text), call)
    assert call.asked == [] and result.variables["category"] == "投诉"


async def test_caller_hangup_ends_cleanly_with_path(flows: Any) -> None:
    result = await run(flows(main=MENU), FakeCall([]))
    assert result.outcome == "caller_hangup" and result.route == ["main:menu"]


INPUT = """
nodes:
  phone:
    type: input
    var: phone
    format: phone
    prompt: 请输入手机号
    noinput: 没收到
    nomatch: 号码不对
    confirm: 您输入的是{value}，确认请按1
    max_failures: 3
    on_failure: failed
  ok: {type: hangup, prompt: "{phone}"}
  failed: {type: hangup}
"""


async def test_input_validates_confirms_and_strips_terminator(flows: Any) -> None:
    call = FakeCall(["123#", "13800138000#", "2", "13900139000#", "1"])
    result = await run(flows(main=INPUT), call)
    assert result.variables["phone"] == "13900139000"
    assert call.asked[1][0] == ["号码不对", "请输入手机号"]
    assert call.asked[2][0] == ["您输入的是13800138000，确认请按1"]
    digits = call.asked[0][1]
    assert digits is not None and digits.max_digits == 12 and digits.terminator == "#"


async def test_input_failures_go_to_on_failure(flows: Any) -> None:
    call = FakeCall(["", "12", ""])
    result = await run(flows(main=INPUT), call)
    assert result.route[-1] == "main:failed" and "phone" not in result.variables


async def test_input_id_card_star_is_x_and_speech_input(flows: Any) -> None:
    text = """
    nodes:
      id: {type: input, var: id, format: id_card, prompt: 身份证}
      addr: {type: input, var: address, format: speech, prompt: 请说地址}
      end: {type: hangup}
    """
    call = FakeCall(["11010519491231002*#", "朝阳区 建国路 88号"])
    result = await run(flows(main=text), call)
    assert result.variables["id"] == "11010519491231002X"
    assert result.variables["address"] == "朝阳区建国路88号"
    assert call.asked[1][1] is None and call.asked[1][2] is not None


async def test_set_if_switch_goto(flows: Any) -> None:
    text = """
    vars: {level: 1}
    nodes:
      s: {type: set, values: {who: "{caller}", n: 3}}
      c: {type: if, when: {var: caller, matches: "^139"}, then: vip, else: sw}
      vip: {type: hangup}
      sw: {type: switch, var: n, cases: {"3": three}, default: other}
      other: {type: hangup}
      three: {type: goto, next: end}
      skipped: {type: hangup, prompt: 不该到这里}
      end: {type: hangup, prompt: "{who} {level}"}
    """
    call = FakeCall()
    result = await run(flows(main=text), call)
    assert result.route == ["main:s", "main:c", "main:sw", "main:three", "main:end"]
    assert call.played[-1] == ["13800138000 1"]
    vip = await run(flows(main=text), FakeCall(caller="13912345678"))
    assert vip.route[-1] == "main:vip"


async def test_switch_conditions_time_weekday_queue(flows: Any) -> None:
    text = """
    nodes:
      sw:
        type: switch
        cases:
          - {when: {queue: general, metric: free_seats, equals: 0}, next: busy}
          - {when: {all: [{weekday: sat-sun}, {time: "09:00-17:00"}]}, next: weekend}
          - {when: {not: {time: "08:00-20:00"}}, next: night}
        default: day
      busy: {type: hangup}
      weekend: {type: hangup}
      night: {type: hangup}
      day: {type: hangup}
    """
    fs = flows(main=text)

    async def where(now: str, seats: int = 1) -> str:
        queues = Queues({"general": (0, seats, 0.0)})
        result = await run(fs, FakeCall(), clock=lambda: at(now), queues=queues)
        return str(result.route[-1])

    assert await where("2025-03-04 10:00", seats=0) == "main:busy"
    assert await where("2025-03-08 10:00") == "main:weekend"  # a Saturday
    assert await where("2025-03-04 22:30") == "main:night"
    assert await where("2025-03-04 10:00") == "main:day"


CAL = """
hours: {mon-fri: ["08:00-18:00"]}
holidays: {"2025-10-01..2025-10-03": 国庆节}
workdays: {"2025-09-28": 调休}
"""


async def test_hours_open_closed_holiday(tmp_path: Path, flows: Any) -> None:
    (tmp_path / "cal.yaml").write_text(CAL, encoding="utf-8")
    text = """
    calendar: cal.yaml
    nodes:
      h: {type: hours, open: open, closed: closed, holiday: holiday}
      open: {type: hangup}
      closed: {type: hangup}
      holiday: {type: hangup, prompt: "{holiday}"}
    """
    fs = flows(main=text)

    async def where(now: str) -> str:
        return str((await run(fs, FakeCall(), clock=lambda: at(now))).route[-1])

    assert await where("2025-03-04 10:00") == "main:open"
    assert await where("2025-03-04 19:00") == "main:closed"
    assert await where("2025-03-08 10:00") == "main:closed"  # Saturday
    assert await where("2025-09-28 10:00") == "main:open"  # Sunday worked (调休)
    assert await where("2025-10-02 10:00") == "main:holiday"


async def test_call_returns_and_goto_flow_does_not(flows: Any) -> None:
    main = """
    nodes:
      c: {type: call, flow: sub}
      after: {type: goto, flow: other}
      never: {type: hangup}
    """
    sub = "nodes:\n  a: {type: set, values: {x: 1}}\n  r: {type: return}\n  no: {type: hangup}\n"
    other = "nodes:\n  o: {type: hangup, prompt: '{x}'}\n"
    call = FakeCall()
    result = await run(flows(main=main, sub=sub, other=other), call)
    assert result.route == ["main:c", "sub:a", "sub:r", "main:after", "other:o"]
    assert call.played[-1] == ["1"]


async def test_queue_request_outcomes_and_position(flows: Any) -> None:
    text = """
    nodes:
      q:
        type: queue
        queue: general
        priority: 5
        skills: {complaint: 2}
        prompt: "您前面还有{queue.waiting}位，您是第{queue.position}位，约{queue.wait_minutes}分钟"
        outcomes: {timeout: late}
      done: {type: hangup}
      late: {type: hangup}
    """
    fs = flows(main=text)
    call = FakeCall(queue=["timeout"])
    queues = Queues({"general": (4, 0, 150.0)})
    result = await run(fs, call, queues=queues)
    assert call.played[0] == ["您前面还有4位，您是第5位，约3分钟"]
    req = call.enqueued[0]
    assert (req.queue, req.priority, dict(req.skills)) == ("general", 5, {"complaint": 2})
    assert req.context.path == ("main:q",) and req.context.urgency == "urgent"
    assert result.route[-1] == "main:late" and result.variables["queue_outcome"] == "timeout"
    assert (await run(fs, FakeCall(queue=["completed"]))).route[-1] == "main:done"


async def test_queue_operator_hangup_runs_configured_survey(flows: Any) -> None:
    main = "nodes:\n  q: {type: queue, queue: general}\n  never: {type: hangup, prompt: no}\n"
    survey = (
        "nodes:\n  ask: {type: menu, prompt: 满意请按1, options: [{key: '1', next: t}]}\n"
        "  t: {type: say, text: 谢谢}\n"
    )
    call = FakeCall(["1"], queue=["operator_hangup"])
    result = await run(flows(main=main, survey=survey), call, surveys={"general": "survey"})
    assert result.route == ["main:q", "survey:ask", "survey:t"] and result.outcome == "hangup"


async def test_transfer_success_and_failure(flows: Any) -> None:
    text = "nodes:\n  t: {type: transfer, number: '{target}', on_fail: f}\n  f: {type: hangup}\n"
    text = "vars: {target: '110'}\n" + text
    ok = FakeCall()
    result = await run(flows(main=text), ok)
    assert result.outcome == "transferred" and ok.transfers == ["110"]
    failed = await run(flows(main=text), FakeCall(transfer_ok=False))
    assert failed.route[-1] == "main:f"


async def test_record_then_ticket(tmp_path: Path, flows: Any) -> None:
    text = """
    nodes:
      r: {type: record, prompt: 请留言, max_seconds: 60, on_empty: empty}
      t: {type: ticket, fields: {source: 留言, recording: "{recording}"}, on_error: err}
      done: {type: hangup, prompt: "工单{ticket_id}"}
      empty: {type: hangup}
      err: {type: hangup}
    """
    fs = flows(main=text)
    tickets = Tickets()
    call = FakeCall(record_seconds=12.0)
    result = await run(fs, call, tickets=tickets, recordings=tmp_path / "rec")
    assert call.recordings[0].parent == tmp_path / "rec"
    assert tickets.created[0]["recording"] == str(call.recordings[0])
    assert tickets.created[0]["caller"] == "13800138000" and result.tickets == ["T0001"]
    assert call.played[-1] == ["工单T0001"]
    empty = await run(fs, FakeCall(record_seconds=0.0), tickets=tickets, recordings=tmp_path)
    assert empty.route[-1] == "main:empty"
    broken = await run(fs, FakeCall(), tickets=Tickets(fail=True), recordings=tmp_path)
    assert broken.route[-1] == "main:err" and "store down" in broken.variables["ticket_error"]


async def test_ticket_status_found_and_not_found(flows: Any) -> None:
    text = """
    vars: {no: "123456"}
    nodes:
      s: {type: ticket_status, ticket: "{no}", not_found: nf}
      found: {type: hangup, prompt: "{ticket_status}"}
      nf: {type: hangup}
    """
    fs = flows(main=text)
    call = FakeCall()
    await run(fs, call, lookup=Tickets({"123456": "已办结"}))
    assert call.played[-1] == ["已办结"]
    assert (await run(fs, FakeCall(), lookup=Tickets())).route[-1] == "main:nf"


async def test_end_of_flow_hangs_up(flows: Any) -> None:
    call = FakeCall()
    result = await run(flows(main="nodes:\n  a: {type: say, text: 你好}\n"), call)
    assert result.outcome == "hangup" and call.hung_up


async def test_quiet_loop_is_stopped(flows: Any) -> None:
    text = """
    nodes:
      a: {type: if, when: {var: x, empty: true}, then: b, else: c}
      b: {type: goto, next: a}
      c: {type: hangup}
    """
    call = FakeCall()
    result = await run(flows(main=text), call, max_quiet_steps=50)
    assert result.outcome == "error" and "loop" in (result.error or "") and call.hung_up


async def test_failing_service_ends_in_error_not_exception(flows: Any) -> None:
    class Broken:
        def waiting(self, queue: str) -> int:
            raise RuntimeError("acd gone")

        def free_seats(self, queue: str) -> int:
            return 0

        def estimated_wait(self, queue: str) -> float:
            return 0.0

    text = "nodes:\n  a: {type: if, when: {queue: general, gt: 1}, then: b}\n  b: {type: hangup}\n"
    result = await run(flows(main=text), FakeCall(), queues=Broken())
    assert result.outcome == "error" and "acd gone" in (result.error or "")


def one_second_wav(path: Path) -> None:
    path.write_bytes(b"RIFF" + b"\0" * 40 + b"\1\0" * 8000)  # header + 1 s of 8 kHz 16-bit audio


class HangsUpWhileRecording(FakeCall):
    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        one_second_wav(path)
        raise CallerHangup()


async def test_message_survives_caller_hanging_up_to_end_it(tmp_path: Path, flows: Any) -> None:
    text = """
    nodes:
      r: {type: record, prompt: 说完请挂机}
      t: {type: ticket, fields: {recording: "{recording}"}}
      bye: {type: hangup, prompt: "工单{ticket_id}"}
    """
    tickets = Tickets()
    call = HangsUpWhileRecording()
    result = await run(flows(main=text), call, tickets=tickets, recordings=tmp_path)
    assert result.outcome == "caller_hangup" and result.route == ["main:r", "main:t", "main:bye"]
    assert tickets.created[0]["recording"].endswith("call-1-r.wav")
    assert result.variables["recording_seconds"] == 1.0
    assert call.played == [["说完请挂机"]]  # nothing is played to a caller who has gone


async def test_hangup_during_recording_with_no_audio_is_a_plain_hangup(tmp_path: Path, flows: Any) -> None:
    class Gone(FakeCall):
        async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
            raise CallerHangup()

    text = "nodes:\n  r: {type: record}\n  t: {type: ticket, fields: {a: b}}\n"
    tickets = Tickets()
    result = await run(flows(main=text), Gone(), tickets=tickets, recordings=tmp_path)
    assert result.outcome == "caller_hangup" and tickets.created == []
