"""Numbers a caller speaks digit by digit ("幺三八零…", "二零二六一一…") as digits.

Callers read phone and ticket numbers one digit at a time, with the telephone habits 幺 for 1,
两 for 2, 洞 for 0 (and 拐 for 7, 勾 for 9). Only runs of at least five digits count, so "一个"
or "两天" in a sentence never become numbers.
"""

from __future__ import annotations

import re

DIGITS = {
    **{str(d): str(d) for d in range(10)},
    **dict(zip("０１２３４５６７８９", "0123456789", strict=True)),
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "拐": "7",
    "八": "8",
    "九": "9",
    "勾": "9",
}
_RUN = re.compile(f"[{''.join(DIGITS)}][{''.join(DIGITS)}\\s,，、-]*[{''.join(DIGITS)}]")
MIN_DIGITS = 5


def to_digits(text: str) -> str:
    """'幺三八 零零一三' -> '13800013'; characters that are not digits are dropped."""
    return "".join(DIGITS[ch] for ch in text if ch in DIGITS)


def digit_runs(text: str) -> list[str]:
    """Every run of at least five spoken or written digits, as digits, in order."""
    out = []
    for m in _RUN.finditer(text):
        digits = to_digits(m.group(0))
        if len(digits) >= MIN_DIGITS:
            out.append(digits)
    return out


def numbers_in(text: str) -> dict[str, str]:
    """The first phone number (11 digits from 1, or 0 and 10-12 digits) and the first ticket
    number (any other run of 6-16 digits) the caller said."""
    found: dict[str, str] = {}
    for digits in digit_runs(text):
        if re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", digits):
            found.setdefault("phone", digits)
        elif 6 <= len(digits) <= 16:
            found.setdefault("ticket_no", digits)
    return found
