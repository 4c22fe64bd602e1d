"""The board's teams in headless Chromium against the console on a real ACD and SQLite store:
the supervisor filters the seats by team and finds the leader's buttons on a talking seat; a
team leader opens their team's board from their seat page. (The calls themselves are joined over
real SIP in tests/ivr/sip/test_sip_leader.py; this rig has no SIP line, so the console says so.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect
from web_rig import PASSWORDS, SUPERVISOR, Rig

from ivr.records import SeatRow, SeatState, Team

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def test_board_by_team_with_leader_buttons(rig: Rig, browser: Browser) -> None:
    await rig.store.roster.put_team(Team("t1", "一班", "1002"))
    await rig.store.roster.put_team(Team("t2", "二班"))
    await rig.store.roster.put_seats(
        [
            SeatRow("2001", "李明", "sip:2001@127.0.0.1", "t1", "白班", {}, ("general",)),
            SeatRow("2002", "赵强", "sip:2002@127.0.0.1", "t2", "小夜班", {}, ("general",)),
        ]
    )
    await rig.server.roster.reload()
    for seat in ("2001", "1001", "1002"):  # only 2001 is ready when the call comes
        rig.acd.seat_command(seat, "login")
    rig.acd.seat_command("2001", "ready")
    rig.call("c1")
    await rig.until(lambda: rig.acd.seats["2001"].state is SeatState.TALKING)

    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-sup")
    await page.fill("#password", SUPERVISOR)
    await page.click("#submit")
    await page.wait_for_url("**/static/board.html")
    await expect(page.locator("#seats tbody tr")).to_have_count(5)
    await page.select_option("#team-filter", "t1")
    await expect(page.locator("#seats tbody tr")).to_have_count(1)
    row = page.locator('#seats tr[data-seat="2001"]')
    await expect(row).to_contain_text("一班")
    await expect(row).to_contain_text("白班")
    for name in ("监听", "耳语", "强插", "接管"):
        await expect(row.get_by_role("button", name=name)).to_be_visible()
    await page.fill("#my-phone", "1002")
    await row.get_by_role("button", name="监听").click()
    await expect(page.locator("#supervise-msg")).to_have_text("本节点没有 SIP 线路，无法监听")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "board-team.png"), full_page=True)

    # the leader of 一班 (seat 1002) opens the team's board from the seat page
    seat_page = await browser.new_page()
    await seat_page.goto(rig.server.url + "static/index.html")
    await seat_page.fill("#seat_id", "1002")
    await seat_page.fill("#password", PASSWORDS["1002"])
    await seat_page.click("#submit")
    await seat_page.wait_for_url("**/static/seat.html")
    link = seat_page.locator("#team-board")
    await expect(link).to_be_visible()
    async with seat_page.context.expect_page() as opened:
        await link.click()
    team_board = await opened.value
    await expect(team_board.locator("#seats tbody tr")).to_have_count(1)
    await expect(team_board.locator('#seats tr[data-seat="2001"]')).to_contain_text("李明")
    await expect(team_board.locator("#oversight")).to_be_hidden()
