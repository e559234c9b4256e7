"""Assessment use cases: publish (freeze) a school year's figures."""

from typing import Any

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.errors import ConflictingState
from domain.publication import Publication, publication_id_for
from services.application import Answer, Qianshou
from services.idempotency import IdempotencyRequest
from services.permissions import require

Decided = tuple[list[Aggregate], int, dict[str, Any]]


class AssessmentHandlers:
    """The assessment use cases, bound to one application."""

    def __init__(self, app: Qianshou) -> None:
        self.app = app

    def publish(self, school_year: int, scheme_version: str, figures: dict[str, Any],
                actor: Actor, idem: IdempotencyRequest | None) -> Answer:
        """Record the year's figures once; the deterministic id makes a second try a 409."""
        require(actor, "assessment.publish")
        publication_id = publication_id_for(school_year)

        def decide() -> Decided:
            if self.app.exists(publication_id):
                raise ConflictingState(f"the assessment of {school_year} is already published")
            publication = Publication.publish(school_year, scheme_version, figures)
            body = {"id": str(publication_id), "school_year": school_year,
                    "scheme_version": scheme_version, "published": True}
            return [publication], 201, body

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=publication_id)
