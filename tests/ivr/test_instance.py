"""One line per database (ivr.instance): the lock names its holder, and a holder's death frees
it (the kernel drops fcntl locks of a killed process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.instance import InstanceError, InstanceLock

HOLD = "import sys, time; from pathlib import Path; from ivr.instance import InstanceLock; "
HOLD += "InstanceLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"


def test_a_second_holder_is_refused_naming_the_first_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "hotline.db.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(InstanceError, match=f"pid {holder.pid}\\) is running on .*hotline.db"):
            InstanceLock(path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    lock = InstanceLock(path)
    lock.acquire()  # no stale lock after a crash
    assert path.read_text().strip() == str(os.getpid())
    assert path.stat().st_mode & 0o077 == 0
    lock.release()
    assert path.read_text() == ""
