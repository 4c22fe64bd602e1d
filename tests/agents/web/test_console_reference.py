"""Taxonomy, unit suggestion, knowledge base, OpenAPI coverage, free ports."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route
from web_rig import Rig

from agents.web.knowledge import KnowledgeBase
from agents.web.openapi import spec
from agents.web.taxonomy import Taxonomy, TaxonomyError, district_of, fill_unit


def test_shipped_taxonomy_is_three_levels_of_a_few_hundred() -> None:
    t = Taxonomy.load()
    assert 250 <= len(t.items) <= 600
    assert len(t.tree()) >= 10
    assert {i.levels for i in t.items}.__len__() == len(t.items)  # no duplicate paths


def test_type_ahead_finds_the_deepest_level_first() -> None:
    t = Taxonomy.load()
    assert t.search("装修噪音")[0].levels == ("环境保护", "噪声污染", "装修噪音")
    assert t.search("欠薪")[0].levels[0] == "人力资源社会保障"
    assert any(c.levels[2] == "井盖缺失" for c in t.search("井盖"))
    assert t.search("") == [] and t.search("量子计算机") == []


def test_unit_suggestion_uses_the_district_of_the_address() -> None:
    t = Taxonomy.load()
    assert district_of("北京市朝阳区建国路88号") == "朝阳区"
    assert district_of("幸福小区3号楼") == ""
    assert t.suggest_unit("城市管理", "市容环境", "占道经营", "海淀区中关村大街1号") == "海淀区城管执法局"
    assert t.suggest_unit("城市管理", "", "", "幸福小区") == "市城管执法局"
    assert fill_unit("市生态环境局{区}分局", "") == "市生态环境局"


def test_taxonomy_csv_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("category1,category2,category3,unit\n城市管理,,路灯,x\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=":2:"):
        Taxonomy.load(bad)


def test_knowledge_search_as_you_type() -> None:
    kb = KnowledgeBase.load()
    assert len(kb.articles) >= 20
    assert kb.search("社保卡丢了")[0].title == "社保卡丢失补办"
    assert kb.search("有煤气味")[0].title == "燃气泄漏怎么办"
    assert kb.search("   ") == []


async def test_openapi_describes_every_route(rig: Rig) -> None:
    doc = (await rig.http.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for route in rig.server.app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            methods = {m.lower() for m in route.methods or ()} - {"head"}
            assert route.path in doc["paths"], route.path
            assert methods <= set(doc["paths"][route.path]), (route.path, methods)
    assert doc == spec()


async def test_port_zero_picks_a_free_port(rig: Rig, tmp_path: Path) -> None:
    other = Rig(tmp_path / "b")
    await other.start()
    try:
        assert rig.server.url != other.server.url and not rig.server.url.endswith(":0/")
        page = await other.http.get("/")
        assert page.status_code in (302, 307) and page.headers["location"] == "/static/index.html"
        html = await other.http.get("/static/seat.html")
        assert html.status_code == 200 and "话务员工作台" in html.text
    finally:
        await other.stop()


async def test_type_ahead_reads_the_centres_own_taxonomy_of_3000_rows(tmp_path: Path) -> None:
    rows = ["category1,category2,category3,unit"]
    rows += [f"门类{i // 300},小类{i // 30},事项{i},{{区}}城管委" for i in range(2999)]
    rows.append("城市管理,市政设施,智慧灯杆故障,{区}城管委")
    (tmp_path / "centre.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rig = Rig(tmp_path, understanding={"taxonomy": "centre.csv"})
    await rig.start()
    try:
        seat = await rig.login("1001")
        tree = (await rig.http.get("/api/taxonomy", headers=seat)).json()
        assert tree["count"] == 3000 and "门类9" in tree["tree"]
        found = (await rig.http.get("/api/taxonomy/search", params={"q": "智慧灯杆"}, headers=seat)).json()
        assert found[0]["path"] == "城市管理/市政设施/智慧灯杆故障"
        suggest = {"category1": "城市管理", "category2": "市政设施", "address": "北京市朝阳区建国路"}
        unit = (await rig.http.get("/api/units/suggest", params=suggest, headers=seat)).json()
        assert unit["unit"] == "朝阳区城管委"
    finally:
        await rig.stop()
