"""Category type-ahead at a real centre's size: 3,000 three-level rows (a centre's file has
2,600+), keystroke-by-keystroke queries, p50/p99 per search. The console asks on each keystroke,
so the bar is 50 ms p99.

    PYTHONPATH=. python bench/taxonomy.py [--rows 3000] [--queries 2000] [--file centre.csv]

With --file, the centre's own taxonomy CSV is searched (as `[understanding] taxonomy` installs it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ivr.understanding.taxonomy import Category, Taxonomy


def centre(rows: int) -> Taxonomy:
    base = Taxonomy.load().items
    items = []
    for i in range(rows):
        b = base[i % len(base)]
        lap = i // len(base)
        items.append(
            Category((b.levels[0], f"{b.levels[1]}{lap or ''}", f"{b.levels[2]}{lap or ''}"), b.unit)
        )
    return Taxonomy(items)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--file", type=Path, help="a centre's taxonomy CSV instead of --rows made-up rows")
    args = p.parse_args()
    taxonomy = Taxonomy.load(args.file) if args.file else centre(args.rows)
    args.rows = len(taxonomy.items)
    words = [
        "路灯不亮",
        "装修噪音",
        "供暖不热",
        "垃圾清运",
        "违章停车",
        "医保报销",
        "学校收费",
        "城市管理 路灯",
    ]
    typed = [w[:n] for w in words for n in range(1, len(w) + 1)]  # every keystroke
    times = []
    for i in range(args.queries):
        start = time.perf_counter()
        taxonomy.search(typed[i % len(typed)])
        times.append(time.perf_counter() - start)
    times.sort()
    p50, p99 = times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000
    print(f"{args.rows} rows, {args.queries} searches: p50 {p50:.1f} ms, p99 {p99:.1f} ms (bar: 50 ms)")


if __name__ == "__main__":
    main()
