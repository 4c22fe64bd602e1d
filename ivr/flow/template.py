"""Safe prompt formatting: `{name}` and `{queue.position}` only, never str.format.

str.format would let a template reach attributes (`{x.__class__}`); here a placeholder is just a
variable name looked up in a mapping, a missing one becomes "" (and the checker warns ahead of time).
`{{` and `}}` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")


def render(template: str, lookup: Callable[[str], object]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        value = lookup(m.group(1))
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return _FIELD.sub(sub, template)


def names(template: str) -> list[str]:
    """Variable names a template uses."""
    return [m.group(1) for m in _FIELD.finditer(template) if m.group(1)]


def stray_brace(template: str) -> bool:
    """True when a `{` or `}` is not part of a placeholder (usually a typo like `{caller`)."""
    rest = _FIELD.sub("", template)
    return "{" in rest or "}" in rest
