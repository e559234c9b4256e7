"""The emergency contact chain (应急联系链) and the lookup's search keys: pure rules, no I/O."""

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pypinyin import lazy_pinyin

# A phone nobody has confirmed for this long may no longer reach anyone (docs/DOMAIN.md §4).
STALE_AFTER = timedelta(days=180)

POLICE = {"role": "police_110", "name": "公安 110", "relation": "", "phone": "110",
          "agency": "police"}
AMBULANCE = {"role": "ambulance_120", "name": "急救 120", "relation": "", "phone": "120",
             "agency": "hospital"}
# By incident category, which public service is called before anyone else.
PUBLIC_FIRST: dict[str, dict[str, str]] = {
    "missing": POLICE, "drowning": POLICE, "abuse": POLICE, "living_alone": POLICE,
    "injury": AMBULANCE, "severe_illness": AMBULANCE,
}
CATEGORIES = ("injury", "severe_illness", "missing", "drowning", "abuse", "bullying",
              "psychological_crisis", "living_alone", "other")
# How a helper stands to the child, in the words a caller reads out.
RELATION = {"class_teacher": "班主任", "paired_helper": "结对帮扶人",
            "child_director": "儿童主任", "grid_worker": "网格社工",
            "township_supervisor": "儿童督导员"}


def is_stale(last_confirmed_at: str | None, now: datetime) -> bool:
    """Never confirmed, or not confirmed within the last 180 days."""
    if last_confirmed_at is None:
        return True
    return now - datetime.fromisoformat(last_confirmed_at) > STALE_AFTER


def _latest(*times: str | None) -> str | None:
    known = [t for t in times if t]
    return max(known, key=datetime.fromisoformat) if known else None


def _entry(role: str, person: dict[str, Any], relation: str, agency: str | None,
           confirmed: dict[str, str], now: datetime, also: str | None = None) -> dict[str, Any]:
    phone = person.get("phone")
    last = _latest(confirmed.get(phone) if phone else None, also)
    return {"role": role, "name": person.get("name"), "relation": relation, "phone": phone,
            "agency": agency, "last_confirmed_at": last, "stale": is_stale(last, now)}


def _helper_entry(role: str, helper: dict[str, Any], confirmed: dict[str, str],
                  now: datetime) -> dict[str, Any]:
    entry = _entry(role, helper, RELATION[role], helper.get("agency"), confirmed, now,
                   also=helper.get("confirmed_at"))
    return {**entry, "helper_id": helper.get("helper_id")}


class HelperIndex:
    """The helpers a chain may name, indexed by where they serve: a lookup builds ten
    chains from one set of helpers, and scanning it per child and role was a third of the
    lookup's time. A helper serves the child's place when every field of the role matches;
    a blank township matches any (a county-wide director or supervisor)."""

    def __init__(self, helpers: Iterable[dict[str, Any]]) -> None:
        self.by_id: dict[Any, dict[str, Any]] = {}
        self.teachers: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.local: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.supervisors: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for helper in sorted(helpers, key=lambda h: (h.get("name") or "",
                                                     h.get("helper_id") or "")):
            self.by_id[helper.get("helper_id")] = helper
            role = helper.get("role")
            if role == "class_teacher":
                self.teachers[(helper.get("school") or "", helper.get("class_name") or "")
                              ].append(helper)
            elif role in ("child_director", "grid_worker"):
                self.local[(role, helper.get("village") or "")].append(helper)
            elif role == "township_supervisor":
                self.supervisors[helper.get("township") or ""].append(helper)

    def class_teachers(self, child: dict[str, Any]) -> list[dict[str, Any]]:
        return self.teachers.get((child.get("school"), child.get("class_name")), [])  # type: ignore[arg-type]

    def serving_village(self, child: dict[str, Any], role: str) -> list[dict[str, Any]]:
        return [h for h in self.local.get((role, child.get("village")), [])  # type: ignore[arg-type]
                if _in_township(h, child)]

    def township_supervisors(self, child: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.supervisors.get("", []) + self.supervisors.get(child.get("township"), [])  # type: ignore[arg-type]
        return sorted(found, key=lambda h: (h.get("name") or "", h.get("helper_id") or ""))


def _in_township(helper: dict[str, Any], child: dict[str, Any]) -> bool:
    mine = helper.get("township") or ""
    return not mine or mine == child.get("township")


def build_chain(child: dict[str, Any], helpers: "list[dict[str, Any]] | HelperIndex",
                confirmed: dict[str, str], category: str | None,
                now: datetime) -> list[dict[str, Any]]:
    """Whom to call, in order: public service by category, family, school, helpers, place."""
    index = helpers if isinstance(helpers, HelperIndex) else HelperIndex(helpers)
    chain: list[dict[str, Any]] = []
    public = PUBLIC_FIRST.get(category or "")
    if public:
        chain.append({**public, "last_confirmed_at": None, "stale": False})
    guardian = child.get("guardian") or {}
    if guardian.get("phone") or guardian.get("name"):
        chain.append(_entry("guardian", guardian, guardian.get("relation", ""), "family",
                            confirmed, now))
    for parent in child.get("parents") or []:
        chain.append(_entry("parent", parent, parent.get("relation", ""), "family",
                            confirmed, now))
    listed: set[str] = set()

    def add(role: str, group: Iterable[dict[str, Any]]) -> None:
        for helper in group:
            if helper.get("helper_id") not in listed:  # one person, one call
                listed.add(helper.get("helper_id") or "")
                chain.append(_helper_entry(role, helper, confirmed, now))

    add("class_teacher", index.class_teachers(child))
    add("paired_helper", [index.by_id[i] for i in child.get("pairings") or []
                          if i in index.by_id])
    add("child_director", index.serving_village(child, "child_director"))
    add("grid_worker", index.serving_village(child, "grid_worker"))
    add("township_supervisor", index.township_supervisors(child))
    return chain


# --- the lookup's search keys ------------------------------------------------------------

# Reversed digits turn "the last four digits" into a prefix an index can serve; the mark
# keeps digit keys apart from name keys.
DIGITS_MARK = "#"
# Lower is better: exact name, then a full phone or ID number, then name prefix, and so on.
RANK = {
    ("name", True): 0, ("phone", True): 1, ("id_number", True): 1, ("name", False): 2,
    ("pinyin", True): 3, ("initials", True): 3, ("name_part", True): 4, ("name_part", False): 4,
    ("pinyin", False): 5, ("initials", False): 5, ("pinyin_part", True): 6,
    ("pinyin_part", False): 6, ("initials_part", True): 6, ("initials_part", False): 6,
    ("phone", False): 7, ("id_number", False): 7, ("class", True): 8, ("village", True): 9,
    ("class", False): 10, ("village", False): 10,
}


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces: '六（2）班' and '六(2)班' agree."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(folded.split())


def is_digits_query(query: str) -> bool:
    """Four or more digits (an ID number may end in X): a phone or ID-number search."""
    body = query[:-1] if query.endswith("x") else query
    return len(query) >= 4 and body.isdigit()


def digits_key(query: str) -> str:
    return DIGITS_MARK + query[::-1]


def _suffixes(parts: list[str], kind: str) -> list[tuple[str, str]]:
    """The word's tails from the second part on, two characters or more."""
    tails = ["".join(parts[i:]) for i in range(1, len(parts))]
    return [(kind, t) for t in tails if len(t) >= 2]


def lookup_keys(file: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (kind, key) under which the lookup should find this child."""
    name = normalize(file.get("name") or "")
    syllables = [s.lower() for s in lazy_pinyin(name, errors="ignore")]
    # Style.FIRST_LETTER's answer, without segmenting the name a second time (the same for
    # every character of the dictionary and 200,000 random names; a rebuild spent a fifth
    # of the contact chain's time in pypinyin, 0.15 s of 0.77 s under pyinstrument).
    initials = [s[0] for s in syllables]
    keys = {("name", name), ("pinyin", "".join(syllables)), ("initials", "".join(initials))}
    keys |= set(_suffixes(list(name), "name_part"))
    keys |= set(_suffixes(syllables, "pinyin_part")) | set(_suffixes(initials, "initials_part"))
    phones = [(file.get("guardian") or {}).get("phone")]
    phones += [p.get("phone") for p in file.get("parents") or []]
    # A landline's dash is not dialled into a search: keep the digits only.
    keys |= {("phone", digits_key("".join(c for c in p if c.isdigit()))) for p in phones if p}
    if file.get("id_number"):
        keys.add(("id_number", digits_key(normalize(file["id_number"]))))
    keys.add(("class", normalize(f"{file.get('school', '')}{file.get('class_name', '')}")))
    keys.add(("village", normalize(file.get("village") or "")))
    return {(kind, key) for kind, key in keys if len(key) >= 2}


def rank(kind: str, key: str, wanted: str) -> int:
    """How well one stored key answers the query (lower is better)."""
    return RANK.get((kind, key == wanted), 99)
