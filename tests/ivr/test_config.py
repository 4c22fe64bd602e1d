"""config.toml checking: each bad value is named with its file, section, key and what was expected;
all problems come at once; the commands that load a config exit 2 on any of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ivr import config
from ivr.cli import main
from ivr.config import ConfigError, Settings

ROOT = Path(__file__).parents[2]
IVR = [sys.executable, "-m", "ivr.cli"]

# A small valid config; tests override one value at a time (values are TOML literals).
BASE: dict[str, dict[str, str]] = {
    "": {"log_level": '"INFO"', "timezone": '"Asia/Shanghai"'},
    "sip": {"bind": '"127.0.0.1"', "port": "5070", "transports": '["udp", "tcp"]', "max_calls": "100"},
    "trunk": {"mode": '"ip"', "allow": '["127.0.0.1"]'},
    "flows": {"dir": f'"{ROOT / "flows"}"', "audio": f'"{ROOT / "audio"}"'},
    "store": {"path": '"var/hotline.db"', "recordings": '"var/recordings"'},
    "speech": {"tts_cache": '"var/tts"'},
    "mqtt": {"port": "1883"},
    "web": {"port": "0"},
    "queues.general": {"strategy": '"longest_idle"', "max_wait": "600"},
    "seats#1": {
        "id": '"1001"',
        "name": '"王芳"',
        "uri": '"sip:1001@127.0.0.1:5081"',
        "queues": '["general"]',
    },
    "seats#2": {"id": '"1002"', "name": '"李强"', "uri": '"sip:1002@127.0.0.1:5082"', "password": '"pw"'},
}


def write(tmp: Path, **changes: dict[str, str | None]) -> Path:
    """BASE with some values changed (None removes a key), written as tmp/config.toml."""
    lines: list[str] = []
    for section, values in BASE.items():
        name = section.replace(".", "_").replace("#", "_") or "_"  # as a keyword: queues_general, seats_2
        merged = {**values, **changes.get(name, {})}
        if section.startswith("seats#"):
            lines.append("[[seats]]")
        elif section:
            lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in merged.items() if value is not None]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pems(folder: Path) -> None:
    """cert.pem and key.pem: enough PEM for the check (pjsua2 itself is not started here)."""
    (folder / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (folder / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"sip": {"transports": '"udp"'}},
            '[sip] transports: expected a list of "udp", "tcp", "tls", got "udp"',
        ),
        ({"sip": {"transports": '["udp", "sctp"]'}}, '[sip] transports: expected a list of "udp", "tcp"'),
        (
            {"trunk": {"allow": '"127.0.0.10"'}},
            '[trunk] allow: expected a list of IPv4 addresses such as ["127.0.0.1"], got "127.0.0.10"',
        ),
        ({"trunk": {"allow": '["10.0.0.300"]'}}, "[trunk] allow: expected a list of IPv4 addresses"),
        (
            {"seats_2": {"password": "1002"}},
            '[[seats]] #2 (id "1002") password: expected a password, or a hash from `ivr passwd`',
        ),
        (
            {"queues_general": {"max_wait": "-5"}},
            "[queues.general] max_wait: expected a number of seconds >= 0, got -5",
        ),
        (
            {"_": {"log_level": '"INOF"'}},
            'log_level: expected one of "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", got "INOF"',
        ),
        ({"sip": {"max_calls": '"lots"'}}, '[sip] max_calls: expected an integer >= 1, got "lots"'),
        ({"sip": {"max_calls": "0"}}, "[sip] max_calls: expected an integer >= 1, got 0"),
        (
            {"queues_general": {"strategy": '"longest_idel"'}},
            '[queues.general] strategy: expected one of "longest_idle", "round_robin", "fewest_calls", '
            '"least_talk_time", "skills", got "longest_idel"',
        ),
        ({"sip": {"port": "70000"}}, "[sip] port: expected a port number 0-65535, got 70000"),
        (
            {"sip": {"bind": '"my-host"'}},
            '[sip] bind: expected an IPv4 address such as "127.0.0.1", got "my-host"',
        ),
        ({"web": {"bind": '"::1"'}}, '[web] bind: expected an IPv4 address or host name such as "127.0.0.1"'),
        ({"sip": {"rtp_port_range": "0"}}, "[sip] rtp_port_range: expected an integer >= 1, got 0"),
        (
            {"sip": {"rtp_port": "65000", "rtp_port_range": "4000"}},
            "[sip] rtp_port_range: expected rtp_port + rtp_port_range <= 65536",
        ),
        (
            {"sip": {"tls_port": "5071", "tls_key": '"key.pem"'}},
            '[sip] tls_cert: expected a PEM file when tls_port is set, got ""',
        ),
        (
            {"sip": {"transports": '["tls"]'}},
            '[sip] tls_port: expected a port when transports has "tls", got 0',
        ),
        ({"trunk": {"mode": '"regster"'}}, '[trunk] mode: expected one of "ip", "register", got "regster"'),
        (
            {"trunk": {"mode": '"register"', "username": '"12345"', "password": '"pw"'}},
            '[trunk] registrar: expected a value when mode is "register"',
        ),
        ({"_": {"timezone": '"Mars/Base"'}}, 'timezone: expected a time zone such as "Asia/Shanghai"'),
        (
            {"mqtt": {"port": "true"}},
            "[mqtt] port: expected a port number 1-65535, got true",
        ),  # bool is no int
        (
            {"web": {"alert_wait_seconds": '"60"'}},
            '[web] alert_wait_seconds: expected a number of seconds >= 0, got "60"',
        ),
        (
            {"queues_general": {"skills": '{ general = "high" }'}},
            "[queues.general] skills: expected a table of skill levels",
        ),
        (
            {"queues_general": {"ring_timeout": "0"}},
            "[queues.general] ring_timeout: expected a number of seconds > 0, got 0",
        ),
        (
            {"queues_general": {"when_no_seats": '"go"'}},
            '[queues.general] when_no_seats: expected one of "wait", "leave"',
        ),
        ({"queues_general": {"callback_key": '"**"'}}, "[queues.general] callback_key: expected one key"),
        (
            {"seats_1": {"queues": '["genral"]'}},
            '[[seats]] #1 (id "1001") queues: expected names of [queues.*] tables ("general"), got "genral"',
        ),
        (
            {"seats_1": {"queues": '"general"'}},
            '[[seats]] #1 (id "1001") queues: expected a list of strings, got "general"',
        ),
        (
            {"seats_2": {"id": '"1001"'}},
            '[[seats]] #2 (id "1001") id: expected an id no other seat has, got "1001"',
        ),
        ({"seats_2": {"uri": None}}, '[[seats]] #2 (id "1002") uri: missing, expected a SIP URI'),
        (
            {"seats_1": {"wrapup_seconds": "-1"}},
            '[[seats]] #1 (id "1001") wrapup_seconds: expected a number of seconds >= 0, got -1',
        ),
        (
            {"seats_1": {"shift": '"夜班"'}},
            '[[seats]] #1 (id "1001") shift: expected one of "", "白班", "小夜班", "通宵夜班", got "夜班"',
        ),
        ({"sip": {"tansports": '["udp"]'}}, '[sip] tansports: unknown key (did you mean "transports"?'),
        ({"queues_general": {"name": '"x"'}}, "[queues.general] name: unknown key"),  # the table names it
        (
            {"flows": {"dir": "5"}},
            "[flows] dir: expected a non-empty string, got 5",
        ),  # not also "no such folder"
        (
            {"flows": {"numbers": '{ "12345" = 1 }'}},
            '[flows] numbers: expected a table of flow names, got {"12345": 1}',
        ),
    ],
)
def test_each_bad_value_is_named(
    tmp_path: Path, changes: dict[str, dict[str, str | None]], message: str
) -> None:
    pems(tmp_path)
    path = write(tmp_path, **changes)
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path}: {message}"), found  # one mistake, one message


@pytest.mark.parametrize(
    ("key", "make", "message"),
    [
        (
            "flows",
            lambda t: {"flows": {"dir": f'"{t / "no-flows"}"'}},
            "[flows] dir: no such folder: {t}/no-flows",
        ),
        ("audio", lambda t: {"flows": {"audio": '"sounds"'}}, "[flows] audio: no such folder: {t}/sounds"),
        (
            "cert",
            lambda t: {"sip": {"tls_port": "5071", "tls_cert": '"tls/cert.pem"', "tls_key": '"key.pem"'}},
            "[sip] tls_cert: no such file: {t}/tls/cert.pem",
        ),
        (
            "key",
            lambda t: {"sip": {"tls_port": "5071", "tls_cert": '"cert.pem"', "tls_key": '"missing.key"'}},
            "[sip] tls_key: no such file: {t}/missing.key",
        ),
        (
            "not pem",
            lambda t: {"sip": {"tls_port": "5071", "tls_cert": '"key.pem"', "tls_key": '"key.pem"'}},
            "[sip] tls_cert: expected a PEM file with a CERTIFICATE, got {t}/key.pem",
        ),
        (
            "store",
            lambda t: {"store": {"path": '"cert.pem/hotline.db"'}},
            "[store] path: cannot create folder",
        ),
    ],
)
def test_missing_files_and_folders_are_errors_at_start(
    tmp_path: Path, key: str, make: object, message: str
) -> None:
    pems(tmp_path)
    assert callable(make)
    path = write(tmp_path, **make(tmp_path))
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path}: {message.format(t=tmp_path)}"), found


def test_good_values_are_typed_and_files_accepted(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (tmp_path / "key.pem").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    )
    path = write(
        tmp_path,
        sip={
            "tls_port": "5071",
            "tls_cert": '"cert.pem"',
            "tls_key": '"key.pem"',
            "transports": '["udp", "tls"]',
        },
        queues_general={"max_wait": "5", "skill_widen_after": "[10, 20.5]"},
        _={"log_level": '"debug"', "timezone": '""'},
    )
    s = config.load(path)
    q = s.queues["general"]
    assert q.max_wait == 5.0 and isinstance(q.max_wait, float)  # an integer is fine where a number goes
    assert q.skill_widen_after == (10.0, 20.5)
    assert s.sip.transports == ("udp", "tls") and s.seats[1].password == "pw"
    assert s.log_level == "DEBUG" and s.timezone == ""


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        _={"log_level": '"INOF"'},
        sip={"transports": '"udp"', "max_calls": '"lots"'},
        trunk={"allow": '"127.0.0.10"'},
        flows={"dir": f'"{tmp_path / "gone"}"'},
        queues_general={"strategy": '"longest_idel"', "max_wait": "-5"},
        seats_2={"password": "1002"},
    )
    found = problems(path)
    keys = ["log_level", "transports", "max_calls", "allow", "dir", "strategy", "max_wait", "password"]
    assert len(found) == len(keys), found
    for key in keys:
        assert any(f" {key}: " in p for p in found), (key, found)
    assert all(p.startswith(f"{path}: ") for p in found)


def test_sections_and_top_level_keys_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('sip = 5\nlogging = "INFO"\n[[queues]]\nname = "x"\n', encoding="utf-8")
    found = problems(path)
    assert f"{path}: [sip] expected a table, got 5" in found
    assert any(p.startswith(f"{path}: logging: unknown key") for p in found), found
    assert f'{path}: [queues] expected a table, got [{{"name": "x"}}]' in found


def test_the_shipped_config_is_clean() -> None:
    settings = config.load(ROOT / "config.toml")
    assert isinstance(settings, Settings)
    assert settings.seats and settings.queues and settings.sip.transports == ("udp", "tcp")


def test_parse_checks_values_without_the_file_system(tmp_path: Path) -> None:
    """`parse` (built in tests from a dict) checks types and ranges; folders are `load`'s job."""
    assert config.parse({"flows": {"dir": "nowhere"}}, tmp_path / "config.toml").flows_dir == Path("nowhere")
    with pytest.raises(ConfigError, match=r"\[web\] port: expected a port number 0-65535, got -1"):
        config.parse({"web": {"port": -1}}, tmp_path / "config.toml")


def test_voice_gate_keys_are_checked(tmp_path: Path) -> None:
    speech = config.parse({"speech": {"voice_gate": False, "end_silence": 0.4}}, tmp_path / "c.toml").speech
    assert (speech.voice_gate, speech.end_silence) == (False, 0.4)
    with pytest.raises(
        ConfigError, match=r"\[speech\] end_silence: expected a number of seconds from 0.1 to 2"
    ):
        config.parse({"speech": {"end_silence": 5}}, tmp_path / "c.toml")
    with pytest.raises(ConfigError, match=r"\[speech\] voice_gate"):
        config.parse({"speech": {"voice_gate": "yes"}}, tmp_path / "c.toml")


# -- the real commands --


def test_serve_exits_2_naming_each_bad_value(tmp_path: Path) -> None:
    path = write(tmp_path, sip={"transports": '"udp"'}, seats_2={"password": "1002"})
    res = subprocess.run(
        [*IVR, "serve", "--config", str(path), "--duration", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert "answering on" not in res.stdout
    assert f'ivr: {path}: [sip] transports: expected a list of "udp", "tcp", "tls", got "udp"' in res.stderr
    assert f'ivr: {path}: [[seats]] #2 (id "1002") password: expected a password, or a hash' in res.stderr
    assert "Traceback" not in res.stderr


def test_doctor_exits_2_on_a_missing_flows_folder(tmp_path: Path) -> None:
    path = write(tmp_path, flows={"dir": '"flows"'})
    res = subprocess.run(
        [*IVR, "doctor", "--config", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"ivr: {path}: [flows] dir: no such folder: {tmp_path / 'flows'}" in res.stderr


def test_flows_and_demo_commands_exit_2_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, queues_general={"strategy": '"longest_idel"'})
    workdir = tmp_path / "demo"
    workdir.mkdir()
    (workdir / "keep").write_text("")
    for argv in (
        ["flows", "check", "--config", str(path)],
        ["demo", "--config", str(path), "--workdir", str(workdir)],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
        assert "[queues.general] strategy: expected one of" in capsys.readouterr().err
    assert (workdir / "keep").exists()  # the demo stopped before wiping its work folder


# --- [cluster] (ivr cluster up) ---------------------------------------------------------------


def load_cluster(tmp_path: Path, cluster: str) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(f"[cluster]\n{cluster}\n", encoding="utf-8")
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "audio").mkdir(exist_ok=True)
    return config.load(path)


def test_cluster_defaults(tmp_path: Path) -> None:
    c = load_cluster(tmp_path, "").cluster
    assert (c.nodes, c.proxy_port, c.trunk_allow, c.location_db) == (2, 5060, ("127.0.0.1",), "")


def test_cluster_keys_are_read(tmp_path: Path) -> None:
    c = load_cluster(tmp_path, 'nodes = 4\ntrunk_allow = ["10.0.0.0/8"]\ninvite_timeout = 1.5').cluster
    assert (c.nodes, c.trunk_allow, c.invite_timeout) == (4, ("10.0.0.0/8",), 1.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("node = 3", r"\[cluster\] node: unknown key.*nodes"),
        ("nodes = 0", r"\[cluster\] nodes: expected a whole number from 1 to 64, got 0"),
        ("proxy_port = 70000", r"\[cluster\] proxy_port: expected a port number 0-65535, got 70000"),
        (
            'trunk_allow = ["10.0.0.300"]',
            r"\[cluster\] trunk_allow: expected a list of addresses or networks",
        ),
        ("flood_invites = 0", r"\[cluster\] flood_invites: expected an integer >= 1, got 0"),
        ("invite_timeout = 0", r"\[cluster\] invite_timeout: expected a number of seconds > 0, got 0"),
        ('location_db = "mysql://x"', r"\[cluster\] location_db: expected a postgres:// URL"),
        ("node_rtp_span = 4", r"\[cluster\] node_rtp_span: expected a number of ports >= 20, got 4"),
    ],
)
def test_bad_cluster_settings_are_refused_with_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_cluster(tmp_path, text)


# --- [understanding] (hot spots) ----------------------------------------------------------------


def test_hot_spot_threshold_and_window_are_read_and_checked(tmp_path: Path) -> None:
    u = config.parse(
        {"understanding": {"hot_spot_threshold": 5, "hot_spot_window_minutes": 30}}, tmp_path / "c"
    )
    assert (u.understanding.hot_spot_threshold, u.understanding.hot_spot_window_minutes) == (5, 30)
    assert config.parse({}, tmp_path / "c").understanding.hot_spot_threshold == 3
    with pytest.raises(ConfigError) as err:
        config.parse({"understanding": {"hot_spot_threshold": 1, "hot_spot_window": 5}}, tmp_path / "c")
    text = str(err.value)
    assert "[understanding] hot_spot_threshold: expected a number of calls >= 2, got 1" in text
    assert "[understanding] hot_spot_window: unknown key" in text


def with_taxonomy(tmp: Path, name: str) -> Path:
    path = write(tmp)
    path.write_text(
        path.read_text(encoding="utf-8") + f'[understanding]\ntaxonomy = "{name}"\n', encoding="utf-8"
    )
    return path


def test_a_centres_taxonomy_is_checked_at_load_with_line_numbers(tmp_path: Path) -> None:
    csv_file = tmp_path / "centre.csv"
    csv_file.write_text(
        "category1,category2,category3,unit\n"
        "城市管理,市政设施,路灯,{区}城管委\n"
        "城市管理,市容环境,占道经营,{区}城管执法局\n"
        "城市管理,市政设施,路灯,{区}城管委\n"
        "交通管理,,违章停车,{区}交通支队\n"
        "教育,学校管理,收费,\n",
        encoding="utf-8",
    )
    found = problems(with_taxonomy(tmp_path, "centre.csv"))
    assert f"[understanding] taxonomy: {csv_file}:4: 城市管理/市政设施/路灯 repeats line 2" in " ".join(found)
    assert any(f"{csv_file}:5: empty category2" in p for p in found)
    assert any(f"{csv_file}:6: no unit for 教育/学校管理/收费" in p for p in found)
    assert any("taxonomy: cannot read" in p for p in problems(with_taxonomy(tmp_path, "no.csv")))
    bad = problems(with_taxonomy(tmp_path, "centre.xlsx"))
    assert any('taxonomy: expected a CSV file such as "taxonomy.csv"' in p for p in bad)
    csv_file.write_text(
        "category1,category2,category3,unit\n城市管理,市政设施,路灯,{区}城管委\n", encoding="utf-8"
    )
    settings = config.load(with_taxonomy(tmp_path, "centre.csv"))
    assert settings.resolve(settings.understanding.taxonomy) == csv_file


# --- [controls] (the operators' call controls) ---------------------------------------------------


def test_controls_name_a_configured_leader_and_are_checked(tmp_path: Path) -> None:
    seats = [{"id": "1001", "name": "王芳", "uri": "sip:1001@127.0.0.1"}]
    c = config.parse({"seats": seats, "controls": {"leader_seat": "1001"}}, tmp_path / "c")
    assert c.controls.leader_seat == "1001" and c.controls.hold_music == "hold.wav"
    assert config.parse({}, tmp_path / "c").controls.leader_seat == ""  # no leader: that target is refused
    with pytest.raises(ConfigError) as err:
        config.parse(
            {"seats": seats, "controls": {"leader_seat": "9999", "answer_seconds": 0, "music": "x"}},
            tmp_path / "c",
        )
    text = str(err.value)
    assert '[controls] leader_seat: expected the id of a [[seats]] entry ("1001"), got "9999"' in text
    assert "[controls] answer_seconds: expected a number of seconds > 0, got 0" in text
    assert "[controls] music: unknown key" in text
