"""The unit's page (static/unit.html) in headless Chromium against the console on a real ACD and
SQLite store: a unit signs in, sees its inbox with deadlines and time left, accepts a ticket,
records progress and replies; returns another with a reason. Screenshots go to
test-output/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from web_rig import Rig, add_unit

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
UNIT = "朝阳区城管委"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def _dispatch(rig: Rig, caller: str, description: str, urgency: str = "normal") -> str:
    t = await rig.store.tickets.create(
        caller, status="open", operator="1001", category1="城市管理", category3="路灯",
        address="朝阳区建国路1号", description=description, urgency=urgency,
    )  # fmt: skip
    await rig.server.life.dispatch(t.id, UNIT, actor="seat:1001")
    return t.id


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(url + "static/index.html")
    await page.click("#tab-unit")
    await page.fill("#login", "wang")
    await page.fill("#password", "unitpw-1")
    await page.click("#submit")
    await page.wait_for_url("**/static/unit.html")


async def test_unit_handles_its_inbox_in_the_browser(rig: Rig, browser: Browser) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw-1")
    lamp = await _dispatch(rig, "13800138000", "路灯不亮", urgency="urgent")
    other = await _dispatch(rig, "13900000000", "井盖缺失")
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-unit")
    await page.fill("#login", "wang")
    await page.fill("#password", "wrong-pw")
    await page.click("#submit")
    await expect(page.locator("#msg")).to_have_text("账号或密码错误")
    await _sign_in(page, rig.server.url)

    await expect(page.locator("#title")).to_contain_text(UNIT)
    rows = page.locator("#inbox tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_have_attribute("data-ticket", lamp)  # urgent: the earliest deadline first
    await expect(rows.first.locator("[data-field=left]")).to_contain_text("还剩 23小时")
    await page.click(f"tr[data-ticket='{lamp}']")
    await expect(page.locator("#d-caller")).to_have_text("138****8000")
    await page.click("#accept")
    await expect(page.locator("#d-status")).to_have_text("已接单")
    await expect(page.locator("#accept")).to_be_disabled()
    await page.fill("#note", "已联系路灯管理所")
    await page.click("#add-note")
    await expect(page.locator("#history li[data-event=note]")).to_contain_text("已联系路灯管理所")
    await page.fill("#done", "已更换灯泡，夜间复查正常")
    await page.select_option("#result", "solved")
    await page.click("#reply")
    await expect(page.locator("#d-status")).to_have_text("已反馈")
    await expect(rows).to_have_count(1)  # the replied ticket leaves the inbox
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "unit-inbox.png"), full_page=True)

    await page.click(f"tr[data-ticket='{other}']")
    await page.click("#give-back")  # no reason: refused, nothing changes
    await expect(page.locator("#msg")).to_have_text("缺少字段 reason")
    await page.fill("#reason", "井盖属于水务部门")
    await page.click("#give-back")
    await expect(page.locator("#d-status")).to_have_text("已退单")
    await expect(page.locator("#empty")).to_be_visible()

    replied, returned = await rig.store.tickets.get(lamp), await rig.store.tickets.get(other)
    assert (
        replied is not None
        and replied.status == "replied"
        and replied.reply["done"] == "已更换灯泡，夜间复查正常"
    )
    assert returned is not None and returned.status == "returned"
    history = await rig.store.tickets.history(other)
    assert history[-1].event == "return" and history[-1].note == "井盖属于水务部门"


async def test_board_shows_overdue_units_and_the_calendar_warning(rig: Rig, browser: Browser) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw-1")
    late = await _dispatch(rig, "13800138000", "路灯不亮")
    await rig.store.tickets.update(late, {"due_at": 1.0}, actor="test")
    await _dispatch(rig, "13900000000", "井盖缺失")
    await rig.server.watch.sweep()
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-sup")
    await page.fill("#password", "boss")
    await page.click("#submit")
    await page.wait_for_url("**/static/board.html")
    await expect(page.locator("#oversight-counts")).to_have_text("超期 1 件 · 即将到期 0 件")
    await expect(page.locator(f"#oversight-units tr[data-unit='{UNIT}'] td").nth(1)).to_have_text("1")
    await expect(page.locator("#calendar-warning")).to_contain_text("时限日历无法读取")
    await page.click("#preview")  # the after-call figures next to the queue and operator reports
    units = page.locator("table[data-report=units] tbody tr")
    await expect(units).to_have_count(1)
    await expect(units.first.locator("td").nth(0)).to_have_text(UNIT)
    await expect(units.first.locator("td").nth(1)).to_have_text("2")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "board-oversight.png"), full_page=True)


async def test_supervisor_edits_the_knowledge_base_in_the_browser(rig: Rig, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-sup")
    await page.fill("#password", "boss")
    await page.click("#submit")
    await page.wait_for_url("**/static/board.html")
    await page.fill("#kb-title", "小区充电桩申请")
    await page.fill("#kb-keywords", "充电桩申请，私桩")
    await page.fill("#kb-answer", "由物业出具同意安装证明后向供电公司申请。")
    await page.click("#kb-save")
    await expect(page.locator("#kb-msg")).to_have_text("已保存（v1）")
    row = page.locator("#kb-list tr", has_text="小区充电桩申请")
    await expect(row).to_contain_text("v1")
    await page.fill("#kb-answer", "由物业出具同意安装证明后，向供电公司提交用电申请。")
    await page.click("#kb-save")
    await expect(page.locator("#kb-msg")).to_have_text("已保存（v2）")
    await row.locator("button.retire").click()
    await expect(row).to_contain_text("已停用")
    articles = {v.article: v for v in await rig.store.knowledge.versions() if v.title == "小区充电桩申请"}
    (article,) = articles
    history = [v for v in await rig.store.knowledge.versions() if v.article == article]
    assert [(v.version, v.retired) for v in history] == [(1, False), (2, False), (3, True)]
    assert history[0].keywords == ("充电桩申请", "私桩") and history[1].answer.endswith("用电申请。")


async def test_operator_finds_own_tickets_and_works_the_follow_up_list(rig: Rig, browser: Browser) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw-1")
    tid = await _dispatch(rig, "13800138000", "路灯不亮")
    unit = await rig.store.units.unit("cy-cgw")
    assert unit is not None
    await rig.server.life.reply(unit, tid, "已更换灯泡", "solved", actor="unit:cy-cgw")
    (task,) = await rig.store.followups.for_ticket(tid)
    await rig.store.followups.save(replace(task, state="worklist", attempts=3, last_outcome="no_answer"))
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.fill("#seat_id", "1001")
    await page.fill("#password", "pw1001")
    await page.click("#submit")
    await page.wait_for_url("**/static/seat.html")
    await page.goto(rig.server.url + "static/tickets.html")
    await page.fill("#q-caller", "13800138000")
    await page.click("#search")
    await page.click(f"#results tr[data-ticket='{tid}']")
    await expect(page.locator("#history li[data-event=reply]")).to_contain_text("已更换灯泡")
    await page.click(f"#worklist tr[data-task='{task.id}'] button.take")
    await expect(page.locator("#a-id")).to_have_text(tid)
    await page.click("#a-call")  # no SIP in this console: the page says so
    await expect(page.locator("#a-call-msg")).to_contain_text("外呼线路未启用")
    await page.select_option("#a-solved", "false")
    await page.select_option("#a-satisfaction", "不满意")
    await page.fill("#a-words", "灯还是不亮")
    await page.click("#a-save")
    await expect(page.locator("#msg")).to_have_text("回访完成，工单已转承办单位重办")
    ticket = await rig.store.tickets.get(tid)
    assert ticket is not None and ticket.status == "reopened"
    await page.click("#search")
    await page.click(f"#results tr[data-ticket='{tid}']")
    await expect(page.locator("#history li[data-event=followup]")).to_contain_text(
        "未解决，不满意：灯还是不亮"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "operator-tickets.png"), full_page=True)


async def test_dispatch_desk_redispatches_or_closes_returned_tickets(rig: Rig, browser: Browser) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw-1")
    unit = await rig.store.units.unit("cy-cgw")
    assert unit is not None
    moved, closed = (
        await _dispatch(rig, "13800138000", "路灯不亮"),
        await _dispatch(rig, "13900000000", "咨询"),
    )
    await rig.server.life.give_back(unit, moved, "地址在海淀区", actor="unit:cy-cgw")
    await rig.server.life.give_back(unit, closed, "非本单位职责", actor="unit:cy-cgw")
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-sup")
    await page.fill("#password", "boss")
    await page.click("#submit")
    await page.wait_for_url("**/static/board.html")
    await expect(page.locator("#desk-link")).to_have_attribute("href", "/static/tickets.html")
    await page.goto(rig.server.url + "static/tickets.html")
    rows = page.locator("#returned tbody tr")
    await expect(rows).to_have_count(2)
    row = page.locator(f"#returned tr[data-ticket='{moved}']")
    await row.locator("td").first.click()  # the history tells why it came back
    await expect(page.locator("#history li[data-event=return]")).to_contain_text("地址在海淀区")
    await row.locator("button.redispatch").click()  # no unit named yet
    await expect(page.locator("#desk-msg")).to_have_text("缺少字段 unit")
    await row.locator("input.unit").fill("海淀区城管委")
    await row.locator("input.note").fill("地址在海淀区")
    await row.locator("button.redispatch").click()
    await expect(page.locator("#desk-msg")).to_have_text(f"工单 {moved} 已改派")
    await expect(rows).to_have_count(1)
    other = page.locator(f"#returned tr[data-ticket='{closed}']")
    await other.locator("button.close").click()  # closing needs a reason
    await expect(page.locator("#desk-msg")).not_to_have_text(f"工单 {closed} 已结案")
    await other.locator("input.note").fill("已告知市民向物业反映")
    await other.locator("button.close").click()
    await expect(page.locator("#desk-msg")).to_have_text(f"工单 {closed} 已结案")
    await expect(rows).to_have_count(0)
    a, b = await rig.store.tickets.get(moved), await rig.store.tickets.get(closed)
    assert a is not None and (a.status, a.unit) == ("dispatched", "海淀区城管委")
    assert b is not None and b.status == "closed"
    events = [(h.event, h.actor, h.note) for h in await rig.store.tickets.history(moved) if h.event]
    assert events[-1] == ("redispatch", "supervisor", "地址在海淀区")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "dispatch-desk.png"), full_page=True)


async def test_a_taken_follow_up_survives_a_page_reload(rig: Rig, browser: Browser) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw-1")
    tid = await _dispatch(rig, "13800138000", "路灯不亮")
    unit = await rig.store.units.unit("cy-cgw")
    assert unit is not None
    await rig.server.life.reply(unit, tid, "已更换灯泡", "solved", actor="unit:cy-cgw")
    (task,) = await rig.store.followups.for_ticket(tid)
    await rig.store.followups.save(replace(task, state="worklist", attempts=3, last_outcome="no_answer"))
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.fill("#seat_id", "1001")
    await page.fill("#password", "pw1001")
    await page.click("#submit")
    await page.wait_for_url("**/static/seat.html")
    await page.goto(rig.server.url + "static/tickets.html")
    await expect(page.locator("#desk")).to_be_hidden()  # the dispatch desk is the supervisors'
    await page.click(f"#worklist tr[data-task='{task.id}'] button.take")
    await expect(page.locator("#a-id")).to_have_text(tid)
    await page.reload()
    await page.click(f"#worklist tr[data-task='{task.id}'] button.resume")
    await expect(page.locator("#a-id")).to_have_text(tid)
    sup = await browser.new_page()  # the supervisor sees who holds it and could put it back
    await sup.goto(rig.server.url + "static/index.html")
    await sup.click("#tab-sup")
    await sup.fill("#password", "boss")
    await sup.click("#submit")
    await sup.wait_for_url("**/static/board.html")
    await sup.goto(rig.server.url + "static/tickets.html")
    held = sup.locator(f"#worklist tr[data-task='{task.id}']")
    await expect(held).to_contain_text("座席 1001 办理中")
    await expect(held.locator("button.release")).to_be_visible()
    await page.click("#a-save")
    await expect(page.locator("#msg")).to_have_text("回访完成，工单已办结")
