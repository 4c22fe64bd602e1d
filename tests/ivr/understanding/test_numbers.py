"""Numbers spoken digit by digit become digits; ordinary words with 一/两 do not."""

from __future__ import annotations

from ivr.understanding.numbers import digit_runs, numbers_in, to_digits


def test_telephone_habits_for_digits() -> None:
    assert to_digits("幺三八洞两拐勾") == "1380279"
    assert to_digits("一二三四五六七八九零〇") == "12345678900"


def test_phone_and_ticket_numbers_are_told_apart() -> None:
    said = "我的电话是幺三八 零零一三 八零零零，工单号二零二六一一三零零零四二"
    assert numbers_in(said) == {"phone": "13800138000", "ticket_no": "202611300042"}


def test_short_runs_and_words_are_not_numbers() -> None:
    assert digit_runs("我一个人等了两天，三四个小时") == []
    assert numbers_in("五二三路公交") == {}


def test_written_digits_and_separators() -> None:
    assert numbers_in("工单 2026-1102-0035") == {"ticket_no": "202611020035"}
