"""The publication of a school year's assessment (考核结果公布): the figures, frozen."""

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.recorded import RecordedEvent, meta


def publication_id_for(school_year: int) -> UUID:
    """Deterministic id: the store's primary key refuses a second publication of one year."""
    return uuid5(NAMESPACE_URL, f"qianshou:assessment-publication:{school_year}")


class Publication(Aggregate):
    """A published assessment: once recorded its figures never change; corrections amend."""

    class Event(RecordedEvent):
        pass

    class Published(Aggregate.Created, Event):
        school_year: int
        scheme_version: str
        figures: dict[str, Any]

    def __init__(self, school_year: int, scheme_version: str, figures: dict[str, Any],
                 **_: Any) -> None:
        self.school_year = school_year
        self.scheme_version = scheme_version
        self.figures = figures

    @classmethod
    def publish(cls, school_year: int, scheme_version: str,
                figures: dict[str, Any]) -> "Publication":
        """Freeze a year's figures under the scheme version that produced them."""
        return cls._create(cls.Published, id=publication_id_for(school_year), **meta(None),
                           school_year=school_year, scheme_version=scheme_version,
                           figures=figures)
