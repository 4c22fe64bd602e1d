"""Hot reload: good edits go live for new calls, broken ones are rejected, calls keep their version."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ivr.control import Heard, Prompt
from ivr.flow.interpreter import Interpreter
from ivr.flow.library import FlowLibrary, Rejected
from ivr.flow.services import FlowServices

from .conftest import QUEUES, FakeCall, at

MAIN = """
nodes:
  hello: {type: say, text: 版本一问候}
  menu: {type: menu, prompt: 请按1, on_failure: bye, options: [{key: "1", next: sub}]}
  sub: {type: call, flow: survey}
  bye: {type: hangup, prompt: 版本一再见}
"""
SURVEY = "nodes:\n  thanks: {type: say, text: 谢谢}\n"


def put(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    os.utime(path, ns=(old + 2_000_000_000, old + 2_000_000_000))  # editors save seconds apart
    return path


def library(folder: Path, **kw: Any) -> FlowLibrary:
    return FlowLibrary(folder, queues=QUEUES, numbers={"12345": "main", "12346": "epidemic"}, **kw)


def test_first_load_takes_clean_files_and_reports_broken_ones(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    put(tmp_path, "broken", "nodes:\n  a: {type: sya}\n")
    lib = library(tmp_path)
    problems = lib.load()
    assert set(lib.snapshot.flows) == {"main", "survey"}
    assert lib.snapshot.version >= 1
    assert any("unknown node type 'sya'" in p.message for p in problems)
    snap, entry = lib.flow_for("12345")
    assert entry == "main" and snap is lib.snapshot
    assert lib.flow_for("999")[1] == "main"  # the default flow


async def test_good_edit_is_used_for_new_calls(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    before = lib.snapshot
    put(tmp_path, "main", MAIN.replace("版本一问候", "版本二问候"))
    report = await lib.poll()
    assert report.accepted == ["main"] and not report.rejected
    assert lib.snapshot.version == before.version + 1
    call = FakeCall(["1"])
    await Interpreter(lib.snapshot, call).run("main")
    assert call.played[0] == ["版本二问候"]
    assert (await lib.poll()).accepted == []  # nothing changed since


async def test_broken_edit_is_rejected_and_running_version_stays(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    heard: list[Rejected] = []

    async def on_rejected(r: Rejected) -> None:
        heard.append(r)

    lib = library(tmp_path, on_rejected=on_rejected)
    lib.load()
    before = lib.snapshot
    put(tmp_path, "main", MAIN.replace("next: sub", "next: nowhere"))
    report = await lib.poll()
    assert report.accepted == [] and lib.snapshot is before
    assert len(heard) == 1 and heard[0].files[0].endswith("main.yaml")
    assert "missing target 'nowhere'" in heard[0].problems[0].message
    assert heard[0].as_dict()["problems"][0]["line"] == 4  # type: ignore[index]
    call = FakeCall(["1"])
    result = await Interpreter(lib.snapshot, call).run("main")
    assert result.route[-2:] == ["survey:thanks", "main:bye"]
    # the admin fixes the file: it goes live
    put(tmp_path, "main", MAIN.replace("版本一问候", "修好了"))
    assert (await lib.poll()).accepted == ["main"]


async def test_yaml_syntax_error_is_rejected_with_position(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    got: list[Rejected] = []
    lib = library(tmp_path, on_rejected=got.append)  # a plain function works too
    lib.load()
    put(tmp_path, "main", 'nodes:\n  hello: {type: say, text: "unterminated}\n')
    await lib.poll()
    assert got and "YAML syntax error" in got[0].problems[0].message
    assert set(lib.snapshot.flows) == {"main", "survey"}


class GatedCall(FakeCall):
    """Blocks in `ask` until released, to hold a call inside a flow during a reload."""

    def __init__(self) -> None:
        super().__init__(["1"])
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def ask(self, prompts: Sequence[Prompt], **kw: Any) -> Heard:
        self.waiting.set()
        await self.release.wait()
        return await super().ask(prompts, **kw)


async def test_call_in_progress_finishes_on_its_version(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    call = GatedCall()
    task = asyncio.create_task(Interpreter(lib.flow_for("12345")[0], call).run("main"))
    await call.waiting.wait()
    put(tmp_path, "survey", "nodes:\n  thanks: {type: say, text: 新版谢谢}\n")
    put(tmp_path, "main", MAIN.replace("版本一", "版本二"))
    assert sorted((await lib.poll()).accepted) == ["main", "survey"]
    call.release.set()
    result = await task
    # the old survey and goodbye, not 新版谢谢 / 版本二再见
    assert call.played[-2:] == [["谢谢"], ["版本一再见"]] and result.outcome == "hangup"
    fresh = FakeCall(["1"])
    await Interpreter(lib.snapshot, fresh).run("main")
    assert fresh.played[0] == ["版本二问候"] and fresh.played[-2:] == [["新版谢谢"], ["版本二再见"]]


async def test_new_line_and_its_subflow_arrive_together(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    put(tmp_path, "epidemic", "nodes:\n  a: {type: call, flow: faq}\n")
    put(tmp_path, "faq", "nodes:\n  f: {type: say, text: 常见问题}\n")
    report = await lib.poll()
    assert sorted(report.accepted) == ["epidemic", "faq"]
    assert lib.flow_for("12346")[1] == "epidemic" and "epidemic" in lib.snapshot.flows


async def test_deleting_a_called_flow_is_rejected(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    survey = put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    survey.unlink()
    report = await lib.poll()
    assert report.rejected and "unknown flow 'survey'" in report.rejected[0].problems[0].message
    assert "survey" in lib.snapshot.flows


async def test_rejected_edit_is_retried_when_its_dependency_arrives(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    put(tmp_path, "main", MAIN.replace("flow: survey", "flow: faq"))
    assert (await lib.poll()).rejected
    put(tmp_path, "faq", "nodes:\n  f: {type: say, text: 常见问题}\n")
    assert sorted((await lib.poll()).accepted) == ["faq", "main"]


async def test_watch_picks_up_edits(tmp_path: Path) -> None:
    put(tmp_path, "main", MAIN)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    lib.load()
    version = lib.snapshot.version
    task = asyncio.create_task(lib.watch(interval=0.02))
    try:
        put(tmp_path, "main", MAIN.replace("版本一", "版本三"))
        for _ in range(200):
            if lib.snapshot.version > version:
                break
            await asyncio.sleep(0.01)
        assert lib.snapshot.version == version + 1
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


ROSTER = """
calendar: calendar/roster.yaml
nodes:
  check: {type: hours, open: staffed, closed: closed}
  staffed: {type: hangup, prompt: 有人值班}
  closed: {type: hangup, prompt: 现在下班了}
"""


async def test_calendar_edit_reloads_the_flows_using_it(tmp_path: Path) -> None:
    (tmp_path / "calendar").mkdir()
    put(tmp_path / "calendar", "roster", 'hours: {mon-sun: ["08:00-22:00"]}\n')
    put(tmp_path, "main", ROSTER)
    put(tmp_path, "survey", SURVEY)
    lib = library(tmp_path)
    assert lib.load() == []
    night = FlowServices(clock=lambda: at("2025-03-04 23:00"))

    async def heard() -> list[str]:
        call = FakeCall()
        await Interpreter(lib.snapshot, call, night).run("main")
        return call.played[-1]

    assert await heard() == ["现在下班了"]
    version = lib.snapshot.version
    put(tmp_path / "calendar", "roster", 'hours: {mon-sun: ["00:00-24:00"]}\n')  # a night shift
    report = await lib.poll()
    assert report.accepted == ["main"] and not report.rejected  # survey has no calendar
    assert lib.snapshot.version == version + 1 and await heard() == ["有人值班"]
    # A broken calendar is rejected once, naming the file; the running roster stays.
    put(tmp_path / "calendar", "roster", 'hours: {mon-sun: ["0-24"]}\n')
    report = await lib.poll()
    assert len(report.rejected) == 1 and report.rejected[0].files[1].endswith("roster.yaml")
    assert "HH:MM-HH:MM" in report.rejected[0].problems[0].message
    assert await heard() == ["有人值班"] and (await lib.poll()).rejected == []
    put(tmp_path / "calendar", "roster", 'hours: {mon-sun: ["08:00-22:00"]}\n')
    assert (await lib.poll()).accepted == ["main"] and await heard() == ["现在下班了"]
    # Deleting it is an edit like any other.
    (tmp_path / "calendar" / "roster.yaml").unlink()
    assert "not found" in (await lib.poll()).rejected[0].problems[0].message


def test_from_settings_uses_config() -> None:
    from ivr import config
    from ivr.flow.services import surveys

    settings = config.load(Path(__file__).parents[3] / "config.toml")
    lib = FlowLibrary.from_settings(settings)
    assert lib.load() == []
    assert lib.flow_for("12346")[1] == "epidemic" and lib.flow_for("12345")[1] == "main"
    assert {"main", "survey", "epidemic"} <= set(lib.snapshot.flows)
    assert surveys(settings) == {"general": "survey"}
