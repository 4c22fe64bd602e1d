"""config.toml's [cluster] section: defaults, and clear refusals of what cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr import config
from ivr.config import ConfigError


def load(tmp_path: Path, cluster: str) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(f"[cluster]\n{cluster}\n", encoding="utf-8")
    return config.load(path)


def test_cluster_defaults(tmp_path: Path) -> None:
    c = load(tmp_path, "").cluster
    assert (c.nodes, c.proxy_port, c.trunk_allow, c.location_db) == (2, 5060, ("127.0.0.1",), "")


def test_cluster_keys_are_read(tmp_path: Path) -> None:
    c = load(tmp_path, 'nodes = 4\ntrunk_allow = ["10.0.0.0/8"]\ninvite_timeout = 1.5').cluster
    assert (c.nodes, c.trunk_allow, c.invite_timeout) == (4, ("10.0.0.0/8",), 1.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("node = 3", "unknown key.*node.*known:.*nodes"),
        ("nodes = 0", "nodes must be 1..64"),
        ("proxy_port = 70000", "proxy_port must be a port number"),
        ('trunk_allow = ["10.0.0.300"]', "'10.0.0.300' is not an address or network"),
        ("flood_invites = 0", "flood_invites"),
        ("invite_timeout = 0", "invite_timeout must be positive"),
        ('location_db = "mysql://x"', "location_db must be a postgres:// URL"),
        ("node_rtp_span = 4", "node_rtp_span must be at least 20"),
    ],
)
def test_bad_cluster_settings_are_refused_with_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)
