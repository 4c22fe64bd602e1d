"""The media nodes of a cluster: their ports and folders, and each node's own config.toml.

A node is a plain `ivr serve` with a generated config: the base config's flows, queues and seats,
its own SIP, RTP and web ports, its own SQLite file under <workdir>/<node>/ (until the shared
store lands), the cluster's one broker, and a trunk allow-list holding only the proxy, since the
real allow-list is enforced by Kamailio.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.config import ConfigError, Settings
from ivr.ports import free_port


@dataclass(frozen=True)
class NodePlan:
    name: str  # node1, node2 ...
    sip_port: int
    rtp_port: int
    rtp_span: int
    web_port: int
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "node.toml"

    @property
    def status_file(self) -> Path:
        return self.folder / "status.json"

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"


def plan(settings: Settings, count: int, workdir: Path) -> list[NodePlan]:
    """Ports and folders for `count` nodes: fixed ports from [cluster], or free ones where 0."""
    c = settings.cluster
    if count < 1:
        raise ConfigError([f"{settings.source}: [cluster] nodes: expected at least 1, got {count}"])
    if c.node_rtp_port and c.node_rtp_port + count * c.node_rtp_span > 65535:
        raise ConfigError(
            [
                f"{settings.source}: [cluster] node_rtp_span: {count} nodes x {c.node_rtp_span} ports "
                f"from node_rtp_port {c.node_rtp_port} run past port 65535"
            ]
        )
    nodes = []
    for i in range(count):
        name = f"node{i + 1}"
        nodes.append(
            NodePlan(
                name=name,
                sip_port=c.node_sip_port + i if c.node_sip_port else free_port(c.proxy_bind),
                rtp_port=(c.node_rtp_port or 40000) + i * c.node_rtp_span,
                rtp_span=c.node_rtp_span,
                web_port=c.node_web_port + i if c.node_web_port else 0,
                folder=workdir / name,
            )
        )
    return nodes


def _absolute(settings: Settings, value: str) -> str:
    return str(settings.resolve(value)) if value else value


def client_id(node: NodePlan) -> str:
    """The node's MQTT client id (and, on the cluster's own broker, its account)."""
    return f"hotline-{node.name}"


def node_config(
    settings: Settings,
    node: NodePlan,
    *,
    proxy: tuple[str, int],
    broker: tuple[str, int],
    password_file: Path | None = None,
    store_url: str = "",
) -> dict[str, Any]:
    """The node's settings as a TOML document (a dict), derived from the base config's own text.
    `password_file`: the node's account on the cluster's own broker (the file, not the password,
    goes into the config); `store_url`: the centre's shared store (else one SQLite file per node)."""
    raw: dict[str, Any] = tomllib.loads(settings.source.read_text(encoding="utf-8"))
    raw.pop("cluster", None)
    sip = raw.setdefault("sip", {})
    sip.update(port=node.sip_port, rtp_port=node.rtp_port, rtp_port_range=node.rtp_span)
    for key in ("tls_cert", "tls_key"):
        if sip.get(key):
            sip[key] = _absolute(settings, str(sip[key]))
    raw["trunk"] = {"mode": "ip", "allow": [proxy[0]]}  # Kamailio enforces the trunk's allow-list
    flows = raw.setdefault("flows", {})
    flows["dir"] = str(settings.resolve(settings.flows_dir))
    flows["audio"] = str(settings.resolve(settings.audio_dir))
    speech = raw.setdefault("speech", {})
    speech["model"] = _absolute(settings, settings.speech.model)
    speech["tts_cache"] = _absolute(settings, settings.speech.tts_cache)
    # other files the base config names, relative to it: absolute, as the node's config lives elsewhere
    for section, key, value in (
        ("qa", "checklist", settings.qa.checklist),
        ("deadlines", "calendar", settings.deadlines.calendar),
        ("understanding", "taxonomy", settings.understanding.taxonomy),
        ("web", "cert", settings.web.cert),
        ("web", "key", settings.web.key),
    ):
        if value:
            raw.setdefault(section, {})[key] = _absolute(settings, value)
    store = raw.setdefault("store", {})
    store.update(path=str(node.folder / "hotline.db"), recordings=str(node.folder / "recordings"))
    if store_url:
        store["url"] = store_url
    mqtt = raw.setdefault("mqtt", {})
    mqtt.update(host=broker[0], port=broker[1], client_id=client_id(node))
    if password_file is not None:
        mqtt.update(username=client_id(node), password_file=str(password_file), password="")
    for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):  # paths of the base config's
        if mqtt.get(key):
            mqtt[key] = _absolute(settings, str(mqtt[key]))
    raw.setdefault("web", {})["port"] = node.web_port
    if settings.cluster.seats_register:  # operators' phones register at the proxy
        for seat in raw.get("seats", []):
            seat["uri"] = f"sip:{seat['id']}@{proxy[0]}:{proxy[1]}"
    return raw


def write_node_config(doc: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_toml(doc), encoding="utf-8")
    return path


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _string(v: str) -> str:
    # a JSON string is a TOML basic string, except that TOML wants DEL escaped
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else _string(k)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dump_toml(doc: dict[str, Any], prefix: str = "") -> str:
    """TOML for the documents tomllib reads from a config.toml (tables, arrays of tables,
    strings, numbers, booleans, lists and inline tables of those)."""
    out: list[str] = []
    tables: list[tuple[str, Any]] = []
    for k, v in doc.items():
        if isinstance(v, dict) or _is_table_array(v):
            tables.append((k, v))
        else:
            out.append(f"{_key(k)} = {_value(v)}")
    for k, v in tables:
        name = f"{prefix}{_key(k)}"
        if isinstance(v, dict):
            out.append(f"\n[{name}]")
            out.append(dump_toml(v, prefix=f"{name}.").strip("\n"))
        else:
            for item in v:
                out.append(f"\n[[{name}]]")
                out.append(dump_toml(item, prefix=f"{name}.").strip("\n"))
    return "\n".join(line for line in out if line != "") + "\n"
