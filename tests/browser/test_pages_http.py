"""The pages over real HTTP (no browser), on SQLite and PostgreSQL: sign-in cookie, CSRF,
what a role sees, refusals shown on the page, and the xlsx import and export."""

import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from tests.conftest import ADMIN_PASSWORD, Api, register

PASSWORD = "pages-test-1!"


def login_form_token(client: TestClient) -> str:
    """Open the sign-in form as a browser does: its pre-session cookie and form token."""
    form = client.get("/ui/login").text
    return re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in through the form; answers the CSRF token of the session."""
    client.cookies.clear()
    response = client.post("/ui/login", data={"username": username, "password": password,
                                              "next": "/ui/children",
                                              "csrf": login_form_token(client)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/ui/children")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def add_user(api: Api, username: str, role: str, **jurisdiction: Any) -> None:
    agency = "school" if role in ("counsellor", "class_teacher", "principal") else "township"
    response = api.post("/users", {"username": username, "password": PASSWORD, "agency": agency,
                                   "role": role, **jurisdiction})
    assert response.status_code == 201, response.text


def settled(api: Api, **overrides: Any) -> dict[str, Any]:
    """Register, then wait until the views hold the child: pages read the views."""
    child = register(api, **overrides)
    assert api.get("/children", min_position=child["position"]).status_code == 200
    return child


def field_errors(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', html)


def test_sign_in_sets_an_httponly_lax_cookie_and_pages_need_it(client: TestClient) -> None:
    assert client.get("/ui/children", follow_redirects=False).headers["location"] == \
        "/ui/login?next=/ui/children"
    wrong = client.post("/ui/login", data={"username": "admin", "password": "wrong-one-1",
                                           "csrf": login_form_token(client)})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    ok = client.post("/ui/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                        "next": "https://evil.example/",
                                        "csrf": login_form_token(client)}, follow_redirects=False)
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ok.headers["location"] == "/ui/emergency"  # never an open redirect
    assert "留守儿童台帐" in client.get("/ui/children").text


def test_a_form_without_the_session_csrf_token_records_nothing(client: TestClient,
                                                                api: Api) -> None:
    child = settled(api)
    sign_in(client, "admin", ADMIN_PASSWORD)
    refused = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": "forged", "occurred_at": "2025-10-08T10:00", "kind": "home", "findings": "x"})
    assert refused.status_code == 403 and "页面已过期" in refused.text
    file = api.get(f"/children/{child['id']}").json()
    assert [e["type"] for e in file["timeline"]] == ["Registered"]


def test_a_visit_from_the_page_is_on_the_timeline_and_bad_input_is_shown_in_chinese(
        client: TestClient, api: Api) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    page = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "kind": "home",
        "findings": "奶奶身体不好", "contacts_confirmed": "13800001111"})
    assert page.status_code == 200 and "奶奶身体不好" in page.text
    visit = api.get(f"/children/{child['id']}").json()["timeline"][0]
    assert visit["occurred_at"] == "2025-10-08T10:00:00+08:00"  # the form means Beijing time
    future = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": csrf, "occurred_at": "2099-01-01T10:00", "kind": "home", "findings": "x"})
    assert future.status_code == 422 and "不能是将来的时间" in field_errors(future.text)
    bad_phone = client.post(f"/ui/children/{child['id']}/visits", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "kind": "home", "findings": "x",
        "contacts_confirmed": "12345"})
    assert bad_phone.status_code == 422 and "格式不对" in bad_phone.text
    assert len(api.get(f"/children/{child['id']}").json()["timeline"]) == 2


def test_counselling_notes_show_only_to_notes_readers_as_in_the_api(client: TestClient,
                                                                     api: Api) -> None:
    child = settled(api)
    add_user(api, "xinli", "counsellor", school="白沙关小学")
    csrf = sign_in(client, "xinli", PASSWORD)
    page = client.get(f"/ui/children/{child['id']}")
    assert 'name="notes"' in page.text  # a counsellor writes notes
    client.post(f"/ui/children/{child['id']}/counselling-sessions", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "topic": "想妈妈",
        "risk_level": "medium", "notes": "夜里常哭"})
    assert "夜里常哭" in client.get(f"/ui/children/{child['id']}").text
    sign_in(client, "admin", ADMIN_PASSWORD)
    admin_page = client.get(f"/ui/children/{child['id']}").text
    assert "想妈妈" in admin_page and "夜里常哭" not in admin_page and "受限" in admin_page
    assert 'name="notes"' not in admin_page  # admin may counsel but not read notes
    assert "5226**********1228" not in admin_page  # the admin sees the full ID number


def test_a_refused_write_is_shown_on_the_page_and_a_file_outside_reach_is_not_found(
        client: TestClient, api: Api) -> None:
    child = settled(api)
    other = settled(api, name="李小红", class_name="五(1)班", id_number=None)
    add_user(api, "banzhuren", "class_teacher", school="白沙关小学", class_name="六(2)班")
    csrf = sign_in(client, "banzhuren", PASSWORD)
    page = client.get(f"/ui/children/{child['id']}").text
    assert "5226**********1228" in page and "记录谈心" not in page  # no counselling form
    refused = client.post(f"/ui/children/{child['id']}/counselling-sessions", data={
        "csrf": csrf, "occurred_at": "2025-10-08T10:00", "topic": "x", "risk_level": "low"})
    assert refused.status_code == 403 and "无权进行此操作" in refused.text
    assert client.get(f"/ui/children/{other['id']}").status_code == 404
    assert "李小红" not in client.get("/ui/children").text


def test_emergency_lookup_reports_and_ticks_off_calls(client: TestClient, api: Api) -> None:
    child = settled(api)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    hits = client.get("/ui/emergency", params={"q": "zxm", "category": "drowning"})
    assert 'href="tel:13800001111"' in hits.text and "报警 110" in hits.text
    too_short = client.get("/ui/emergency", params={"q": "z"})
    assert too_short.status_code == 422 and "请至少输入 2 个字" in too_short.text
    missing_place = client.post("/ui/incidents", data={
        "csrf": csrf, "child_id": child["id"], "category": "injury", "severity": "high",
        "occurred_at": "2025-10-08T10:00", "location": "", "q": "zxm"})
    assert missing_place.status_code == 422 and "必填" in missing_place.text
    reported = client.post("/ui/incidents", data={
        "csrf": csrf, "child_id": child["id"], "category": "injury", "severity": "high",
        "occurred_at": "2025-10-08T10:00", "location": "学校操场"}, follow_redirects=False)
    assert reported.status_code == 303, reported.text
    incident = reported.headers["location"]
    ticked = client.post(f"{incident}/contact-attempts", data={
        "csrf": csrf, "contact_role": "guardian", "name": "张奶奶", "phone": "13800001111",
        "channel": "phone", "reached": "true"})
    assert ticked.status_code == 200 and "badge ok" in ticked.text
    timeline = api.get(f"/children/{child['id']}").json()["timeline"]
    assert {"IncidentReported", "IncidentContactAttempted"} <= {e["type"] for e in timeline}


def test_registry_export_has_chinese_headings_and_the_filtered_children(
        client: TestClient, api: Api) -> None:
    settled(api)
    settled(api, name="李小红", village="红星村", id_number=None)
    sign_in(client, "admin", ADMIN_PASSWORD)
    response = client.get("/ui/children/export.xlsx", params={"village": "红星村"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "性别", "出生日期")
    assert [r[0] for r in rows[1:]] == ["李小红"] and rows[1][1] == "男"


def sheet_with(rows: list[list[Any]]) -> bytes:
    from infra.spreadsheet import COLUMNS

    book = Workbook()
    book.active.append([h for h, _ in COLUMNS])
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = ["王小芳", "女", "2013-05-01", None, "白沙关小学", "五年级", "五(1)班", "白沙关镇",
        "白沙关村", "", "一方外出", "父亲在深圳", "王爷爷", "祖父", "13800003333"]
BAD = ["赵小虎", "未知", "2013-13-01", None, "白沙关小学", "五年级", "五(1)班", "白沙关镇",
       "白沙关村", "", "父母均外出", "", "赵奶奶", "祖母", "123"]


def upload(client: TestClient, csrf: str, data: bytes) -> Any:
    return client.post("/ui/import", data={"csrf": csrf},
                       files={"file": ("台帐.xlsx", data, "application/octet-stream")})


def test_import_reports_each_bad_cell_and_reimporting_registers_nobody_twice(
        client: TestClient, api: Api) -> None:
    data = sheet_with([GOOD, BAD, [*GOOD[:1], *GOOD[1:2], "2012-01-01", *GOOD[3:]]])
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    report = upload(client, csrf, data).text
    assert "已登记 2" in report and "有误，未登记 1" in report
    bad_row = report.split('data-row="3"', 1)[1].split("</tr>", 1)[0]
    assert "B3" in bad_row and "C3" in bad_row and "O3" in bad_row
    add_user(api, "zhuren", "child_director", township="白沙关镇", village="白沙关村")
    again = upload(client, sign_in(client, "zhuren", PASSWORD), data).text
    assert "已登记 0" in again and "已存在，跳过 2" in again
    names = [r["name"] for r in api.get("/children").json()["items"]]
    assert sorted(names) == ["王小芳", "王小芳"]


def test_import_refuses_a_file_that_is_not_a_registry(client: TestClient) -> None:
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    not_xlsx = upload(client, csrf, b"name,sex\n")
    assert not_xlsx.status_code == 422 and "不是有效的 .xlsx 文件" in not_xlsx.text
    book = Workbook()
    book.active.append(["姓名", "性别"])
    out = io.BytesIO()
    book.save(out)
    headless = upload(client, csrf, out.getvalue())
    assert headless.status_code == 422 and "缺少栏目" in headless.text and "监护人电话" in headless.text


def test_the_template_downloads_with_chinese_headings(client: TestClient) -> None:
    sign_in(client, "admin", ADMIN_PASSWORD)
    sheet = load_workbook(io.BytesIO(client.get("/ui/import/template.xlsx").content)).active
    headings = [c.value for c in sheet[1]]
    assert headings[:4] == ["姓名", "性别", "出生日期", "身份证号"] and "监护人电话" in headings


def test_english_switch_is_remembered(client: TestClient, api: Api) -> None:
    child = settled(api)
    sign_in(client, "admin", ADMIN_PASSWORD)
    english = client.get("/ui/children", params={"lang": "en"})
    assert "Registry" in english.text and "lang=en" in english.headers["set-cookie"]
    assert "Timeline" in client.get(f"/ui/children/{child['id']}").text


@pytest.mark.parametrize("path", ["print", "card"])
def test_printouts_carry_the_file_and_the_chain(client: TestClient, api: Api, path: str) -> None:
    child = settled(api, **{"id_number": None})
    sign_in(client, "admin", ADMIN_PASSWORD)
    page = client.get(f"/ui/children/{child['id']}/{path}").text
    assert "张小明" in page and "13800001111" in page
    assert ("一人一档" if path == "print" else "应急联系卡") in page



def test_the_as_of_picker_shows_the_file_as_recorded_by_that_day(client: TestClient,
                                                                  api: Api) -> None:
    child = settled(api)
    sign_in(client, "admin", ADMIN_PASSWORD)
    assert client.get(f"/ui/children/{child['id']}", params={"as_of": "2000-01-01"}
                      ).status_code == 404
    today = client.get(f"/ui/children/{child['id']}", params={"as_of": "2099-12-31"})
    assert today.status_code == 200 and "张小明" in today.text and "记录走访" not in today.text


def test_grants_audit_and_assessment_pages_show_the_api_figures_to_those_allowed(
        client: TestClient, api: Api) -> None:
    child = settled(api)
    assert api.post("/programmes", {"code": "DIBAO", "name": "低保", "funding_agency":
                                    "civil_affairs", "cap_fen": 50000,
                                    "period_kind": "monthly"}).status_code == 201
    grant = api.post("/grants", {"child_id": child["id"], "programme": "DIBAO",
                                 "amount_fen": 30000, "period": "2026-06", "kind": "cash",
                                 "description": "六月低保"})
    assert grant.status_code == 201, grant.text
    api.get("/audit/grants", min_position=grant.json()["position"])
    sign_in(client, "admin", ADMIN_PASSWORD)
    audit = client.get("/ui/audit/grants").text
    assert "DIBAO" in audit and "300.00" in audit
    export = client.get("/ui/audit/grants/export.xlsx")
    assert load_workbook(io.BytesIO(export.content)).sheetnames[0] == "汇总"
    year = client.get("/ui/assessments", params={"year": 2025})
    assert year.status_code == 200 and "志愿者" in year.text and "班主任" in year.text
    sheets = load_workbook(io.BytesIO(client.get("/ui/assessments/2025/export.xlsx").content))
    assert "学生奖励" in sheets.sheetnames
    add_user(api, "banzhuren", "class_teacher", school="白沙关小学", class_name="六(2)班")
    sign_in(client, "banzhuren", PASSWORD)
    assert client.get("/ui/audit/grants").status_code == 403
    assert "/ui/audit/grants" not in client.get("/ui/children").text  # no link either
