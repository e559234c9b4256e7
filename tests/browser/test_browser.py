"""End to end in headless Chromium at phone width: what a caseworker does, click by click.

The main path runs on both stores; tests marked `sqlite_only` exercise only the pages."""

import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.browser.conftest import LiveServer, phone_page, signed_in_page, sqlite_only
from domain.actor import SYSTEM
from services import commands as c
from tests.browser.test_pages_http import BAD, GOOD, PASSWORD, sheet_with
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def page(browser: Any, live: LiveServer, admin_state: Any) -> Any:
    opened = phone_page(browser, admin_state)
    opened.goto(f"{live.url}/ui/emergency")
    yield opened
    opened.context.close()


def test_look_up_by_pinyin_initials_report_an_incident_and_tick_off_a_call(
        page: Any, live: LiveServer) -> None:
    live.register()
    page.get_by_label("姓名、拼音").fill("zxm")
    page.get_by_role("button", name="查找").click()
    hit = page.locator("article.hit").filter(has_text="张小明")
    assert hit.locator('a[href="tel:13800001111"]').count() == 1
    hit.get_by_text("报告突发事件").click()
    hit.get_by_label("事件类别").select_option("injury")
    hit.get_by_label("地点").fill("学校操场")
    hit.get_by_label("情况描述").fill("课间摔倒，膝盖出血")
    hit.get_by_role("button", name="提交报告").click()
    page.wait_for_url("**/ui/incidents/*")
    guardian = page.locator("li.chain-entry").filter(has_text="13800001111")
    guardian.get_by_role("button", name="已联系上").click()
    page.wait_for_url("**#attempts")
    assert page.locator("li.chain-entry.tried").count() == 1
    assert "张奶奶" in page.locator("#attempts + table").inner_text()


def test_record_a_visit_and_see_it_on_the_timeline(page: Any, live: LiveServer) -> None:
    child_id = live.register(name="陈小雨", id_number=None)
    page.goto(f"{live.url}/ui/children/{child_id}")
    page.get_by_text("记录走访").click()
    page.get_by_label("了解到的情况").fill("奶奶腿脚不便，孩子作业按时完成")
    page.get_by_label("需要跟进").check()
    page.get_by_role("button", name="保存").first.click()
    page.wait_for_url(f"**/ui/children/{child_id}?saved=visit*")
    first = page.locator("ol.timeline li.event").first
    assert "奶奶腿脚不便" in first.inner_text() and "agency-township" in (
        first.get_attribute("class") or "")


@sqlite_only
def test_a_bad_visit_is_shown_beside_the_form_in_chinese(page: Any, live: LiveServer) -> None:
    child_id = live.register(name="周小北", id_number=None)
    page.goto(f"{live.url}/ui/children/{child_id}")
    page.get_by_text("记录走访").click()
    page.get_by_label("发生时间").first.fill("2099-01-01T10:00")
    page.get_by_label("了解到的情况").fill("x")
    page.get_by_role("button", name="保存").first.click()
    assert page.locator("#form-visit .field-error").inner_text() == "不能是将来的时间"


@sqlite_only
def test_export_the_registry_and_read_it_back(page: Any, live: LiveServer) -> None:
    live.register(name="刘小东", id_number=None, village="东风村")
    page.goto(f"{live.url}/ui/children?village=东风村")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and [r[0] for r in rows[1:]] == ["刘小东"]


@sqlite_only
def test_import_a_spreadsheet_with_one_bad_row(page: Any, live: LiveServer) -> None:
    page.goto(f"{live.url}/ui/import")
    with page.expect_download() as template:
        page.get_by_role("link", name="下载模板").click()
    book = load_workbook(io.BytesIO(template.value.path().read_bytes()))
    assert book.active["A1"].value == "姓名"
    data = sheet_with([GOOD, BAD])
    page.get_by_label("Excel 文件").set_input_files(files=[{
        "name": "台帐.xlsx", "buffer": data,
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.get_by_role("button", name="上传并导入").click()
    bad = page.locator('tr[data-row="3"]')
    assert "O3" in bad.inner_text() and "有误" in bad.inner_text()
    assert "已登记 1" in page.locator(".summary").inner_text()


@sqlite_only
def test_lookup_and_the_file_work_without_javascript(browser: Any, live: LiveServer) -> None:
    child_id = live.register(name="黄小军", id_number=None)
    page = signed_in_page(browser, live, java_script_enabled=False)
    try:
        page.get_by_label("姓名、拼音").fill("hxj")
        page.get_by_role("button", name="查找").click()
        page.get_by_role("link", name="打开档案").first.click()
        page.wait_for_url(f"**/ui/children/{child_id}")
        page.get_by_label("截至日期").fill("2000-01-01")
        page.get_by_role("button", name="显示").click()
        assert page.get_by_text("没有找到").count() == 1  # not yet registered then
        page.goto(f"{live.url}/ui/children/{child_id}")
        page.get_by_text("向外出父母反馈").click()
        page.get_by_label("反馈内容").fill("孩子期中考试进步了")
        page.locator("#form-feedback").get_by_role("button", name="保存").click()
        assert "孩子期中考试进步了" in page.locator("ol.timeline").inner_text()
    finally:
        page.context.close()


def test_sign_in_with_a_wrong_password_then_in_and_out(browser: Any, live: LiveServer) -> None:
    page = phone_page(browser, None)
    try:
        page.goto(f"{live.url}/ui/children")
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("not-the-password-1")
        page.get_by_role("button", name="登录").click()
        assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
        page.get_by_label("密码").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/ui/children")  # back where the reader was sent from
        page.get_by_role("button", name="退出").click()
        page.wait_for_url("**/ui/login")
        page.goto(f"{live.url}/ui/children")
        assert "/ui/login" in page.url
    finally:
        page.context.close()


def test_escalate_an_incident_to_police_then_resolve_it(page: Any, live: LiveServer) -> None:
    child_id = live.register(name="吴小兰", id_number=None)
    page.goto(f"{live.url}/ui/emergency?q=wxl")
    hit = page.locator("article.hit").filter(has_text="吴小兰")
    hit.get_by_text("报告突发事件").click()
    hit.get_by_label("事件类别").select_option("abuse")
    hit.get_by_label("地点").fill("村小宿舍")
    hit.get_by_role("button", name="提交报告").click()
    page.wait_for_url("**/ui/incidents/*")
    incident = page.url
    assert "尚未报警" in page.locator("#police-rule").inner_text()
    escalate = page.locator("#form-escalations")  # open: abuse not yet told to police
    escalate.get_by_label("上报至").select_option("police")
    escalate.get_by_label("备注").fill("已拨打 110，派出所民警已出警")
    escalate.get_by_role("button", name="上报").click()
    page.wait_for_url("**#escalations")
    assert "公安机关" in page.locator("#escalation-list").inner_text()
    assert "已报警" in page.locator("#police-rule").inner_text()
    page.get_by_text("处置完毕，结案").first.click()
    resolve = page.locator("#form-resolution")
    resolve.get_by_label("处置结果").fill("已移交公安，孩子由姑姑暂时照顾")
    resolve.get_by_role("button", name="处置完毕，结案").click()
    page.wait_for_url("**#resolution")
    assert page.locator("#incident-status").inner_text() == "已处置"
    assert page.locator("#form-escalations, #form-resolution, form.tick").count() == 0
    page.goto(f"{live.url}/ui/children/{child_id}")
    page.locator("ol.timeline").get_by_role("link", name="查看事件").first.click()
    assert page.url == incident.split("#")[0]


def test_break_glass_shows_the_chain_and_is_listed_for_review(browser: Any,
                                                              live: LiveServer) -> None:
    child_id = live.register(name="郑小川", id_number=None)
    live.services.handlers.create_user(c.CreateUser(
        username=f"hx-{child_id[:8]}", password=PASSWORD, agency="community",
        role="child_director", township="白沙关镇", village="红星村"), SYSTEM, None)
    page = signed_in_page(browser, live, f"hx-{child_id[:8]}", PASSWORD)
    try:
        page.get_by_label("姓名、拼音").fill("zxc")
        page.get_by_role("button", name="查找").click()
        assert page.locator("article.hit").count() == 0
        glass = page.locator("#break-glass")
        glass.get_by_label("紧急查看的原因").fill("孩子走失，需立即联系监护人")
        glass.get_by_role("button", name="紧急查看").click()
        hit = page.locator("article.hit").filter(has_text="郑小川")
        assert hit.locator('a[href="tel:13800001111"]').count() == 1
        assert "待儿童督导员复核" in page.locator("#glass-notice").inner_text()
    finally:
        page.context.close()
    token = httpx.post(f"{live.url}/auth/token", data={
        "username": "admin", "password": ADMIN_PASSWORD}).json()["access_token"]
    flagged = httpx.get(f"{live.url}/audit/break-glass", params={"limit": 500},
                        headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert [(r["username"], r["purpose"], r["break_glass"]) for r in flagged
            if r["child_id"] == child_id] == [
        (f"hx-{child_id[:8]}", "孩子走失，需立即联系监护人", True)]
