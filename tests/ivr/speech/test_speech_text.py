from __future__ import annotations

import re

import pytest

from ivr.speech.text import chinese_number, normalise, read_digits


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (0, "零"),
        (1, "一"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
        (10000, "一万"),
        (10001, "一万零一"),
        (100000, "十万"),
        (120000, "十二万"),
        (1234567, "一百二十三万四千五百六十七"),
        (100010000, "一亿零一万"),
        (200000000, "二亿"),
    ],
)
def test_chinese_number(n: int, spoken: str) -> None:
    assert chinese_number(n) == spoken


def test_read_digits_uses_yao_for_dialling_and_yi_for_years() -> None:
    assert read_digits("12345") == "幺二三四五"
    assert read_digits("2021", dial=False) == "二零二一"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # Hotline, phone and ticket numbers: digit by digit, 1 as 幺.
        ("欢迎致电12345市民服务热线", "欢迎致电幺二三四五市民服务热线"),
        ("12345", "幺二三四五"),
        ("火警请拨119", "火警请拨幺幺九"),
        ("急救电话120", "急救电话幺二零"),
        ("请拨打010-6512-3456", "请拨打零幺零 六五幺二 三四五六"),
        ("手机13812345678", "手机幺三八幺二三四五六七八"),
        ("您的工单号是GD20261124001", "您的工单号是GD二零二六幺幺二四零零幺"),
        ("工单号1024", "工单号幺零二四"),
        ("分机801", "分机八零幺"),
        ("验证码0375", "验证码零三七五"),
        # Times and dates the Chinese way.
        ("09:30", "九点三十分"),
        ("工作时间08:30至17:00", "工作时间八点三十分至十七点"),
        ("9:05", "九点零五分"),
        ("23:59:30", "二十三点五十九分三十秒"),
        ("2026-11-24", "二零二六年十一月二十四日"),
        ("2026/1/5", "二零二六年一月五日"),
        ("2026年11月24日", "二零二六年十一月二十四日"),
        ("11月24日", "十一月二十四日"),
        ("2026年", "二零二六年"),
        # Quantities as numerals.
        ("3位", "三位"),
        ("您前面还有3位", "您前面还有三位"),
        ("您是第3位", "您是第三位"),
        ("预计等待5分钟", "预计等待五分钟"),
        ("预计等待15分钟", "预计等待十五分钟"),
        ("前面还有2位", "前面还有两位"),
        ("您是第2位", "您是第二位"),
        ("拨打电话3次", "拨打电话三次"),
        ("满意度90%", "满意度百分之九十"),
        ("约3.5公里", "约三点五公里"),
        ("共120个", "共一百二十个"),
        ("按1", "按一"),
        # Full-width digits as typed in Chinese editors.
        ("第３位", "第三位"),
        # Nothing to do.
        ("您好，请说人工服务", "您好，请说人工服务"),
    ],
)
def test_normalise(text: str, spoken: str) -> None:
    assert normalise(text) == spoken


def test_invalid_times_and_dates_are_not_reworded_as_times() -> None:
    assert "点" not in normalise("比分25:99")
    assert "月" not in normalise("2026-13-45")


@pytest.mark.parametrize("text", ["热线12345转3，工单GD001，第3位，09:30，2026-11-24，90%", "１２３４５"])
def test_normalise_leaves_no_digits(text: str) -> None:
    assert not re.search(r"[0-9０-９]", normalise(text))
