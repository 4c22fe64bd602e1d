"""Text normalisation before Mandarin synthesis.

espeak-ng reads "12345" as a quantity ("一万二千三百四十五"); a hotline must say "幺二三四五".
`normalise` rewrites every run of digits into Chinese characters according to what it is:
dates and times the Chinese way, numbers people dial or quote (phone, hotline, ticket) digit by
digit with 幺 for 1, and everything else as a Chinese numeral ("第3位" -> "第三位").
"""

from __future__ import annotations

import re

_DIGITS = "零一二三四五六七八九"
_DIAL_DIGITS = "零幺二三四五六七八九"  # 幺: "1" and "7" sound alike over a phone line
_FULLWIDTH = str.maketrans("０１２３４５６７８９：％．－", "0123456789:%.-")

# Short numbers callers know by heart: read digit by digit even without a keyword.
SERVICE_NUMBERS = frozenset({"110", "119", "120", "122", "114", "12345", "12315", "12369", "12333", "12366"})
# A digit run after one of these (within a few characters) is an identifier, not a quantity.
_ID_KEYWORDS = (
    "电话",
    "号码",
    "热线",
    "工单",
    "单号",
    "编号",
    "尾号",
    "分机",
    "拨打",
    "致电",
    "验证码",
    "手机",
    "座机",
    "受理号",
)
# A digit run followed by one of these is a quantity even after an identifier keyword.
_UNITS = (
    "分钟",
    "小时",
    "公里",
    "位",
    "个",
    "秒",
    "天",
    "日",
    "月",
    "年",
    "次",
    "名",
    "件",
    "人",
    "条",
    "项",
    "周",
    "元",
    "块",
    "岁",
    "号",
    "层",
    "楼",
    "米",
    "户",
    "分",
    "点",
    "倍",
    "家",
)
# Measure words after which 2 is said 两 ("两位", "两分钟"), but not in ordinals ("第二位").
_LIANG_UNITS = (
    "位",
    "个",
    "分钟",
    "小时",
    "天",
    "次",
    "名",
    "件",
    "人",
    "条",
    "项",
    "周",
    "年",
    "户",
    "家",
    "倍",
)

_DATE = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?!\d)")
_TIME = re.compile(r"(?<![\d.])(\d{1,2})[:](\d{2})(?:[:](\d{2}))?(?![\d])")
_DASHED = re.compile(r"(?<![\d-])\d{2,}(?:-\d{2,})+(?![\d-])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")


def read_digits(digits: str, *, dial: bool = True) -> str:
    """Digit by digit: "12345" -> "幺二三四五" (dial=True) or "一二三四五" (years: dial=False)."""
    table = _DIAL_DIGITS if dial else _DIGITS
    return "".join(table[int(c)] if c.isdigit() else c for c in digits)


def _section(n: int) -> str:
    """0 < n < 10000 as a numeral, with one 零 for any run of inner zeros."""
    out: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + unit)
    return "".join(out)


def chinese_number(n: int) -> str:
    """A non-negative integer as a Chinese numeral: 105 -> "一百零五", 15 -> "十五"."""
    if n < 0:
        return "负" + chinese_number(-n)
    if n == 0:
        return "零"
    if n >= 10**16:
        return read_digits(str(n), dial=False)
    sections: list[int] = []
    while n:
        sections.append(n % 10000)
        n //= 10000
    units = ("", "万", "亿", "万亿")
    out = ""
    gap = False
    for idx in reversed(range(len(sections))):
        s = sections[idx]
        if s == 0:
            gap = bool(out)
            continue
        if out and (gap or s < 1000):
            out += "零"
        out += _section(s) + units[idx]
        gap = False
    # "一十五" is written but "十五" is said.
    return out[1:] if out.startswith("一十") else out


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0)
    return f"{read_digits(year, dial=False)}年{chinese_number(month)}月{chinese_number(day)}日"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    second = int(m.group(3)) if m.group(3) else 0
    if hour > 24 or minute > 59 or second > 59:
        return m.group(0)
    out = f"{chinese_number(hour)}点"
    if minute or second:
        out += ("零" if minute < 10 else "") + f"{chinese_number(minute)}分"
    if second:
        out += f"{chinese_number(second)}秒"
    return out


def _dashed(m: re.Match[str]) -> str:
    # Phone numbers like 010-6512-3456: groups read digit by digit, separated by a short pause.
    return " ".join(read_digits(group) for group in m.group(0).split("-"))


def _number(text: str, m: re.Match[str]) -> str:
    token = m.group(0)
    before = text[max(0, m.start() - 6) : m.start()]
    after = text[m.end() : m.end() + 2]
    if token.endswith("%"):
        return "百分之" + _quantity(token[:-1])
    if "." in token:
        return _quantity(token)
    unit_follows = after.startswith(_UNITS)
    if len(token) == 4 and after.startswith("年"):
        return read_digits(token, dial=False)
    identifier = (
        len(token) >= 5
        or (len(token) > 1 and token.startswith("0"))
        or (before[-1:].isascii() and before[-1:].isalpha())  # ticket ids like GD20261124001
        or ((token in SERVICE_NUMBERS or any(k in before for k in _ID_KEYWORDS)) and not unit_follows)
    )
    if identifier:
        return read_digits(token)
    if token == "2" and after.startswith(_LIANG_UNITS) and not before.endswith("第"):
        return "两"
    return _quantity(token)


def _quantity(token: str) -> str:
    whole, _, frac = token.partition(".")
    out = chinese_number(int(whole))
    return out + "点" + read_digits(frac, dial=False) if frac else out


def normalise(text: str) -> str:
    """Rewrite the digits in `text` the way a Mandarin speaker reads them aloud."""
    text = text.translate(_FULLWIDTH)
    text = _DATE.sub(_date, text)
    text = _TIME.sub(_time, text)
    text = _DASHED.sub(_dashed, text)
    return _NUMBER.sub(lambda m: _number(m.string, m), text)
