"""The contact chain's order per category and its stale flags: pure rules, no store."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.contact_chain import build_chain, is_digits_query, lookup_keys, normalize, rank
from domain.incident import is_overdue

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RECENT = (NOW - timedelta(days=3)).isoformat()


def child(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张小明", "school": "白沙关小学", "class_name": "六(2)班",
        "township": "白沙关镇", "village": "白沙关村", "id_number": "522601201403051228",
        "guardian": {"name": "张奶奶", "relation": "祖母", "phone": "13800001111"},
        "parents": [{"name": "张大山", "relation": "父亲", "phone": "13700002222"},
                    {"name": "李芳", "relation": "母亲", "phone": "13700004444"}],
        "pairings": ["h-volunteer"],
    }
    body.update(over)
    return body


def helper(helper_id: str, role: str, **over: Any) -> dict[str, Any]:
    body = {"helper_id": helper_id, "name": helper_id, "role": role, "agency": "school",
            "phone": "139" + str(abs(hash(helper_id)))[:8].rjust(8, "0"),
            "confirmed_at": RECENT, "school": "", "class_name": "", "township": "",
            "village": ""}
    body.update(over)
    return body


HELPERS = [
    helper("h-supervisor", "township_supervisor", township="白沙关镇"),
    helper("h-grid", "grid_worker", township="白沙关镇", village="白沙关村"),
    helper("h-director", "child_director", township="白沙关镇", village="白沙关村"),
    helper("h-volunteer", "volunteer"),
    helper("h-teacher", "class_teacher", school="白沙关小学", class_name="六(2)班"),
    helper("h-other-teacher", "class_teacher", school="白沙关小学", class_name="六(1)班"),
    helper("h-other-director", "child_director", township="别镇", village="白沙关村"),
]
DEFAULT = ["guardian", "parent", "parent", "class_teacher", "paired_helper", "child_director",
           "grid_worker", "township_supervisor"]


def roles(category: str | None, confirmed: dict[str, str] | None = None) -> list[str]:
    chain = build_chain(child(), HELPERS, confirmed or {}, category, NOW)
    return [e["role"] for e in chain]


def test_default_order_is_family_then_school_then_helpers_then_place() -> None:
    assert roles(None) == DEFAULT
    assert roles("bullying") == DEFAULT


@pytest.mark.parametrize("category", ["missing", "drowning", "abuse", "living_alone"])
def test_police_first_for_missing_drowning_abuse(category: str) -> None:
    chain = build_chain(child(), HELPERS, {}, category, NOW)
    assert chain[0] == {"role": "police_110", "name": "公安 110", "relation": "",
                        "phone": "110", "agency": "police", "last_confirmed_at": None,
                        "stale": False}
    assert [e["role"] for e in chain[1:]] == DEFAULT


@pytest.mark.parametrize("category", ["injury", "severe_illness"])
def test_ambulance_first_for_injury_and_illness(category: str) -> None:
    assert roles(category) == ["ambulance_120", *DEFAULT]


def test_only_the_class_teacher_of_the_childs_class_and_village_of_the_township() -> None:
    chain = build_chain(child(), HELPERS, {}, None, NOW)
    ids = [e.get("helper_id") for e in chain if e.get("helper_id")]
    assert "h-other-teacher" not in ids and "h-other-director" not in ids


def test_a_paired_class_teacher_is_called_once() -> None:
    chain = build_chain(child(pairings=["h-teacher"]), HELPERS, {}, None, NOW)
    assert [e["role"] for e in chain].count("class_teacher") == 1
    assert "paired_helper" not in [e["role"] for e in chain]


def test_each_entry_has_the_contract_fields() -> None:
    for entry in build_chain(child(), HELPERS, {}, "injury", NOW):
        assert {"role", "name", "relation", "phone", "agency", "last_confirmed_at",
                "stale"} <= set(entry)


def test_a_phone_is_stale_after_180_days_unconfirmed() -> None:
    confirmed = {"13800001111": (NOW - timedelta(days=180)).isoformat(),
                 "13700002222": (NOW - timedelta(days=181)).isoformat()}
    chain = build_chain(child(), [], confirmed, None, NOW)
    guardian, father, mother = chain
    assert guardian["stale"] is False and guardian["last_confirmed_at"] == confirmed["13800001111"]
    assert father["stale"] is True
    assert mother["stale"] is True and mother["last_confirmed_at"] is None


def test_a_helper_phone_takes_the_latest_confirmation() -> None:
    old = (NOW - timedelta(days=300)).isoformat()
    teacher = helper("h-teacher", "class_teacher", school="白沙关小学", class_name="六(2)班",
                     confirmed_at=old)
    chain = build_chain(child(pairings=[]), [teacher], {teacher["phone"]: RECENT}, None, NOW)
    assert chain[-1]["last_confirmed_at"] == RECENT and chain[-1]["stale"] is False


def test_lookup_keys_cover_name_pinyin_initials_phones_id_class_village() -> None:
    keys = lookup_keys(child(name="王张小明"))
    for expected in [("name", "王张小明"), ("name_part", "张小明"), ("name_part", "小明"),
                     ("pinyin", "wangzhangxiaoming"), ("pinyin_part", "xiaoming"),
                     ("initials", "wzxm"), ("initials_part", "xm"),
                     ("phone", "#11110000831"), ("id_number", "#822150304102106225"),
                     ("class", "白沙关小学六(2)班"), ("village", "白沙关村")]:
        assert expected in keys


def test_normalize_folds_full_width_and_spaces() -> None:
    assert normalize("白沙关小学 六（2）班") == "白沙关小学六(2)班"
    assert normalize("Zhang Xiao") == "zhangxiao"
    assert is_digits_query("1228") and is_digits_query("05122x") and not is_digits_query("122")


def test_rank_exact_name_before_prefix_before_contains() -> None:
    assert rank("name", "张小明", "张小明") < rank("name", "张小明亮", "张小明")
    assert rank("name", "张小明亮", "张小明") < rank("name_part", "张小明", "张小明")


def test_abuse_without_police_report_is_overdue_after_24h() -> None:
    reported = NOW - timedelta(hours=25)
    assert is_overdue("abuse", reported, None, NOW)
    assert not is_overdue("abuse", NOW - timedelta(hours=23), None, NOW)
    assert not is_overdue("abuse", reported, reported + timedelta(hours=2), NOW)
    assert not is_overdue("injury", reported, None, NOW)


def test_helpers_serve_their_own_place_only_and_a_blank_township_serves_any() -> None:
    """HelperIndex: the class's teachers, the village's director and grid worker (a blank
    township: any), the township's supervisors and the county-wide one, by name."""
    helpers = [*HELPERS,
               helper("h-county-supervisor", "township_supervisor"),
               helper("h-another-supervisor", "township_supervisor", township="别镇"),
               helper("h-any-director", "child_director", village="白沙关村"),
               helper("h-elsewhere-grid", "grid_worker", township="白沙关镇", village="别村"),
               helper("h-a-teacher", "class_teacher", school="白沙关小学", class_name="六(2)班")]
    named = [(e["role"], e["helper_id"]) for e in build_chain(child(pairings=[]), helpers, {},
                                                              None, NOW) if "helper_id" in e]
    assert named == [("class_teacher", "h-a-teacher"), ("class_teacher", "h-teacher"),
                     ("child_director", "h-any-director"), ("child_director", "h-director"),
                     ("grid_worker", "h-grid"),
                     ("township_supervisor", "h-county-supervisor"),
                     ("township_supervisor", "h-supervisor")]
    # A child with no village on file is served by no village's helpers.
    unplaced = build_chain(child(village=None, pairings=[]), helpers, {}, None, NOW)
    assert not {"child_director", "grid_worker"} & {e["role"] for e in unplaced}


def test_initials_are_pypinyins_first_letters_of_the_same_reading() -> None:
    """The initials keys come from the full pinyin's syllables (one segmentation, not two);
    they must be what pypinyin's FIRST_LETTER style gives, heteronyms and stray marks too."""
    from pypinyin import Style, lazy_pinyin

    for name in ("张小明", "曾长乐", "单重阳", "解朝华", "区仇朴", "查小丽", "吕绿", "A·李1"):
        expected = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore"))
        assert ("initials", expected.lower()) in lookup_keys({"name": name}) or len(expected) < 2
