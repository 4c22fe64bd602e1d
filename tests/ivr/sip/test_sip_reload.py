"""Hot reload under a running `ivr serve`: a clean edit serves the next call, a broken edit is
rejected and the running version keeps answering."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sip_peers import call, free_port, serve, write_config

pytestmark = pytest.mark.sip

V1 = "description: v1\nnodes:\n  hello_v1:\n    type: say\n    text: 您好。\n  bye:\n    type: hangup\n"
V2 = "description: v2\nnodes:\n  hello_v2:\n    type: say\n    text: 您好，欢迎。\n  bye:\n    type: hangup\n"
BROKEN = "description: broken\nnodes:\n  hello:\n    type: sya\n    text: [unclosed\n"


def test_edits_reach_new_calls_and_broken_edits_do_not(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    main = flows / "main.yaml"
    main.write_text(V1, encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), flows_dir=flows)
    with serve(cfg) as server:
        call(server.uri, "wait 6")
        assert "main:hello_v1" in server.wait_log("ended after")
        time.sleep(1.1)  # a different mtime
        main.write_text(V2, encoding="utf-8")
        server.wait_log("flows v2 live", timeout=10)
        call(server.uri, "wait 6")
        ended = [ln for ln in server.wait_log("main:hello_v2").splitlines() if "ended after" in ln]
        assert "main:hello_v2" in ended[-1]
        time.sleep(1.1)
        main.write_text(BROKEN, encoding="utf-8")
        log = server.wait_log("main.yaml:", timeout=10)  # the checker's file:line:col message
        assert "rejected" in log.lower()
        report = call(server.uri, "wait 6")
        assert report["hung_up_by"] == "them"
        ended = [ln for ln in server.log_text().splitlines() if "ended after" in ln]
        assert len(ended) == 3 and "main:hello_v2" in ended[-1]  # still v2
