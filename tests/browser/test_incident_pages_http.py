"""The incident, break-glass, compliance and visit pages over real HTTP, on both stores:
every form through the API's handlers, the session's CSRF token, and the API agreeing."""

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from domain.values import utcnow
from infra.web.pages import emergency as emergency_page
from infra.web.pages import incidents as incident_page
from tests.browser.test_pages_http import PASSWORD, add_user, field_errors, settled, sign_in
from tests.conftest import ADMIN_PASSWORD, Api


def report(client: TestClient, csrf: str, child_id: str, category: str = "injury") -> str:
    """Report through the emergency page's form; answers the incident page's path."""
    reported = client.post("/ui/incidents", data={
        "csrf": csrf, "child_id": child_id, "category": category, "severity": "high",
        "occurred_at": "2025-10-08T10:00", "location": "学校操场"}, follow_redirects=False)
    assert reported.status_code == 303, reported.text
    return str(reported.headers["location"])


def timeline_types(api: Api, child_id: str) -> list[str]:
    return [e["type"] for e in api.get(f"/children/{child_id}").json()["timeline"]]


def test_an_incident_is_escalated_then_resolved_from_its_page(client: TestClient,
                                                               api: Api) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    incident = report(client, csrf, child["id"])
    page = client.get(incident).text
    assert 'id="incident-status">处理中' in page and "上报至" in page and "处置完毕" in page
    forged = client.post(f"{incident}/escalations", data={"csrf": "forged", "to": "police"})
    assert forged.status_code == 403
    unknown = client.post(f"{incident}/escalations", data={"csrf": csrf, "to": "mayor"})
    assert unknown.status_code == 422 and 'id="err-to"' in unknown.text
    escalated = client.post(f"{incident}/escalations", data={
        "csrf": csrf, "to": "township", "note": "已通知镇政府值班室"}, follow_redirects=False)
    assert escalated.status_code == 303 and escalated.headers["location"].endswith(
        "#escalations")
    rows = client.get(incident).text.split('id="escalation-list"', 1)[1].split("</table>")[0]
    assert "乡镇政府" in rows and "已通知镇政府值班室" in rows and "admin" in rows
    no_outcome = client.post(f"{incident}/resolution", data={"csrf": csrf, "outcome": " "})
    assert no_outcome.status_code == 422 and "必填，不能为空" in field_errors(no_outcome.text)
    resolved = client.post(f"{incident}/resolution", data={
        "csrf": csrf, "outcome": "已送医，伤情稳定", "note": "家长已到医院"})
    assert resolved.status_code == 200 and 'id="incident-status">已处置' in resolved.text
    assert "已送医，伤情稳定" in resolved.text and 'action="' + incident not in resolved.text
    late = client.post(f"{incident}/escalations", data={"csrf": csrf, "to": "police"})
    assert late.status_code == 409 and "事件已处置完毕" in late.text
    types = timeline_types(api, child["id"])
    assert types.count("IncidentEscalated") == 1 and "IncidentResolved" in types
    incident_id = incident.rsplit("/", 1)[1]
    file_page = client.get(f"/ui/children/{child['id']}").text
    assert f'href="/ui/incidents/{incident_id}"' in file_page  # reached from the timeline


def test_abuse_without_police_escalation_is_marked_overdue_after_24h(
        client: TestClient, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    abuse = report(client, csrf, child["id"], "abuse")
    injury = report(client, csrf, child["id"], "injury")
    fresh = client.get(abuse).text
    assert "尚未报警" in fresh and 'id="overdue"' not in fresh
    later = utcnow() + timedelta(hours=25)
    monkeypatch.setattr(incident_page, "utcnow", lambda: later)
    monkeypatch.setattr(emergency_page, "utcnow", lambda: later)
    assert 'id="overdue"' in client.get(abuse).text
    assert 'id="overdue"' not in client.get(injury).text  # only abuse must go to police
    listed = client.get("/ui/emergency").text.split('id="open-incidents"', 1)[1]
    overdue_links = re.findall(r'href="(/ui/incidents/[^"]+)">[^<]*</a> <span[^>]*>[^<]*'
                               r'</span> <span class="badge danger">', listed)
    assert overdue_links == [abuse]
    monkeypatch.undo()
    client.post(f"{abuse}/escalations", data={"csrf": csrf, "to": "police"})
    monkeypatch.setattr(incident_page, "utcnow", lambda: later)
    told = client.get(abuse).text
    assert 'id="overdue"' not in told and "已报警" in told


def test_break_glass_from_the_emergency_page_shows_the_chain_and_is_flagged_for_review(
        client: TestClient, api: Api) -> None:
    child = settled(api)
    add_user(api, "hongxing", "child_director", township="白沙关镇", village="红星村")
    csrf = sign_in(client, "hongxing", PASSWORD)
    outside = client.get("/ui/emergency", params={"q": "zxm"}).text
    assert 'href="tel:13800001111"' not in outside
    assert 'action="/ui/emergency/break-glass"' in outside  # offered, nothing disclosed
    forged = client.post("/ui/emergency/break-glass", data={
        "csrf": "forged", "q": "zxm", "break_glass": "孩子落水，需联系监护人"})
    assert forged.status_code == 403
    too_short = client.post("/ui/emergency/break-glass", data={
        "csrf": csrf, "q": "zxm", "break_glass": "急"})
    assert too_short.status_code == 422 and "tel:13800001111" not in too_short.text
    assert "请至少用 4 个字说明原因" in field_errors(too_short.text)
    assert api.get("/audit/break-glass").json()["items"] == []
    glass = client.post("/ui/emergency/break-glass", data={
        "csrf": csrf, "q": "zxm", "category": "drowning", "break_glass": "孩子落水，需联系监护人"})
    assert glass.status_code == 200 and 'href="tel:13800001111"' in glass.text
    assert 'id="glass-notice"' in glass.text and "报警 110" in glass.text
    assert f'href="/ui/children/{child["id"]}"' not in glass.text  # the chain, not the file
    flagged = api.get("/audit/break-glass").json()["items"]
    assert [(r["child_id"], r["username"], r["purpose"], r["break_glass"]) for r in flagged] == [
        (child["id"], "hongxing", "孩子落水，需联系监护人", True)]


def test_compliance_dashboard_shows_count_of_total_and_links_the_shortfall(
        client: TestClient, api: Api) -> None:
    seen = settled(api)
    unseen = settled(api, name="李小红", id_number=None)
    visit = api.post(f"/children/{seen['id']}/visits", {
        "occurred_at": (utcnow() - timedelta(minutes=1)).isoformat(), "kind": "home",
        "findings": "一切正常"})
    assert visit.status_code == 200, visit.text
    api.get("/dashboards/compliance", min_position=visit.json()["position"])
    sign_in(client, "admin", ADMIN_PASSWORD)
    page = client.get("/ui/dashboards/compliance")
    assert page.status_code == 200
    row = page.text.split('id="figure-visited"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'class="count">1</span> / <span class="total">2<', row)
    assert "50.0%" in row and "本月已走访" in row
    lacking = page.text.split('id="short-visited"', 1)[1].split("</section>", 1)[0]
    assert f'href="/ui/children/{unseen["id"]}"' in lacking
    assert f'href="/ui/children/{seen["id"]}"' not in lacking
    export = re.search(r'href="(/ui/dashboards/compliance.xlsx\?[^"]+)"', page.text).group(1)
    sheet = load_workbook(io.BytesIO(client.get(export.replace("&amp;", "&")).content))["指标"]
    visited = [r for r in sheet.iter_rows(values_only=True) if r[1] == "本月已走访"]
    assert visited[0][2:] == (1, 2, 50.0)
    old = client.get("/ui/dashboards/compliance", params={"month": "2020-01"}).text
    assert re.search(r'id="figure-visited">.*?class="count">0<', old, re.S)
    bad = client.get("/ui/dashboards/compliance", params={"month": "2026-13"})
    assert bad.status_code == 422 and "2026-06" in " ".join(field_errors(bad.text))
    english = client.get("/ui/dashboards/compliance", params={"lang": "en"}).text
    assert "Visited this month" in english and "Compliance dashboard" in english
    add_user(api, "xinli", "counsellor", school="白沙关小学")
    sign_in(client, "xinli", PASSWORD)
    assert client.get("/ui/dashboards/compliance").status_code == 403


@pytest.mark.parametrize(("answer", "stored", "shown"), [
    ("true", True, "见到本人"), ("false", False, "未见到本人"), ("", None, None)])
def test_the_visit_form_records_whether_the_child_was_seen(
        client: TestClient, api: Api, answer: str, stored: Any, shown: str | None) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    assert 'name="child_seen"' in client.get(f"/ui/children/{child['id']}").text
    page = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "kind": "home", "findings": "在家写作业",
        "child_seen": answer})
    assert page.status_code == 200, page.text
    visit = api.get(f"/children/{child['id']}").json()["timeline"][0]
    assert visit["data"]["child_seen"] is stored
    entry = page.text.split('<ol class="timeline">', 1)[1].split("</li>", 1)[0]
    assert (f"· {shown}" in entry) if shown else ("见到本人" not in entry)


def test_a_visit_with_an_unknown_child_seen_answer_is_refused_naming_the_field(
        client: TestClient, api: Api) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    refused = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "kind": "home", "findings": "x",
        "child_seen": "maybe"})
    assert refused.status_code == 422 and 'id="err-child_seen"' in refused.text
    assert timeline_types(api, child["id"]) == ["Registered"]
