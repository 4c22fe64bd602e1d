"""`ivr understand "text"`: what the line makes of a sentence, and why.

ivr understand "楼下烧烤摊天天弄到半夜，油烟大得窗户都没法开"
ivr understand --json "我家厨房一股煤气味"      # one JSON object per sentence
echo "..." | ivr understand -                    # sentences from standard input, one a line
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ivr.records import Understanding
from ivr.understanding.understander import load

DEFAULT_FILE = Path("flows") / "understanding.yaml"


def _show(u: Understanding) -> str:
    lines = [
        f"text:       {u.text}",
        f"intent:     {u.intent} ({u.confidence:.2f})  {'、'.join(u.intent_words)}".rstrip(),
        f"urgent:     {'yes: ' + '、'.join(u.urgent_words) if u.urgent else 'no'}",
    ]
    for i, (c, unit) in enumerate(zip(u.categories, u.units, strict=True), start=1):
        lines.append(f"category {i}: {c}" + (f"  -> {unit}" if unit else ""))
    if not u.categories:
        lines.append("category:   (none suggested)")
    lines.append(f"place:      {u.address or '(none)'}")
    for k, v in u.numbers.items():
        lines.append(f"{k + ':':<11} {v}")
    lines += [f"  because {r}" for r in u.reasons]
    return "\n".join(lines)


def cmd_understand(args: argparse.Namespace) -> int:
    logging.getLogger("ivr.understanding").setLevel(logging.WARNING)
    step, findings = load(Path(args.file))
    for f in findings:
        print(f, file=sys.stderr)
    if step is None:
        return 1
    texts = [line.strip() for line in sys.stdin] if args.text == ["-"] else [" ".join(args.text)]
    for text in (t for t in texts if t):
        u = step.understand(text)
        print(json.dumps(u.as_dict(), ensure_ascii=False) if args.json else _show(u) + "\n")
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("understand", help="intent, urgency, categories, place and numbers of a sentence")
    p.add_argument("text", nargs="+", help="what the caller said (- reads one sentence a line from stdin)")
    p.add_argument("--json", action="store_true", help="one JSON object per sentence")
    p.add_argument("--file", default=str(DEFAULT_FILE), help=f"the admins' file (default: {DEFAULT_FILE})")
    p.set_defaults(func=cmd_understand)
