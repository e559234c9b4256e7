"""Log lines carry ids and routes, never a child's personal data."""

import json

import pytest

from tests.conftest import Api, register


def test_one_json_line_per_request_without_personal_data(
        api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    child = register(api, name="欧阳小芳", id_number="52260120140305999X")
    api.post(f"/children/{child['id']}/visits", {
        "occurred_at": "2026-01-05T10:00:00+08:00", "kind": "home", "findings": "家中无人照看",
        "contacts_confirmed": ["13800001111"]})
    api.get(f"/children/{child['id']}", min_position=child["position"])
    api.post("/children", {"name": "欧阳小芳", "guardian": {"phone": "13811112222"}})
    logged = capsys.readouterr().err
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) >= 4 and all(line["request_id"] for line in requests)
    for secret in ("欧阳小芳", "52260120140305999X", "13800001111", "13811112222", "家中无人照看",
                   "张奶奶"):
        assert secret not in logged
