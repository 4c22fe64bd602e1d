"""End to end in headless Chromium: `ivr serve`, a real SIP caller and a real seat softphone.

An operator logs in, goes ready, the caller is queued and bridged, the pop shows the caller's
ticket while the phone still rings, the operator types the ticket (autosaved, survives a reload
and a dropped connection) and dispatches it; wrap-up counts down; the supervisor's board shows
the call. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sip_peers import ROOT, call, free_port, rtp_base, serve, write_config  # tests/ivr/sip, via conftest

pytestmark = [pytest.mark.browser, pytest.mark.sip]
SHOTS = ROOT / "test-output" / "screenshots"
CALLER = "13912345678"


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    seat_port = free_port()
    extra = f"""
[queues.general]
wrapup_seconds = 60
service_level_seconds = 20
announce_every = 0
ring_timeout = 15
[queues.urgent]
announce_every = 0
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general", "urgent"]
password = "s3cret"
"""
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), extra=extra)
    text = cfg.read_text(encoding="utf-8")
    assert "[web]\nport = 0\n" in text
    cfg.write_text(text.replace("[web]\nport = 0\n", '[web]\nport = 0\nsupervisor_password = "boss"\n'))
    phone = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "seat", "--user", "1001", "--sip-port", str(seat_port),
         "--rtp-port", str(rtp_base()), "--talk", "0", "--answer-after", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with serve(cfg, duration=240) as server:
            url = server.console  # serve() read the "console: ..." line
            assert url.startswith("http://127.0.0.1:"), url
            assert not url.endswith(":0/")
            yield url, server
    finally:
        phone.terminate()
        phone.wait(10)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def api(url: str, path: str, token: str) -> Any:
    req = urllib.request.Request(url.rstrip("/") + path, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as res:
        return json.loads(res.read())


def test_operator_takes_a_call_and_files_the_ticket(line: tuple[str, Any]) -> None:
    url, server = line
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            op_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page = op_ctx.new_page()
            page.goto(url)
            page.fill("#seat_id", "1001")
            page.fill("#password", "wrong")
            page.click("#submit")
            expect(page.locator("#msg")).to_have_text("座席号或密码错误")
            page.fill("#password", "s3cret")
            page.click("#submit")
            page.wait_for_url("**/seat.html")
            expect(page.locator("#live")).to_have_class("dot on")
            page.click("#btn-login")
            expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            shot(page, "01-operator-ready")

            # a real caller: greeting, then 0 for an operator; hangs up after talking a while
            result: dict[str, Any] = {}
            caller = threading.Thread(
                target=lambda: result.update(
                    call(server.uri, "wait 4; dtmf 0; wait 40", caller=CALLER, timeout=70)
                )
            )
            caller.start()
            expect(page.locator("#pop-caller")).to_have_text(CALLER, timeout=40_000)
            assert page.evaluate("document.body.dataset.popSeatState") == "ringing"
            ticket_id = page.locator("#t-id").inner_text()
            assert len(ticket_id) == 14 and ticket_id.isdigit()
            expect(page.locator("#pop-path")).to_contain_text("operator")
            shot(page, "02-screen-pop")
            expect(page.locator("#state")).to_have_attribute("data-state", "talking", timeout=10_000)

            # call controls: a click holds the caller (over the live socket), Alt+H resumes
            expect(page.locator("#btn-hold")).to_be_enabled()
            expect(page.locator("#btn-complete")).to_be_disabled()  # nothing to complete
            page.click("#btn-hold")
            expect(page.locator("#callbar")).to_have_attribute("data-call", "held")
            expect(page.locator("#btn-hold")).to_contain_text("恢复")
            shot(page, "02b-call-on-hold")
            page.keyboard.press("Alt+H")
            expect(page.locator("#callbar")).to_have_attribute("data-call", "talking")
            page.click("#btn-conference")  # no number typed: the line says why, nothing changes
            expect(page.locator("#call-error")).to_contain_text("号码")
            expect(page.locator("#callbar")).to_have_attribute("data-call", "talking")

            # what the line understood of a spoken sentence: shown in the pop, Alt+2 takes a suggestion
            page.evaluate(
                """showUnderstanding({intent: "投诉", confidence: 0.9, intent_words: ["装修"], urgent: false,
                  categories: ["环境保护/大气污染/餐饮油烟", "环境保护/噪声污染/装修噪音"],
                  units: ["", ""], address: ""})"""
            )
            expect(page.locator("#pop-intent")).to_contain_text("投诉（90%）装修")
            expect(page.locator("#pop-suggestions li")).to_have_count(2)
            page.keyboard.press("Alt+2")
            expect(page.locator("#category3")).to_have_value("装修噪音")

            # the ticket, typed while talking: category by type-ahead, unit suggested from the address
            page.fill("#address", "北京市朝阳区建国路88号")
            page.keyboard.press("Control+k")
            page.keyboard.type("装修噪音")
            expect(page.locator("#cat-list li").first).to_have_text("环境保护/噪声污染/装修噪音")
            page.keyboard.press("Enter")
            expect(page.locator("#category3")).to_have_value("装修噪音")
            expect(page.locator("#unit")).to_have_value("市生态环境局朝阳区分局")
            page.fill("#description", "市民反映楼上夜间装修，噪音扰民")
            expect(page.locator("#savestate")).to_contain_text("已保存", timeout=5_000)

            page.reload()  # nothing is lost on a reload
            expect(page.locator("#description")).to_have_value("市民反映楼上夜间装修，噪音扰民")
            expect(page.locator("#pop-caller")).to_have_text(CALLER)

            op_ctx.set_offline(True)  # a dropped connection: the edit waits and is sent later
            page.fill("#description", "市民反映楼上夜间装修，噪音扰民，请尽快处理")
            expect(page.locator("#savestate")).to_contain_text("未保存", timeout=5_000)
            shot(page, "03-offline-unsaved")
            op_ctx.set_offline(False)
            expect(page.locator("#savestate")).to_contain_text("已保存", timeout=10_000)

            page.keyboard.press("Control+Enter")
            expect(page.locator("#t-status")).to_have_text("已派单")
            shot(page, "04-ticket-dispatched")

            # the caller hangs up: wrap-up counts down, "done" ends it early
            expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up", timeout=60_000)
            left = int(page.locator("#wrapup-left").inner_text())
            assert 0 < left <= 60
            shot(page, "05-wrap-up")
            page.keyboard.press("F8")
            expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            caller.join(30)
            assert result.get("answered"), result

            token = page.evaluate("JSON.parse(sessionStorage.getItem('hotline.token')).token")
            saved = api(url, f"/api/tickets/{ticket_id}", token)
            assert saved["status"] == "dispatched" and saved["caller"] == CALLER
            assert saved["category1"] == "环境保护" and saved["description"].endswith("请尽快处理")

            # the supervisor's board shows the call
            sup = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN").new_page()
            sup.goto(url)
            sup.click("#tab-sup")
            sup.fill("#password", "boss")
            sup.click("#submit")
            sup.wait_for_url("**/board.html")
            card = sup.locator('[data-queue="general"]')
            expect(card.locator('[data-field="counts"]')).to_have_text("1 / 1 / 0")
            expect(card.locator('[data-field="sl"]')).to_have_text("100.0%")
            expect(sup.locator('tr[data-seat="1001"]')).to_contain_text("就绪")
            expect(sup.locator('tr[data-seat="1001"] td').last).to_have_text("1")
            expect(sup.locator("#chart-calls svg rect").first).to_be_visible()
            sup.click("#preview")
            expect(sup.locator('[data-report="operators"] tbody tr').first).to_contain_text("1001")
            # the audit trail on the board: the operator's read of the ticket, with its number
            sup.fill("#audit-action", "ticket.read")
            sup.click("#audit-load")
            expect(sup.locator("#audit-entries tbody tr").first).to_contain_text(
                f"seat:1001ticket.read{ticket_id}"
            )
            shot(sup, "06-supervisor-board")
        finally:
            browser.close()
    assert "Traceback" not in server.log_text()
    assert "HOLD by seat 1001" in server.log_text() and "UNHOLD by seat 1001" in server.log_text()
