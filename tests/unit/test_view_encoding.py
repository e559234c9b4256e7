"""The views' shared helpers: JSON text as the json module reads it, ids that keep their text."""

import json
import math
import pickle
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from projections.view import TextUUID, to_json, with_text_ids
from services.commands import RecordExamResult


@dataclass(frozen=True)
class Figures:
    total: int


def as_json_module(value: object) -> object:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def test_to_json_reads_back_as_the_json_module_wrote_it() -> None:
    value = {"name": "张小明", "at": datetime(2026, 10, 2, 1, tzinfo=UTC), "on": date(2026, 9, 1),
             "id": uuid4(), 7: 2.5, "figures": Figures(3), "big": 2**70, "none": None}
    text = to_json(value)
    assert "张小明" in text  # UTF-8, not \\u escapes
    assert json.loads(text) == as_json_module(value)


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text() | st.integers(), inner),
    max_leaves=20)


# Non-finite floats are left out: orjson writes null where json writes its non-standard
# Infinity, and no command admits one (the only float, an exam's total, is 0 to 10,000).
@given(documents)
def test_to_json_equals_the_json_module_for_any_document(value: object) -> None:
    assert json.loads(to_json(value)) == as_json_module(value)


@dataclass(frozen=True)
class Event:
    originator_id: UUID


def test_text_ids_equal_the_ids_they_replace_and_are_shared_per_aggregate() -> None:
    first, second = uuid4(), uuid4()
    events = with_text_ids([Event(first), Event(UUID(str(first))), Event(second)])
    ids = [e.originator_id for e in events]
    assert all(isinstance(i, TextUUID) for i in ids)
    assert ids[0] is ids[1] and ids[0] == first and hash(ids[0]) == hash(first)
    assert [str(i) for i in ids] == [str(first), str(first), str(second)]
    assert {first: 1}[ids[0]] == 1
    restored = pickle.loads(pickle.dumps(ids[2]))
    assert type(restored) is UUID and restored == second


@pytest.mark.parametrize("score", [math.inf, -math.inf, math.nan])
def test_no_command_admits_a_float_that_to_json_would_write_as_null(score: float) -> None:
    body = {"school_year": 2025, "semester": 1, "total_score": score, "class_rank": 1,
            "class_size": 40}
    with pytest.raises(ValidationError, match="total_score"):
        RecordExamResult.model_validate(body)
