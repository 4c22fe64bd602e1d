"""Places in a caller's sentence: district, street, compound and road, without the words around."""

from __future__ import annotations

from ivr.understanding.place import place_in

DISTRICTS = ("朝阳区", "海淀区", "丰台区", "昌平区", "通州区")


def test_all_four_kinds() -> None:
    said = "我住在朝阳区望京街道花家地小区，就在望京西路边上"
    assert place_in(said, DISTRICTS) == {
        "district": "朝阳区",
        "street": "望京街道",
        "compound": "花家地小区",
        "road": "望京西路",
    }


def test_a_district_said_without_its_suffix() -> None:
    assert place_in("我家在昌平回龙观东村", DISTRICTS) == {"district": "昌平区", "compound": "回龙观东村"}


def test_house_numbers_stay_with_the_road() -> None:
    assert place_in("海淀区中关村大街27号门口", DISTRICTS)["road"] == "中关村大街27号"


def test_no_place_in_ordinary_words() -> None:
    for said in ("这个区的学校怎么报名", "那个马路上全是坑", "我们一条街都停电了", "路灯不亮了"):
        assert place_in(said, DISTRICTS) == {}, said
