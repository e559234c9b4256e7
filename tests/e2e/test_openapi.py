"""/openapi.json says what the service answers (issue 19, finding 12): each answer's real
content type is the documented one, the 400 of an unreadable body is documented, texts
carry their character rule, and the commands that create ids link to where they are used."""

from typing import Any

from fastapi.testclient import TestClient

from infra.web.openapi import PRODUCERS
from services import text
from tests.conftest import Api, register


def _document(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def test_every_get_without_parameters_answers_its_documented_content_type(api: Api) -> None:
    """The exports are spreadsheets and /metrics is Prometheus text, as documented."""
    register(api)
    doc = _document(api.client)
    checked = 0
    for path, operations in doc["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path or path == "/readyz":
            continue
        answer = api.client.get(path, headers=api.headers)
        if answer.status_code != 200:
            continue  # a required query parameter (lookup's q)
        documented = list(get["responses"]["200"]["content"])
        assert answer.headers["content-type"].split(";")[0] in [
            d.split(";")[0] for d in documented], (path, documented)
        checked += 1
    xlsx = api.client.get("/assessments/2025/export.xlsx", headers=api.headers)
    assert xlsx.headers["content-type"] == list(doc["paths"][
        "/assessments/{school_year}/export.xlsx"]["get"]["responses"]["200"]["content"])[0]
    assert checked >= 12


def test_a_body_that_is_not_utf8_is_the_documented_400(api: Api) -> None:
    doc = _document(api.client)
    answer = api.client.post("/children", content=b'{"name": "\xff"}', headers={
        **api.headers, "Content-Type": "application/json"})
    assert answer.status_code == 400 and set(answer.json()) == {"detail"}
    with_body = [(p, m) for p, ops in doc["paths"].items() for m, o in ops.items()
                 if "requestBody" in o]
    assert with_body and all("400" in doc["paths"][p][m]["responses"] for p, m in with_body)


def test_each_command_that_creates_an_id_links_to_every_operation_taking_it(
        client: TestClient) -> None:
    doc = _document(client)
    for (method, path), gives in PRODUCERS.items():
        responses = doc["paths"][path][method]["responses"]
        links = next(r["links"] for r in responses.values() if "links" in r)
        takers = {o["operationId"] for ops in doc["paths"].values() for o in ops.values()
                  if any(f"{{{name}}}" in str(o.get("parameters")) or
                         p.get("name") in gives for p in o.get("parameters", [])
                         for name in gives)}
        assert takers - {doc["paths"][path][method]["operationId"]} <= set(links), path
    child_links = doc["paths"]["/children"]["post"]["responses"]["201"]["links"]
    assert len(child_links) >= 15  # the file, its commands, its chain, its review, incidents


def test_texts_document_the_characters_they_take(client: TestClient) -> None:
    schemas = _document(client)["components"]["schemas"]
    assert schemas["RegisterChild"]["properties"]["name"]["pattern"] == text.SINGLE_LINE_PATTERN
    assert schemas["RecordVisit"]["properties"]["findings"]["pattern"] == text.FREE_TEXT_PATTERN
