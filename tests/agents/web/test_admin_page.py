"""The admins' page (static/admin.html) in headless Chromium against the console on a real ACD
and SQLite store: an admin signs in, names a team and its leader, imports a seats CSV (a bad
file is refused with its line numbers, the fixed one lands), edits a seat; the imported seat
signs in. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect
from web_rig import ADMIN, Rig

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


async def test_admin_manages_teams_and_imports_seats(rig: Rig, browser: Browser, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page()
    await page.goto(rig.server.url + "static/index.html")
    await page.click("#tab-admin")
    await page.fill("#password", ADMIN)
    await page.click("#submit")
    await page.wait_for_url("**/static/admin.html")
    await expect(page.locator("#seats tbody tr")).to_have_count(3)  # config.toml's seats
    await expect(page.locator('#seats tr[data-seat="1001"]')).to_contain_text("配置文件")

    await page.fill("#team-id", "t1")
    await page.fill("#team-name", "一班")
    await page.fill("#team-leader", "1001")
    await page.click("#team-save")
    await expect(page.locator("#team-msg")).to_have_text("班组 t1 已保存")
    await expect(page.locator('#teams tr[data-team="t1"]')).to_contain_text("1001")

    bad = tmp_path / "seats.csv"
    bad.write_text(
        "id,name,uri,team,shift,password\n2001,李明,sip:2001@127.0.0.1,一班,白班,seat-2001-pw\n"
        "2002,赵强,2002@127.0.0.1,二班,夜班,\n",
        encoding="utf-8",
    )
    await page.set_input_files("#csv-file", str(bad))
    await page.click("#csv-import")
    await expect(page.locator("#import-msg")).to_contain_text("有 2 处问题，未导入任何座席")
    problems = page.locator("#import-problems li")
    await expect(problems).to_have_count(2)
    await expect(problems.nth(0)).to_contain_text("seats.csv:3: uri")
    await expect(problems.nth(1)).to_contain_text("seats.csv:3: shift")
    await page.screenshot(path=str(SHOTS / "admin-import-refused.png"), full_page=True)
    await expect(page.locator("#seats tbody tr")).to_have_count(3)

    bad.write_text(
        bad.read_text(encoding="utf-8").replace("2002@127", "sip:2002@127").replace("夜班", "小夜班")
    )
    await page.set_input_files("#csv-file", str(bad))
    await page.click("#csv-import")
    await expect(page.locator("#import-msg")).to_have_text("已导入座席 2 席（设置密码 1 个），新建班组：二班")
    await expect(page.locator("#import-problems li")).to_have_count(0)
    await expect(page.locator("#seats tbody tr")).to_have_count(5)
    await page.select_option("#filter-team", "t1")
    await expect(page.locator("#seats tbody tr")).to_have_count(1)
    row = page.locator('#seats tr[data-seat="2001"]')
    await expect(row).to_contain_text("一班")
    await expect(row).to_contain_text("已设")

    await row.get_by_role("button", name="编辑").click()
    await expect(page.locator("#seat-id")).to_have_value("2001")
    await page.select_option("#seat-shift", "通宵夜班")
    await page.fill("#seat-skills", "general:4;complaint:2")
    await page.click("#seat-save")
    await expect(page.locator("#seat-msg")).to_have_text("座席 2001 已保存")
    await expect(row).to_contain_text("通宵夜班")
    await expect(row).to_contain_text("general:4;complaint:2")
    await page.screenshot(path=str(SHOTS / "admin-roster.png"), full_page=True)

    seat = await rig.store.roster.seat("2001")
    assert seat is not None and seat.shift == "通宵夜班" and seat.skills == {"general": 4, "complaint": 2}
    signed = await rig.http.post("/api/login", json={"seat_id": "2001", "password": "seat-2001-pw"})
    assert signed.status_code == 200, signed.text  # the password survived the edit
    assert rig.acd.seats["2001"].settings.skills == {"general": 4, "complaint": 2}
