"""Each node's generated config: its own ports, database and broker, the proxy as its trunk."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr import config
from ivr.cluster import nodes
from ivr.config import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def base(tmp_path: Path, cluster: str = "") -> config.Settings:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(text + '\n[cluster]\nworkdir = "var/c"\n' + cluster, encoding="utf-8")
    for folder in ("flows", "audio"):  # the shipped config names them relative to itself
        (tmp_path / folder).symlink_to(ROOT / folder)
    return config.load(path)


def test_nodes_get_distinct_ports_and_folders(tmp_path: Path) -> None:
    s = base(
        tmp_path, "node_sip_port = 5401\nnode_web_port = 8401\nnode_rtp_port = 40000\nnode_rtp_span = 1000\n"
    )
    plans = nodes.plan(s, 3, tmp_path / "var/c")
    assert [p.name for p in plans] == ["node1", "node2", "node3"]
    assert [p.sip_port for p in plans] == [5401, 5402, 5403]
    assert [p.web_port for p in plans] == [8401, 8402, 8403]
    assert [p.rtp_port for p in plans] == [40000, 41000, 42000]  # ranges of 1000 never overlap
    assert len({p.folder for p in plans}) == 3


def test_rtp_ranges_past_65535_are_refused(tmp_path: Path) -> None:
    s = base(tmp_path, "node_rtp_port = 60000\nnode_rtp_span = 2000\n")
    with pytest.raises(ConfigError, match="past port 65535"):
        nodes.plan(s, 4, tmp_path)


def test_a_node_config_is_a_valid_config_of_its_own(tmp_path: Path) -> None:
    s = base(tmp_path)
    plan = nodes.plan(s, 2, tmp_path / "var/c")[1]
    doc = nodes.node_config(s, plan, proxy=("127.0.0.1", 5060), broker=("127.0.0.1", 1999))
    path = nodes.write_node_config(doc, plan.config)
    node = config.load(path)  # the same checks `ivr serve` applies
    assert node.sip.port == plan.sip_port and node.sip.rtp_port == plan.rtp_port
    assert node.trunk.allow == ("127.0.0.1",)  # only the proxy: Kamailio holds the real allow-list
    assert node.resolve(node.store.path) == plan.folder / "hotline.db"
    assert (node.mqtt.host, node.mqtt.port, node.mqtt.client_id) == ("127.0.0.1", 1999, "hotline-node2")
    assert node.resolve(node.flows_dir) == s.resolve(s.flows_dir)  # paths stay the base config's
    assert [seat.uri for seat in node.seats] == ["sip:1001@127.0.0.1:5060", "sip:1002@127.0.0.1:5060"]
    assert node.seats[0].skills == s.seats[0].skills and node.numbers == s.numbers
    assert node.cluster == config.ClusterSettings()  # no [cluster] in a node's config


def test_a_node_on_the_cluster_broker_uses_its_own_account(tmp_path: Path) -> None:
    s = base(tmp_path)
    plan = nodes.plan(s, 2, tmp_path / "var/c")[0]
    secret = tmp_path / "var/c/broker/hotline-node1.password"
    doc = nodes.node_config(
        s, plan, proxy=("127.0.0.1", 5060), broker=("127.0.0.1", 1999), password_file=secret
    )
    node = config.load(nodes.write_node_config(doc, plan.config))
    assert (node.mqtt.client_id, node.mqtt.username) == ("hotline-node1", "hotline-node1")
    assert node.mqtt.password_file == str(secret) and node.mqtt.password == ""  # the file, not the secret


def test_every_node_gets_the_centres_shared_store_when_there_is_one(tmp_path: Path) -> None:
    s = base(tmp_path)
    plan = nodes.plan(s, 2, tmp_path / "var/c")[0]
    url = "postgresql://hotline:secret@127.0.0.1:5999/hotline"
    doc = nodes.node_config(s, plan, proxy=("127.0.0.1", 5060), broker=("127.0.0.1", 1999), store_url=url)
    node = config.load(nodes.write_node_config(doc, plan.config))
    assert node.store.url == url
    assert node.resolve(node.store.recordings) == plan.folder / "recordings"  # media stays per node
    alone = nodes.node_config(s, plan, proxy=("127.0.0.1", 5060), broker=("127.0.0.1", 1999))
    assert "url" not in alone.get("store", {}) or not alone["store"]["url"]


def test_fixed_seat_uris_stay_when_seats_do_not_register(tmp_path: Path) -> None:
    s = base(tmp_path, "seats_register = false\n")
    plan = nodes.plan(s, 1, tmp_path)[0]
    doc = nodes.node_config(s, plan, proxy=("127.0.0.1", 5060), broker=("127.0.0.1", 1999))
    assert [seat["uri"] for seat in doc["seats"]] == [seat.uri for seat in s.seats]


scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)
keys = st.text(min_size=1, max_size=8)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(keys, scalars, max_size=3))
tables = st.dictionaries(keys, values, max_size=4)


@given(st.dictionaries(keys, st.one_of(values, tables, st.lists(tables, min_size=1, max_size=2)), max_size=5))
def test_dump_toml_reads_back_as_the_same_document(doc: dict[str, object]) -> None:
    assert tomllib.loads(nodes.dump_toml(doc)) == doc
