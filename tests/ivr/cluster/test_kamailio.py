"""The generated Kamailio config: what it routes where, and that real kamailio accepts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cluster import kamailio
from ivr.cluster.kamailio import Front, KamailioError
from ivr.config import ClusterSettings

FRONT = Front("127.0.0.1", 5060, (("127.0.0.1", 5401), ("127.0.0.1", 5402)))


def test_the_dispatcher_list_names_every_node_in_one_set() -> None:
    lines = [ln for ln in kamailio.dispatcher_list(FRONT).splitlines() if not ln.startswith("#")]
    assert lines == ["1 sip:127.0.0.1:5401 0 0", "1 sip:127.0.0.1:5402 0 0"]


def test_settings_reach_the_config() -> None:
    c = ClusterSettings(
        trunk_allow=("10.1.2.3", "192.168.0.0/16"), flood_invites=25, flood_window=3, invite_timeout=1.5
    )
    text = kamailio.render(FRONT, c, Path("/x/dispatcher.list"))
    assert 'is_in_subnet("$si", "10.1.2.3/32") || is_in_subnet("$si", "192.168.0.0/16")' in text
    assert 'modparam("pike", "reqs_density_per_unit", 25)' in text
    assert 'modparam("pike", "sampling_time_unit", 3)' in text
    assert text.count("t_set_fr(0, 1500)") == 2  # first node and each failover
    assert 'modparam("dispatcher", "list_file", "/x/dispatcher.list")' in text
    assert "listen=udp:127.0.0.1:5060" in text
    # a busy node's 503 to a probe keeps it in the list; the proxy's own 408 does not
    codes = next(ln for ln in text.splitlines() if "ds_ping_reply_codes" in ln)
    assert "code=503" in codes and "408" not in codes
    assert 'modparam("usrloc", "db_mode", 0)' in text and "db_postgres" not in text


def test_a_location_db_switches_usrloc_to_postgresql() -> None:
    c = ClusterSettings(location_db="postgres://kamailio:secret@10.0.0.5:5432/hotline")
    text = kamailio.render(FRONT, c, Path("/x/dispatcher.list"))
    assert 'loadmodule "db_postgres.so"' in text
    assert 'modparam("usrloc", "db_url", "postgres://kamailio:secret@10.0.0.5:5432/hotline")' in text
    assert 'modparam("usrloc", "db_mode", 2)' in text


@pytest.mark.parametrize("location_db", ["", "postgres://kamailio@127.0.0.1:5432/hotline"])
def test_real_kamailio_accepts_the_generated_config(tmp_path: Path, location_db: str) -> None:
    cfg = kamailio.write(FRONT, ClusterSettings(location_db=location_db), tmp_path)
    kamailio.check(cfg)  # raises with kamailio's words if refused
    assert (tmp_path / "dispatcher.list").is_file()


def test_a_refused_config_reports_kamailios_own_error(tmp_path: Path) -> None:
    cfg = kamailio.write(FRONT, ClusterSettings(), tmp_path)
    cfg.write_text(cfg.read_text().replace('loadmodule "pike.so"', 'loadmodule "nosuchmodule.so"'))
    with pytest.raises(KamailioError, match="nosuchmodule"):
        kamailio.check(cfg)


def test_no_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        kamailio.render(Front("127.0.0.1", 5060, ()), ClusterSettings(), Path("/x"))
