"""What the benchmark scripts share: percentiles and the README-ready table."""

from __future__ import annotations

from collections.abc import Mapping


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when nothing was measured."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def print_table(figures: Mapping[str, object]) -> None:
    print("| figure | value |\n|---|---|")
    for k, v in figures.items():
        print(f"| {k.replace('_', ' ')} | {v} |")
