"""Screenshots of the main pages at phone width (360 px) for the README: `make screenshots`.

Starts the app on a fresh SQLite file with the demo data, walks the pages in Debian's
Chromium, and writes docs/screenshots/*.png. Chinese text needs a CJK font on the machine
(`make screenshots` installs fonts-noto-cjk when none is there).
"""

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from infra.demo import load_demo
from infra.settings import Settings
from pypinyin import Style, lazy_pinyin
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, serve
from tests.browser.test_pages_http import BAD, GOOD, sheet_with
from tests.conftest import ADMIN_PASSWORD

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH = 360
A4_WIDTH = 794  # A4 at 96 dpi: the printout is shown as on paper


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"docs/screenshots/{name}.png")


def first_child(live: LiveServer) -> tuple[str, str]:
    with live.services.db.reading() as cur:
        row = live.services.registry.page(cur, {}, None, 0, 1)[0]
    return row["child_id"], row["name"]


def walk(page: Any, live: LiveServer) -> None:
    """Each main page in the state a caseworker meets it."""
    base = live.url
    page.goto(f"{base}/ui/login")
    shoot(page, "01-login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/ui/emergency")
    child_id, name = first_child(live)
    initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))
    page.goto(f"{base}/ui/emergency?q={initials}&category=drowning")
    shoot(page, "02-emergency-lookup")
    hit = page.locator("article.hit").first
    hit.get_by_text("报告突发事件").click()
    hit.get_by_label("事件类别").select_option("drowning")
    hit.get_by_label("地点").fill("村口河边")
    hit.get_by_role("button", name="提交报告").click()
    page.wait_for_url("**/ui/incidents/*")
    page.locator("li.chain-entry").nth(1).get_by_role("button", name="未联系上").click()
    page.wait_for_url("**#attempts")
    shoot(page, "03-incident-contact-attempts")
    incident = page.url.split("#")[0]
    page.goto(f"{base}/ui/children/{child_id}")
    shoot(page, "04-child-file")
    page.goto(f"{base}/ui/children")
    shoot(page, "05-registry")
    page.goto(f"{base}/ui/import")
    page.get_by_label("Excel 文件").set_input_files(files=[{
        "name": "台帐.xlsx", "buffer": sheet_with([GOOD, BAD]),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_selector("#report")
    shoot(page, "06-import-report")
    page.goto(f"{base}/ui/children/{child_id}/card")
    shoot(page, "07-contact-card")
    page.goto(incident)
    escalate = page.locator("#form-escalations")
    escalate.locator("summary").click()
    escalate.get_by_label("上报至").select_option("township")
    escalate.get_by_label("备注").fill("已通知镇政府值班室")
    escalate.get_by_role("button", name="上报").click()
    page.wait_for_url("**#escalations")
    page.locator("#form-resolution summary").click()
    page.locator("#form-resolution").get_by_label("处置结果").fill("已救起，送镇卫生院观察")
    shoot(page, "09-incident-escalate-resolve")
    page.goto(f"{base}/ui/dashboards/compliance")
    shoot(page, "10-compliance-dashboard")
    page.set_viewport_size({"width": A4_WIDTH, "height": 1123})
    page.goto(f"{base}/ui/children/{child_id}/print")
    page.emulate_media(media="print")
    shoot(page, "08-printable-file")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        servers = serve(Settings(database_url=f"sqlite:///{folder}/qianshou.db",
                                 secret_key="screenshots-" + "x" * 32, log_level="WARNING"))
        live = next(servers)
        started = time.monotonic()
        load_demo(live.services, 12)
        live.services.runner.wait_for(live.services.app.max_position(), 10)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": WIDTH, "height": 740},
                                          device_scale_factor=1, locale="zh-CN")
            walk(context.new_page(), live)
            browser.close()
        next(servers, None)  # stops the server
        print(f"{time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
