"""One line per database: a second `ivr serve` on the same store refuses to start, naming the
process that holds it.

Two lines on one SQLite file collided on ticket ids (`UNIQUE constraint failed: tickets.id`) and
connected an operator with `ticket None`. The lock is an fcntl lock on a file beside the
database (`hotline.db.lock`, holding the pid), so the kernel frees it when the holder dies, even
by SIGKILL, and a restart after a crash never finds a stale lock. A node of a centre on the shared
PostgreSQL store locks its own folder's file the same way (one per node name; `ivr cluster up`
gives each node its folder), while the nodes share the database by design.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class InstanceError(RuntimeError):
    pass


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise InstanceError naming the pid that has it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise InstanceError(
                f"another ivr serve (pid {holder}) is running on {self.path.with_suffix('')}; "
                "stop it first, or give this one its own [store] path"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)  # the file stays: removing it could split a waiting second line's lock
            os.close(fd)
