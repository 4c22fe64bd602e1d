"""The ticket category taxonomy (三级分类) with type-ahead search and the responsible-unit
suggestion. Loaded from a CSV (category1, category2, category3, unit) so a centre replaces it
without code; `{区}` in a unit is filled with the district found in the ticket's address.

It lives with the understanding step, which ranks these categories for a caller's words; the
operator console (`agents/web`) reads the same file through this module."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parent / "taxonomy.csv"
DISTRICT = "{区}"
_DISTRICT_RE = re.compile(r"[^\s\d市省,，]{1,5}?[区县]")
_NOT_DISTRICT = ("小区", "社区", "园区", "校区", "景区", "街区", "城区", "厂区", "片区", "新区")


class TaxonomyError(ValueError):
    pass


@dataclass(frozen=True)
class Category:
    levels: tuple[str, str, str]
    unit: str  # may hold {区}

    @property
    def path(self) -> str:
        return "/".join(self.levels)

    def as_dict(self) -> dict[str, str]:
        c1, c2, c3 = self.levels
        return {"category1": c1, "category2": c2, "category3": c3, "unit": self.unit, "path": self.path}


def district_of(address: str) -> str:
    """'北京市朝阳区建国路88号' -> '朝阳区'; '' when the address names no district."""
    for m in _DISTRICT_RE.finditer(address):
        name = m.group(0)
        if not name.endswith(_NOT_DISTRICT) and len(name) >= 2:
            return name
    return ""


def fill_unit(template: str, address: str) -> str:
    district = district_of(address)
    if district:
        return template.replace(DISTRICT, district)
    # no district: the city-level body handles it
    return template.replace(DISTRICT + "分局", "").replace(DISTRICT, "市")


def _score(query: str, chars: frozenset[str], item: Category, text: str) -> float:
    """Whole-query hits on the deepest level count most; otherwise the share of query
    characters found, so '路灯坏' still finds 路灯 and typos cost a little, not everything.
    `chars` and `text` (the levels joined) are computed once, not per keystroke and item."""
    c1, c2, c3 = item.levels
    score = 0.0
    if query in text:  # a query found nowhere whole cannot hit a single level either
        for weight, level in ((8.0, c3), (5.0, c2), (3.0, c1)):
            if query in level:
                score += weight + (2.0 if level == query else 0.0)
    found = sum(1 for ch in chars if ch in text) / len(chars)
    return score + (found * 4.0 if found >= 0.75 else 0.0)


def _unit_pattern(template: str) -> re.Pattern[str]:
    """A unit as the file writes it, as a pattern over real unit names ({区}: a district, the
    city-level body, or nothing, as `fill_unit` fills it)."""
    parts = [re.escape(p) for p in template.split(DISTRICT)]
    return re.compile("^" + r"(?:\S{1,5}?[区县]|市)?".join(parts) + "$")


def check(path: Path, known_units: Collection[str] | None = None) -> tuple[list[Category], list[str]]:
    """Read a centre's taxonomy CSV and every problem in it, as `FILE:LINE: what`: a missing
    column, an empty level, a row whose three levels repeat an earlier row, and (given the
    units the store knows) a unit no known unit matches. Rows with problems are left out."""
    items: list[Category] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"category1", "category2", "category3", "unit"} - set(reader.fieldnames or ())
        if missing:
            return [], [f"{path}:1: missing column(s) {', '.join(sorted(missing))}"]
        patterns: dict[str, re.Pattern[str]] = {}
        for n, row in enumerate(reader, start=2):
            levels = tuple((row.get(f"category{i}") or "").strip() for i in (1, 2, 3))
            unit = (row.get("unit") or "").strip()
            empty = [f"category{i + 1}" for i, level in enumerate(levels) if not level]
            if empty:
                problems.append(f"{path}:{n}: empty {', '.join(empty)}")
                continue
            key = (levels[0], levels[1], levels[2])
            if key in seen:
                problems.append(f"{path}:{n}: {'/'.join(key)} repeats line {seen[key]}")
                continue
            seen[key] = n
            if not unit:
                problems.append(f"{path}:{n}: no unit for {'/'.join(key)}")
                continue
            if known_units is not None:
                pattern = patterns.setdefault(unit, _unit_pattern(unit))
                if not any(pattern.match(name) for name in known_units):
                    problems.append(f"{path}:{n}: unknown unit {unit!r} (not among the store's units)")
                    continue
            items.append(Category(key, unit))
    return items, problems


def file_problems(path: Path) -> list[str]:
    """`check` without the store's units, unreadable files included (for the config's check)."""
    try:
        return check(path)[1]
    except OSError as exc:
        return [f"cannot read {path}: {exc.strerror or exc}"]
    except (UnicodeDecodeError, csv.Error) as exc:
        return [f"{path}: not a UTF-8 CSV file ({exc})"]


class Taxonomy:
    def __init__(self, items: Iterable[Category]) -> None:
        self.items = list(items)
        self._by_path = {i.levels: i for i in self.items}
        self._texts = ["".join(i.levels) for i in self.items]

    @classmethod
    def load(cls, path: Path = DEFAULT_CSV) -> Taxonomy:
        items: list[Category] = []
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"category1", "category2", "category3"} - set(reader.fieldnames or ())
            if missing:
                raise TaxonomyError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for n, row in enumerate(reader, start=2):
                levels = (row["category1"].strip(), row["category2"].strip(), row["category3"].strip())
                if not all(levels):
                    raise TaxonomyError(f"{path}:{n}: all three category levels are needed")
                items.append(Category(levels, (row.get("unit") or "").strip()))
        return cls(items)

    def tree(self) -> dict[str, dict[str, list[str]]]:
        """category1 -> category2 -> [category3], in file order (the picker's columns)."""
        out: dict[str, dict[str, list[str]]] = {}
        for item in self.items:
            c1, c2, c3 = item.levels
            out.setdefault(c1, {}).setdefault(c2, []).append(c3)
        return out

    def search(self, query: str, limit: int = 12) -> list[Category]:
        terms = [t for t in re.split(r"[\s/>＞]+", query.strip()) if t]
        if not terms:
            return []
        scored: list[tuple[float, int, Category]] = []
        prepared = [(t, frozenset(t)) for t in terms]
        for i, (item, text) in enumerate(zip(self.items, self._texts, strict=True)):
            total = 0.0
            for term, chars in prepared:
                part = _score(term, chars, item, text)
                if part <= 0:
                    break
                total += part
            else:
                scored.append((total, -i, item))
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        return [item for _, _, item in scored[:limit]]

    def find(self, c1: str, c2: str, c3: str) -> Category | None:
        return self._by_path.get((c1, c2, c3))

    def suggest_unit(self, c1: str, c2: str, c3: str, address: str) -> str:
        """The unit for the most specific known level (a partial category still gets one)."""
        for item in self.items:
            if item.levels[0] == c1 and (not c2 or item.levels[1] == c2) and (not c3 or item.levels[2] == c3):
                return fill_unit(item.unit, address) if item.unit else ""
        return ""
