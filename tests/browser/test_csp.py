"""The pages under their Content-Security-Policy in Chromium (issue 19, finding 10): every
main page loads its stylesheet and script, the print button prints, the compliance bars
show, and Chromium reports no CSP violation, neither as an event nor on the console. A
style attribute set on purpose at the end proves the watch would see one."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.actor import SYSTEM
from services import incident_handlers as inc
from tests.browser.conftest import LiveServer, signed_in_page, sqlite_only

pytestmark = pytest.mark.xdist_group("browser")

# Installed before any page script: every violation the page meets is kept.
WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


class Watched:
    """A page whose CSP violations and console errors are collected."""

    def __init__(self, page: Any) -> None:
        self.page, self.console = page, []
        page.add_init_script(WATCH)
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def visit(self, url: str) -> list[str]:
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        return self.violations()

    def violations(self) -> list[str]:
        events = self.page.evaluate("window.__csp || []")
        return [*events, *(m for m in self.console if "Content Security Policy" in m
                           or "Refused to" in m)]


def _styled(page: Any) -> bool:
    """app.css applied: the skip link is moved off the screen."""
    return bool(page.evaluate(
        "getComputedStyle(document.querySelector('a.skip')).position === 'absolute'"))


@sqlite_only
def test_the_main_pages_work_under_the_csp_in_chromium(browser: Any, live: LiveServer) -> None:
    child_id = live.register(name="孙小红", id_number=None)
    incident = inc.IncidentHandlers(live.services.app).report(inc.ReportIncident(
        child_id=UUID(child_id), category="injury", severity="low",
        occurred_at=datetime.now(UTC) - timedelta(hours=1), location="操场"), SYSTEM, None)
    live.services.runner.wait_for(incident.position, 5)
    signed_out = Watched(browser.new_context().new_page())
    assert signed_out.visit(f"{live.url}/ui/login") == [] and _styled(signed_out.page)
    signed_out.page.context.close()

    page = signed_in_page(browser, live)  # through the sign-in form, under the CSP
    watched = Watched(page)
    pages = ["/ui/emergency", "/ui/emergency?q=sxh", "/ui/children", f"/ui/children/{child_id}",
             f"/ui/children/{child_id}/card", f"/ui/children/{child_id}/print",
             f"/ui/incidents/{incident.body['id']}", "/ui/dashboards/compliance",
             "/ui/assessments", "/ui/audit/grants", "/ui/import"]
    try:
        for path in pages:
            assert watched.visit(f"{live.url}{path}") == [], (path, watched.console)
            assert _styled(page), path
        watched.visit(f"{live.url}/ui/dashboards/compliance")
        bars = page.locator("progress.bar")
        assert bars.count() >= 5 and bars.first.bounding_box()["width"] > 20  # figures' bars
        for path, button in ((f"/ui/children/{child_id}/card", "打印联系卡"),
                             (f"/ui/children/{child_id}/print", "打印一人一档")):
            watched.visit(f"{live.url}{path}")
            page.evaluate("window.print = () => { window.__printed = true; }")
            page.get_by_role("button", name=button).click()
            assert page.evaluate("window.__printed === true"), path  # print.js ran
        assert watched.violations() == [], watched.console
        # The control: an inline style is refused, and the watch sees it.
        page.evaluate("document.body.setAttribute('style', 'color: red')")
        page.wait_for_function("window.__csp.length > 0")
        assert any("style-src" in v for v in watched.violations())
    finally:
        page.context.close()

