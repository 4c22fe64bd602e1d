"""A centre's seat list as CSV: checked whole, problems with their line numbers."""

from __future__ import annotations

from ivr.records import Team
from ivr.roster import check

HEADER = "id,name,uri,team,leader,shift,skills,queues,password,wrapup_seconds\n"


def _check(text: str, encoding: str = "utf-8") -> list[str]:
    got = check(
        text.encode(encoding),
        name="seats.csv",
        queues=("general", "urgent"),
        config_ids=("1001",),
        teams=(Team("t1", "一班"),),
    )
    return got.problems


def test_a_good_file_gives_seats_teams_and_leaders() -> None:
    text = (
        HEADER
        + "2001,王芳,sip:2001@10.0.0.21,一班,是,白班,general:5;complaint:3,general;urgent,op-secret-1,10\n"
        + "2002,李明,sip:2002@10.0.0.22,三班,,通宵夜班,,general,,\n"
        + "\n"
    )
    got = check(
        text.encode("gb18030"),  # as Excel saves it on a Chinese desktop
        name="seats.csv",
        queues=("general", "urgent"),
        config_ids=(),
        teams=(Team("t1", "一班"),),
    )
    assert got.problems == []
    assert [s.id for s in got.seats] == ["2001", "2002"]
    first = got.seats[0]
    assert first.team == "t1" and first.skills == {"general": 5, "complaint": 3}
    assert first.queues == ("general", "urgent") and first.shift == "白班" and first.wrapup_seconds == 10
    assert got.passwords == {"2001": "op-secret-1"} and first.password_hash == ""
    assert [t.name for t in got.new_teams] == ["三班"] and got.leaders == {"t1": "2001"}


def test_every_problem_names_its_line_and_nothing_is_taken() -> None:
    text = (
        HEADER
        + "2001,王芳,sip:2001@10.0.0.21,一班,是,白班,,general,,\n"  # line 2: fine
        + "1001,赵,sip:1001@10.0.0.1,,,,,,,\n"  # 3: a config.toml seat
        + "2001,钱,sip:2001b@10.0.0.1,,,,,,,\n"  # 4: duplicate id
        + "2003,孙,10.0.0.3,,,夜班,general=5,nowhere,short,-1\n"  # 5: five problems
        + "2004,周,sip:2004@10.0.0.4,一班,是,,,,,\n"  # 6: a second leader
        + "2005,吴,sip:2005@10.0.0.5\n"  # 7: too few fields
    )
    problems = _check(text)
    assert problems[0] == "seats.csv:3: id: seat 1001 is defined in config.toml (change it there)"
    assert problems[1] == "seats.csv:4: id: seat 2001 already on line 2"
    line5 = [p for p in problems if p.startswith("seats.csv:5: ")]
    assert [p.split(": ")[1] for p in line5] == [
        "uri",
        "shift",
        "skills",
        "queues",
        "password",
        "wrapup_seconds",
    ]
    assert "seats.csv:6: leader: team 一班 already has its leader on line 2" in problems
    assert "seats.csv:7: 3 fields, the header has 10" in problems


def test_a_wrong_header_is_line_one() -> None:
    (problem,) = _check("id,name,phone\n2001,王芳,sip:2001@h\n")
    assert problem.startswith("seats.csv:1: unknown columns phone; missing columns uri")
    assert _check("") == ["seats.csv:1: empty file (expected a header: " + HEADER.strip() + ")"]
