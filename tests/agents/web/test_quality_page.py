"""The quality-check page (static/qa.html) in headless Chromium against a real console, ACD and
SQLite store: a reviewer signs in, finds a sampled call in the queue, plays its recording (a
real WAV in the recordings folder, fetched with the session's header and played from a blob
URL) at another speed and seeks in it, scores it against the checklist with a comment, and the
API then returns that score; the operator opens their own scores from the console and appeals
once. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from qa_seed import answered_call, with_checklist
from web_rig import PASSWORDS, SUPERVISOR, Rig

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    with_checklist(r)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield b
        finally:
            await b.close()


async def _sign_in(page: Page, url: str, seat: str | None) -> None:
    await page.goto(url + "static/index.html")
    if seat is None:
        await page.click("#tab-sup")
        await page.fill("#password", SUPERVISOR)
    else:
        await page.fill("#seat_id", seat)
        await page.fill("#password", PASSWORDS[seat])
    await page.click("#submit")
    await page.wait_for_url("**/static/board.html" if seat is None else "**/static/seat.html")


async def test_a_reviewer_plays_the_recording_and_scores_the_call(rig: Rig, browser: Browser) -> None:
    ticket = await answered_call(rig, "call-qa-1", "1001")
    page = await browser.new_page()
    await _sign_in(page, rig.server.url, None)
    await page.goto(rig.server.url + "static/qa.html")  # the board's 质检 link, in this tab
    await page.click("#sample-now")
    row = page.locator("#queue tr[data-call='call-qa-1']")
    await expect(row).to_contain_text("投诉")
    await row.click()
    await expect(page.locator("#t-id")).to_have_text(ticket)
    await expect(page.locator("#t-caller")).to_have_text("138****8000")
    await expect(page.locator("#ivr-path li")).to_have_count(3)
    await expect(page.locator("#transcript")).to_contain_text("caller (按键): 2")

    audio = page.locator("#audio")
    await expect(audio).to_have_attribute("src", re.compile(r"^blob:"))  # no credential in the URL
    await page.select_option("#speed", "1.5")
    assert await audio.evaluate("a => a.playbackRate") == 1.5
    await audio.evaluate(
        "a => new Promise((ok, bad) => { a.onplaying = ok; a.onerror = bad; a.play().catch(bad); })"
    )
    # polled from here: the page's CSP (no eval) refuses wait_for_function's in-page polling
    for _ in range(100):
        if await audio.evaluate("a => a.currentTime") > 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the recording never started playing")
    await audio.evaluate("a => { a.pause(); a.currentTime = 2.0; }")
    assert abs(await audio.evaluate("a => a.currentTime") - 2.0) < 0.1
    assert await audio.evaluate("a => a.duration") == pytest.approx(3.0, abs=0.05)
    await page.click("#r-call")  # keys act when no field has the focus
    await page.keyboard.press("Alt+ArrowUp")
    assert await audio.evaluate("a => a.playbackRate") == 2.0
    await expect(page.locator("#speed")).to_have_value("2")
    await page.keyboard.press("Alt+ArrowLeft")
    assert await audio.evaluate("a => a.currentTime") < 0.1  # 5 s back from 2 s: the start

    marks = {
        "greeting": 5,
        "listening": 15,
        "accuracy": 20,
        "classification": 15,
        "answer": 20,
        "attitude": 15,
    }
    for item, points in marks.items():
        await page.fill(f"[data-item={item}]", str(points))
    await page.fill("[data-item=closing]", "5")
    await expect(page.locator("#live-score")).to_have_text("95.0")
    await page.check("[data-fatal=wrong_policy]")
    await expect(page.locator("#live-score")).to_have_text("40.0")
    await page.uncheck("[data-fatal=wrong_policy]")
    await page.fill("#comment", "结束时未告知办理时限")
    await page.click("#save")
    await expect(page.locator("#msg")).to_have_text("已保存：95.0 分")
    await expect(page.locator("#queue tr[data-call='call-qa-1']")).to_have_count(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "qa-review.png"), full_page=True)

    boss = await rig.supervisor()
    scores = (await rig.http.get("/api/qa/scores", headers=boss)).json()["scores"]
    assert [(s["call_id"], s["score"], s["comment"], s["marks"]["closing"]) for s in scores] == [
        ("call-qa-1", 95.0, "结束时未告知办理时限", 5.0)
    ]

    operator = await (await browser.new_context()).new_page()
    await _sign_in(operator, rig.server.url, "1001")
    async with operator.context.expect_page() as opened:
        await operator.click("#my-qa")
    mine = await opened.value
    await expect(mine.locator("#title")).to_have_text("12345 我的质检成绩")
    await expect(mine.locator("#queue-panel")).to_be_hidden()
    await mine.click("#scores tr[data-call='call-qa-1']")
    await expect(mine.locator("#save")).to_be_hidden()
    await expect(mine.locator("[data-item=closing]")).to_be_disabled()
    await mine.fill("#appeal-text", "录音 02:10 处已告知办理时限")
    await mine.click("#appeal")
    await expect(mine.locator("#msg")).to_have_text("申诉已提交，等待班长处理")
    await expect(mine.locator("#appeal-box")).to_be_hidden()
    await expect(mine.locator("#scores [data-field=appeal]")).to_have_text("处理中")
    await mine.screenshot(path=str(SHOTS / "qa-operator.png"), full_page=True)
    again = await rig.http.post(
        "/api/qa/calls/call-qa-1/appeal", headers=await _seat_headers(mine), json={"reason": "再次"}
    )
    assert again.status_code == 409


async def _seat_headers(page: Page) -> dict[str, str]:
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('hotline.token')).token")
    return {"authorization": f"Bearer {token}"}
