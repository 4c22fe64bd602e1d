"""Figures of the understanding step on the development set, clean and with recognition noise.

    .venv/bin/python bench/understanding.py                 # clean, 17 % and 24 % CER
    .venv/bin/python bench/understanding.py --errors        # also list what it got wrong (clean)

Noise: each character is substituted, deleted or followed by an inserted one at the given
rate (seeded), the character error rates of vosk-model-small-cn-0.22 on THCHS (~17 %) and
SpeechIO-02 (~24 %). Timing is per sentence on this machine, after jieba has loaded.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.understanding import load  # noqa: E402
from ivr.understanding.evaluation import Sample, measure, noisy, read  # noqa: E402

DEVSET = ROOT / "tests" / "ivr" / "understanding" / "devset.tsv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=DEVSET, help="labelled TSV (default: the development set)")
    ap.add_argument("--lexicon", type=Path, default=ROOT / "flows" / "understanding.yaml")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--errors", action="store_true", help="list the clean set's mistakes")
    args = ap.parse_args()
    t0 = time.perf_counter()
    step, findings = load(args.lexicon)
    if step is None:
        sys.exit("\n".join(str(f) for f in findings))
    step.understand("预热")  # jieba's dictionary
    print(f"loaded in {time.perf_counter() - t0:.2f} s (jieba dictionary and training)")
    samples = read(args.set)
    columns = []
    for rate in (0.0, 0.17, 0.24):
        rng = random.Random(args.seed)
        texts = [noisy(s.text, rate, rng) if rate else s.text for s in samples]
        times, results = [], []
        for text in texts:
            t = time.perf_counter()
            results.append(step.understand(text))
            times.append(time.perf_counter() - t)
        figures = measure(zip(samples, results, strict=True))
        columns.append((f"CER {rate:.0%}" if rate else "clean", figures.rows()))
        if rate == 0.0:
            p99 = sorted(times)[int(0.99 * (len(times) - 1))]
            timing = f"per sentence: mean {1000 * statistics.mean(times):.1f} ms, p99 {1000 * p99:.1f} ms"
            if args.errors:
                _errors(samples, results)
    print(f"| figure | {' | '.join(name for name, _ in columns)} |")
    print(f"|---|{'---|' * len(columns)}")
    for i, (label, _) in enumerate(columns[0][1]):
        print(f"| {label} | {' | '.join(rows[i][1] for _, rows in columns)} |")
    print(timing)


def _errors(samples: list[Sample], results: list) -> None:  # type: ignore[type-arg]
    for s, u in zip(samples, results, strict=True):
        wrong = []
        if u.intent != s.intent:
            wrong.append(f"intent {u.intent} ({u.confidence:.2f}) want {s.intent}")
        if u.urgent != s.urgent:
            wrong.append(f"urgent {u.urgent} want {s.urgent}")
        if s.category and s.category not in u.categories:
            wrong.append(f"category {list(u.categories)} want {s.category}")
        if s.place and not all(any(n in v for v in u.place.values()) for n in s.place):
            wrong.append(f"place {dict(u.place)} want {s.place}")
        if not s.place and u.place:
            wrong.append(f"place {dict(u.place)} want none")
        if wrong:
            print(f"{s.line}: {s.text}\n    " + "\n    ".join(wrong))


if __name__ == "__main__":
    main()
