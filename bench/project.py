"""The project's own path: pydantic command, Handlers, Qianshou.execute, one save."""

from bench import payload
from bench.stores import settings_for
from domain.actor import SYSTEM
from infra.services import build_services
from services import commands as c


class ProjectWorkload:
    """Commands as the web routers hand them to the handlers (no HTTP, runner not started)."""

    name = "project"

    def __init__(self, url: str) -> None:
        self.services = build_services(settings_for(url))

    def register(self, n: int) -> None:
        cmd = c.RegisterChild.model_validate(payload.child_body(n))
        self.services.handlers.register_child(cmd, SYSTEM, None)

    def visit(self, n: int, k: int) -> None:
        cmd = c.RecordVisit.model_validate(payload.visit_body(k))
        self.services.handlers.change_child(
            payload.child_id(n), "child.visit",
            lambda ch: ch.record_visit(cmd.occurred_at, cmd.kind, cmd.findings,
                                       cmd.needs_followup, cmd.contacts_confirmed),
            SYSTEM, None)

    def close(self) -> None:
        self.services.close()
