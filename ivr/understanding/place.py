"""Where the caller's problem is: district, street (街道/镇/乡), residential compound and road.

A place name is found by its suffix (区, 街道, 小区, 路 ...) and extended to the left over the
characters that can belong to a name, stopping at words callers put before it (我住在, 那个,
旁边). Known district names from the admins' file are preferred to the suffix rule, which
would otherwise take "这个区" for a district.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KINDS = ("district", "street", "compound", "road")
SUFFIXES: dict[str, tuple[str, ...]] = {
    "street": ("街道", "镇", "乡"),
    "compound": (
        "小区",
        "花园",
        "家园",
        "嘉园",
        "公寓",
        "社区",
        "新村",
        "村",
        "苑",
        "大院",
        "新城",
        "大厦",
    ),
    "road": ("大街", "大道", "胡同", "路", "街", "巷"),
}
# Characters that never start a place name: what callers say just before one.
_STOP = set(
    "我你他她它们的了是在住到从跟与个这那就都也还说呢吧啊呀嘛哦嗯请问有咱俺对边近面去来给被让把叫找打"
    "条得往多点搞睡夸赶跑想"
)
_STOP_WORDS = (
    "旁边",
    "附近",
    "对面",
    "门口",
    "楼下",
    "后面",
    "前面",
    "那边",
    "这边",
    "里面",
    "我们",
    "咱们",
    "一个",
    "建议",
    "联系",
    "今晚",
    "关门",
    "开通",
    "不上",
)
_ROAD_AFTER = re.compile(r"[东西南北中]?大?(路|街|门)")
_GENERIC = frozenset({"大街", "大路", "小路", "小街", "老街", "大院"})
_NUMERALS = re.compile(r"[0-9零一二三四五六七八九十百两幺]+")
_CJK = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")
_NUMBER = re.compile(r"^[0-9零一二三四五六七八九十百两幺]+号(院|楼)?")
_NOT_PLACE = (
    "一条街",
    "这条街",
    "那条街",
    "整条街",
    "满大街",
    "上街",
    "逛街",
    "马路",
    "公路",
    "道路",
    "一路",
    "这路",
    "路上",
    "走路",
    "十字路",
    "线路",
    "老小区",
    "新小区",
    "人才公寓",
)


def _name_before(text: str, end: int, suffix: str, max_len: int = 6, floor: int = 0) -> str:
    """The name ending at `end` (exclusive, suffix included) and starting at or after `floor`,
    or '' when only the suffix is there."""
    start = end - len(suffix)
    i = start
    while i > floor and start - i < max_len:
        ch = text[i - 1]
        if not _CJK.match(ch) or ch in _STOP or any(text[:i].endswith(w) for w in _STOP_WORDS):
            break
        i -= 1
    name = text[i:end]
    return name if len(name) > len(suffix) else ""


def _by_suffix(text: str, suffixes: Iterable[str], taken: list[tuple[int, int]]) -> str:
    best = ""
    for suffix in sorted(suffixes, key=len, reverse=True):
        for m in re.finditer(re.escape(suffix), text):
            end = m.end()
            if any(a < end <= b for a, b in taken):
                continue  # part of a longer name already found ("街道" is not a 街)
            floor = max((b for a, b in taken if b <= end - len(suffix)), default=0)
            name = _name_before(text, end, suffix, floor=floor)
            if (
                not name
                or any(bad in name for bad in _NOT_PLACE)
                or (name.endswith(("街道", "小区")) and suffix in ("街", "区"))
                or _NUMERALS.fullmatch(name[: -len(suffix)])  # "五二三路" is a bus line
                or name in _GENERIC
            ):
                continue
            after = _NUMBER.match(text[end:])
            if after and suffix in SUFFIXES["road"] + SUFFIXES["compound"]:
                name += after.group(0)
            taken.append((end - len(name), end + (len(after.group(0)) if after else 0)))
            if not best:
                best = name
    return best


def place_in(text: str, districts: Iterable[str] = (), areas: Iterable[str] = ()) -> dict[str, str]:
    """The place named in `text` by kind; kinds not mentioned are absent. `areas` are the city's
    well-known neighbourhoods said without a suffix (回龙观, 五道口), taken at street level."""
    found: dict[str, str] = {}
    taken: list[tuple[int, int]] = []
    for name in sorted(districts, key=len, reverse=True):
        short = name[:-1] if len(name) > 2 and name.endswith(("区", "县")) else name
        said = name if name in text else short if len(short) >= 2 and short in text else ""
        if said:
            found["district"] = name
            at = text.index(said)
            if not _ROAD_AFTER.match(text, at + len(said)):  # "朝阳北路" is a road, not 朝阳区
                taken.append((at, at + len(said)))
            break
    for kind in ("street", "road", "compound"):
        name = _by_suffix(text, SUFFIXES[kind], taken)
        if name:
            found[kind] = name
    if "street" not in found:
        for name in sorted(areas, key=len, reverse=True):
            if name in text and not any(name in v for v in found.values()):
                found["street"] = name
                break
    if "district" not in found:
        for m in re.finditer(r"区|县", text):
            name = _name_before(text, m.end(), m.group(0), max_len=3)
            if name and not name.endswith(
                ("小区", "社区", "园区", "校区", "景区", "城区", "片区", "街区", "新区", "学区")
            ):
                found["district"] = name
                break
    return found
