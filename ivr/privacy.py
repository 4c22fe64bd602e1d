"""Citizens' numbers kept out of the logs, and the line's files kept private.

Every log record passes `NumberMask` on its way to a handler: Chinese mobile numbers become
138****8000 and landlines 010****5678, wherever they appear (a message, an argument, a SIP
header pjsip logs, a traceback). Ticket numbers (14 digits) and other longer digit runs are
left alone: the patterns only match a whole run of digits of a phone number's length.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

# whole digit runs only, so a 14-digit ticket number never loses its middle
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})(-?)(\d{3,4})(\d{4})(?!\d)")


def mask(text: str) -> str:
    """'13800138000' -> '138****8000'; '010-62345678' -> '010-****5678'."""
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(4)}", text)


class NumberMask(logging.Filter):
    """A handler filter: the formatted message (and any traceback) with numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def mask_logs(show_numbers: bool = False) -> None:
    """Install the mask on every root handler (unless an admin shows numbers to debug)."""
    if show_numbers:
        logging.getLogger(__name__).warning("logs show callers' full numbers (debugging only)")
        return
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, NumberMask) for f in handler.filters):
            handler.addFilter(NumberMask())


def private_files() -> None:
    """Files and folders this process creates are its user's alone (database, WAL, recordings,
    spool, logs): 0600 and 0700 whatever the caller's umask."""
    os.umask(0o077)


def make_private(*paths: Path) -> None:
    """Tighten what an earlier run (or another umask) left readable: files 0600, folders 0700."""
    for path in paths:
        if path.is_dir():
            path.chmod(0o700)
        elif path.is_file():
            path.chmod(0o600)
