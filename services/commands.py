"""Commands: pydantic models that check shape at the boundary, and one handler each."""

from datetime import date
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin
from uuid import UUID

from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints,
                      ValidationInfo, field_validator)
from pydantic_core import PydanticCustomError

from services import text


class FreeText:
    """Marks a free-text type (findings, notes, reasons): it keeps tab and line breaks.
    Every other text of a command is single-line (services/text.py)."""

    def __get_pydantic_json_schema__(self, core: Any, handler: Any) -> dict[str, Any]:
        """Documented with the characters it allows (the others: infra/web/openapi.py)."""
        schema: dict[str, Any] = handler(core)
        schema.setdefault("pattern", text.FREE_TEXT_PATTERN)
        return schema


FREE_TEXT = FreeText()

# Shape rules (lengths, enums, formats) live here; rules needing history live in domain/.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OptShort = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), FREE_TEXT]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                   FREE_TEXT]
# Mainland mobile (11 digits from 1) or a landline with its area code (0xxx-xxxxxxx).
Phone = Annotated[str, StringConstraints(strip_whitespace=True,
                                         pattern=r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")]
IdNumber = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                            pattern=r"^\d{17}[\dX]$")]
Agency = Literal["school", "womens_federation", "youth_league", "township", "community"]
HelperRole = Literal["class_teacher", "volunteer", "counsellor", "grid_worker",
                     "child_director", "township_supervisor", "principal"]
UserRole = Literal["admin", "auditor", "class_teacher", "volunteer", "counsellor", "grid_worker",
                   "child_director", "township_supervisor", "principal"]
Status = Literal["active", "no_longer_left_behind", "transferred", "aged_out", "closed"]


class Command(BaseModel):
    """Every command refuses fields it does not know, so a typo is a 422, not a silent loss.

    Every text of every command, however deep in lists, passes services/text.problem: a
    field declared with a FREE_TEXT type keeps tab and line breaks, any other is one line.
    Being here, the rule covers a field added tomorrow without anyone remembering it.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _allowed_characters(cls, value: Any, info: ValidationInfo) -> Any:
        multiline = _free_text(cls, info.field_name or "")
        for found in _texts(value):
            bad = text.problem(found, multiline)
            if bad:
                raise PydanticCustomError(*bad)
        return value


def _texts(value: Any) -> list[str]:
    """The strings in a validated value: itself, or those of its lists and dicts (a nested
    command checks its own fields)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for item in value for s in _texts(item)]
    if isinstance(value, dict):
        return [s for pair in value.items() for item in pair for s in _texts(item)]
    return []


@cache
def _free_text(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and (FREE_TEXT in field.metadata or _marked(field.annotation))


def free_text_names() -> frozenset[str]:
    """The names of the free-text fields of every command: where a form field of that name
    may keep its line breaks (infra/web/edge.py). Asked once the commands are all imported."""
    def commands(model: type[Command]) -> list[type[Command]]:
        return [model, *[m for sub in model.__subclasses__() for m in commands(sub)]]
    return frozenset(name for model in commands(Command) for name in model.model_fields
                     if _free_text(model, name))


def _marked(annotation: Any) -> bool:
    """Whether a type, or one inside it (list[Decision]), carries the FREE_TEXT mark."""
    args = get_args(annotation)
    if get_origin(annotation) is Annotated and FREE_TEXT in args[1:]:
        return True
    return any(_marked(arg) for arg in args)


class Guardian(Command):
    name: Name
    relation: Short
    phone: Phone
    age: int | None = Field(default=None, ge=10, le=120)
    health: OptShort = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class Parent(Command):
    name: Name
    relation: Short
    phone: Phone | None = None
    work_city: OptShort = ""
    employer: OptShort = ""


class RegisterChild(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "张小明", "sex": "male", "birth_date": "2014-03-05", "school": "白沙关小学",
        "grade": "六年级", "class_name": "六(2)班", "township": "白沙关镇", "village": "白沙关村",
        "left_behind_type": "both_parents_away", "reason": "父母在广州务工",
        "guardian": {"name": "张奶奶", "relation": "祖母", "phone": "13800001111"},
        "parents": [{"name": "张大山", "relation": "父亲", "work_city": "广州"}]}]})

    id: UUID | None = None
    name: Name
    sex: Literal["female", "male"]
    birth_date: date
    id_number: IdNumber | None = None
    school: Short
    grade: Short
    class_name: Short
    township: Short
    village: Short
    grid: OptShort = ""
    left_behind_type: Literal["both_parents_away", "one_parent_away", "single_parent", "other"]
    reason: Text = ""
    guardian: Guardian
    parents: list[Parent] = Field(default_factory=list, max_length=4)

    def profile(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"id", "guardian", "parents"})


class ReplaceParents(Command):
    parents: list[Parent] = Field(max_length=4)


class ChangeEnrollment(Command):
    school: Short
    grade: Short
    class_name: Short


class PairHelper(Command):
    helper_id: UUID
    since: date


class EndPairing(Command):
    until: date
    reason: Reason


class RecordVisit(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "occurred_at": "2025-03-01T10:00:00+08:00", "kind": "home", "findings": "学习正常",
        "contacts_confirmed": ["13800001111"], "child_seen": True}]})

    occurred_at: AwareDatetime
    kind: Literal["home", "school", "phone"]
    findings: Text
    needs_followup: bool = False
    contacts_confirmed: list[Phone] = Field(default_factory=list, max_length=10)
    child_seen: bool | None = None  # 见到儿童本人; None: not stated


class RecordCounselling(Command):
    occurred_at: AwareDatetime
    topic: Short
    risk_level: Literal["low", "medium", "high"]
    notes: Text = ""


class RecordParentFeedback(Command):
    occurred_at: AwareDatetime
    channel: Literal["phone", "wechat", "video", "letter", "in_person", "other"]
    summary: Text


class RecordExamResult(Command):
    school_year: int = Field(ge=2000, le=2100)
    semester: Literal[1, 2]
    total_score: float = Field(ge=0, le=10000)
    class_rank: int = Field(ge=1, le=300)
    class_size: int = Field(ge=1, le=300)


class RecordViolation(Command):
    occurred_at: AwareDatetime
    severity: Literal["minor", "serious"]
    description: Text


class AwardHonour(Command):
    school_year: int = Field(ge=2000, le=2100)
    title: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]


class ChangeStatus(Command):
    status: Status
    reason: Reason


class EraseChild(Command):
    """The reason is kept in clear for the auditors: it must name no personal data."""

    reason: Reason


class MergeChild(Command):
    """合并重复档案: the file in the path is merged into the file named by `into`."""

    into: UUID
    reason: Reason


class RegisterHelper(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "王老师", "agency": "school", "role": "class_teacher", "phone": "13900002222",
        "school": "白沙关小学", "class_name": "六(2)班", "township": "白沙关镇"}]})

    id: UUID | None = None
    name: Name
    agency: Agency
    role: HelperRole
    phone: Phone
    school: OptShort = ""
    class_name: OptShort = ""
    township: OptShort = ""
    village: OptShort = ""


class Jurisdiction(Command):
    """Where a user works: the fields their role needs (services/handlers.JURISDICTION_NEEDS)."""

    township: OptShort = ""
    village: OptShort = ""
    school: OptShort = ""
    class_name: OptShort = ""
    helper_id: UUID | None = None

    def jurisdiction(self) -> dict[str, Any]:
        fields = ("township", "village", "school", "class_name")
        found: dict[str, Any] = {f: getattr(self, f) for f in fields if getattr(self, f)}
        if self.helper_id:
            found["helper_id"] = str(self.helper_id)
        return found


class CreateUser(Jurisdiction):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{3,40}$")]
    password: Annotated[str, StringConstraints(min_length=10, max_length=128)]
    agency: Agency
    role: UserRole

    @field_validator("password")
    @classmethod
    def _strong_password(cls, password: str, info: ValidationInfo) -> str:
        check_password(password, info.data.get("username") or "")
        return password


def check_password(password: str, username: str) -> None:
    """At least 10 characters (the field's bound), of two kinds or more, and not the name."""
    kinds = [any(ch.isalpha() for ch in password), any(ch.isdigit() for ch in password),
             any(not ch.isalnum() for ch in password)]
    if sum(kinds) < 2:
        raise ValueError("mix at least two of letters, digits and symbols")
    if username and username.lower() in password.lower():
        raise ValueError("must not contain the username")
    if len(set(password)) < 5:
        raise ValueError("too few different characters")


class ChangeRole(Jurisdiction):
    """A new role, with the jurisdiction that role needs."""

    role: UserRole
    reason: Reason = "changed by an administrator"


class ChangeJurisdiction(Jurisdiction):
    reason: Reason = "changed by an administrator"


class DisableUser(Command):
    reason: Reason = "disabled by an administrator"
