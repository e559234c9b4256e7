"""Bulk demo history: `qianshou demo --children N --years Y`, through the real domain.

Each child's file is built by the aggregates' own methods (the same decisions the command
handlers make), with `domain.actor.current_actor` set to the acting user as
`Qianshou.execute` sets it, and facts dated in the past over the years. Many aggregates go
into one `app.save`, so the events pass through the application's mapper (and its
encryption) exactly as a command's do, but one transaction carries a hundred children.
"""

import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import SYSTEM, Actor, current_actor
from domain.child import Child
from domain.grant import Grant, GrantSlot, Programme, programme_id_for
from domain.helper import Helper
from domain.identity import IdNumberClaim
from domain.incident import Incident
from domain.user import User, user_id_for
from domain.values import utcnow
from infra.county import County, Numbers, SchoolClass, birth_date, build_county, person_name
from infra.services import Services
from services import commands as c
from services import grant_handlers as g
from services.handlers import check_jurisdiction, hasher

SAVE_BATCH = 100  # children per app.save: one transaction of about 3,500 events
FINDINGS = ("孩子身体健康，学习认真，祖母照顾周到。", "家中卫生一般，已提醒监护人注意饮食安全。",
            "孩子情绪稳定，与同学相处融洽。", "作业完成较好，监护人年迈，辅导有困难。",
            "孩子近期沉默寡言，建议班主任多关注。", "房屋老旧，已提醒注意用电和防溺水安全。")
SUMMARIES = ("向父母反馈了孩子本月在校情况。", "与母亲视频，反馈期中考试成绩。",
             "电话告知父亲孩子近期情绪低落，建议多打电话。", "微信发送孩子获奖照片。")
TOPICS = ("学习压力", "亲子沟通", "同伴关系", "情绪困扰", "网络使用", "青春期困惑")
CITIES = ("广州", "深圳", "东莞", "杭州", "上海", "厦门", "贵阳", "昆明", "宁波", "苏州")
INCIDENTS = (("injury", "medium"), ("severe_illness", "high"), ("missing", "high"),
             ("bullying", "medium"), ("psychological_crisis", "high"), ("other", "low"))
PROGRAMMES = (  # code, name, funder, cap in fen, period kind
    ("edu-aid", "义务教育阶段家庭经济困难学生生活补助", "education", 62_500, "term"),
    ("spring-bud", "春蕾计划助学金", "womens_federation", 100_000, "yearly"),
)


@dataclass(frozen=True)
class Staff:
    """Who records what in one township (users of the store, set as the acting user)."""

    teacher: Actor
    volunteer: Actor
    counsellor: Actor
    supervisor: Actor
    director: Actor  # pays grants out: never the supervisor who approved them


@dataclass(frozen=True)
class Plan:
    """Everything a child's history needs that is shared by the whole generation."""

    county: County
    staff: dict[str, Staff]  # by township
    helpers: dict[str, list[str]]  # helper ids: "class:<school><class>", "village:<v>", ...
    seed: int
    years: int
    end: datetime  # the last day of the history


def generated_id(seed: int, kind: str, key: Any) -> UUID:
    """Stable ids: the same seed regenerates the same files, and is detected as loaded."""
    return uuid5(NAMESPACE_URL, f"qianshou:generated:{seed}:{kind}:{key}")


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """As Qianshou.execute does: the domain's meta() reads the acting user from here."""
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)


def generate(s: Services, children: int, years: int, seed: int = 7,
             progress: Callable[[int], None] | None = None) -> int:
    """Write the county's children and their years of history; returns how many were new."""
    if s.app.exists(generated_id(seed, "child", children - 1)):
        return 0
    rnd = random.Random(seed)
    county = build_county(children, rnd)
    numbers = Numbers(seed)
    password_hash = hasher.hash(secrets.token_urlsafe(24))
    staff = {t: _staff(s, seed, i, t, county, password_hash)
             for i, t in enumerate(county.townships)}
    plan = Plan(county, staff, _helpers(s, seed, county, numbers, rnd), seed, years,
                utcnow().replace(hour=2, minute=0, second=0, microsecond=0) - timedelta(days=1))
    programmes = _programmes(s)
    saved = 0
    for first in range(0, children, SAVE_BATCH):
        batch: list[Aggregate] = []
        last = min(first + SAVE_BATCH, children)
        for n in range(first, last):  # built even when saved before: the numbers run on
            batch += child_history(plan, programmes, numbers, n,
                                   random.Random(seed * 1_000_003 + n))
        if not s.app.exists(generated_id(seed, "child", last - 1)):  # an interrupted run resumes
            s.app.save(*batch)
            saved += last - first
        if progress is not None:
            progress(last - first)
    return saved


def _staff(s: Services, seed: int, i: int, township: str, county: County,
           password_hash: str) -> Staff:
    """Five users per township, as POST /users makes them; the password is one nobody
    knows, hashed once (argon2 takes a quarter of a second a hash here)."""
    school = county.schools[township][0]
    village = county.villages[township][0]
    first = next(k for k in county.classes if k.township == township)
    specs = {
        "teacher": ("school", "class_teacher", {"school": school, "class_name": first.class_name}),
        "volunteer": ("womens_federation", "volunteer",
                      {"helper_id": generated_id(seed, "helper", f"village:{village}:0")}),
        "counsellor": ("school", "counsellor", {"school": school}),
        "supervisor": ("township", "township_supervisor", {"township": township}),
        "director": ("community", "child_director", {"township": township, "village": village}),
    }
    actors, users = {}, []
    for key, (agency, role, where) in specs.items():
        cmd = c.CreateUser(username=f"g{seed}-t{i + 1}-{key}", password="unused-pw-1",
                           agency=agency, role=role, **where)  # type: ignore[arg-type]
        check_jurisdiction(cmd.role, cmd.jurisdiction())
        if not s.app.exists(user_id_for(cmd.username)):
            with acting(SYSTEM):
                users.append(User.create(cmd.username, password_hash, cmd.agency, cmd.role,
                                         cmd.jurisdiction()))
        actors[key] = Actor(user_id=cmd.username, username=cmd.username, agency=agency,
                            role=role, jurisdiction=cmd.jurisdiction())
    if users:
        s.app.save(*users)
    return Staff(**actors)


def _helpers(s: Services, seed: int, county: County, numbers: Numbers,
             rnd: random.Random) -> dict[str, list[str]]:
    """A class teacher per class; a volunteer, a child director and a grid worker per
    village; a counsellor per school and a supervisor per township. Saved in one go."""
    found: dict[str, list[str]] = {}
    helpers: list[Aggregate] = []

    def add(key: str, agency: str, role: str, **where: str) -> None:
        cmd = c.RegisterHelper(name=person_name(rnd), agency=agency,  # type: ignore[arg-type]
                               role=role,  # type: ignore[arg-type]
                               phone=numbers.phone(rnd), **where)
        helper_id = generated_id(seed, "helper", f"{key}:{len(found.get(key, []))}")
        with acting(SYSTEM):
            helpers.append(Helper.register(cmd.model_dump(mode="json", exclude={"id"}),
                                           helper_id))
        found.setdefault(key, []).append(str(helper_id))

    for k in county.classes:
        add(f"class:{k.school}{k.class_name}", "school", "class_teacher", school=k.school,
            class_name=k.class_name, township=k.township)
    for township in county.townships:
        add(f"township:{township}", "township", "township_supervisor", township=township)
        for school in county.schools[township]:
            add(f"school:{school}", "school", "counsellor", school=school, township=township)
        for village in county.villages[township]:
            add(f"village:{village}", "womens_federation", "volunteer", township=township,
                village=village)
            add(f"village:{village}", "community", "child_director", township=township,
                village=village)
            add(f"village:{village}", "community", "grid_worker", township=township,
                village=village)
    for start in range(0, len(helpers), 1000):
        if not s.app.exists(helpers[min(start + 999, len(helpers) - 1)].id):
            s.app.save(*helpers[start:start + 1000])
    return found


def _programmes(s: Services) -> dict[str, Programme]:
    """The relief programmes, opened through the handler once per store."""
    handlers = g.GrantHandlers(s.app)
    found = {}
    for code, name, funder, cap, kind in PROGRAMMES:
        if not s.app.exists(programme_id_for(code)):
            handlers.create_programme(g.CreateProgramme(
                code=code, name=name, funding_agency=funder, cap_fen=cap,  # type: ignore[arg-type]
                period_kind=kind), SYSTEM, None)  # type: ignore[arg-type]
        found[code] = s.app.load(programme_id_for(code), Programme, "programme")
    return found


def child_history(plan: Plan, programmes: dict[str, Programme], numbers: Numbers, n: int,
                  rnd: random.Random) -> list[Aggregate]:
    """One child's file and everything about it, in the order it happened."""
    school_class = plan.county.classes[n % len(plan.county.classes)]
    staff = plan.staff[school_class.township]
    start = plan.end - timedelta(days=365 * plan.years)
    with acting(staff.teacher):
        child, claim = _register(plan, school_class, numbers, n, start, rnd)
    made: list[Aggregate] = [child, claim]
    village = child.profile["village"]
    teacher = plan.helpers[f"class:{school_class.school}{school_class.class_name}"]
    paired = plan.helpers[f"village:{village}"][:1] + teacher[:1 if rnd.random() < 0.2 else 0]
    with acting(staff.volunteer):  # 结对帮扶: the village volunteer, one in five the teacher too
        for k, helper_id in enumerate(paired):
            child.pair_helper(helper_id, (start + timedelta(days=3 + k)).date())
    for year in range(plan.years):
        made += _year(plan, programmes, numbers, staff, child, start + timedelta(days=365 * year),
                      rnd)
    return made


def _register(plan: Plan, school_class: SchoolClass, numbers: Numbers, n: int, start: datetime,
              rnd: random.Random) -> tuple[Child, IdNumberClaim]:
    """Validated by the same command model as POST /children, then Child.register."""
    male = rnd.random() < 0.52
    name = person_name(rnd)
    born = birth_date(school_class, start.year if start.month >= 9 else start.year - 1, rnd)
    surname = name[0]
    away = rnd.choice(("both_parents_away", "both_parents_away", "one_parent_away",
                       "single_parent"))
    cmd = c.RegisterChild(
        id=generated_id(plan.seed, "child", n), name=name, sex="male" if male else "female",
        birth_date=born, id_number=numbers.id_number(school_class.area_code, born, male),
        school=school_class.school, grade=school_class.grade, class_name=school_class.class_name,
        township=school_class.township, village=rnd.choice(school_class.villages),
        left_behind_type=away, reason="父母外出务工" if away != "single_parent" else "单亲，母亲外出务工",
        guardian=_guardian(surname, numbers, rnd),
        parents=[c.Parent(name=person_name(rnd, surname), relation="父亲", phone=numbers.phone(rnd),
                          work_city=rnd.choice(CITIES)),
                 c.Parent(name=person_name(rnd), relation="母亲", phone=numbers.phone(rnd),
                          work_city=rnd.choice(CITIES))][:1 if away == "single_parent" else 2])
    assert cmd.id is not None and cmd.id_number is not None
    child = Child.register(cmd.profile(), cmd.guardian.model_dump(mode="json"),
                           [p.model_dump(mode="json") for p in cmd.parents], cmd.id)
    return child, IdNumberClaim.claim(cmd.id_number, cmd.id)


def _guardian(surname: str, numbers: Numbers, rnd: random.Random) -> c.Guardian:
    relation = rnd.choice(("祖母", "祖父", "外祖母", "叔叔", "姑姑"))
    name = person_name(rnd, surname if relation in ("祖父", "祖母", "叔叔", "姑姑") else None)
    return c.Guardian(name=name, relation=relation, phone=numbers.phone(rnd),
                      age=rnd.randint(35, 78) if relation in ("叔叔", "姑姑") else rnd.randint(55, 80),
                      health=rnd.choice(("良好", "良好", "高血压", "腿脚不便")),
                      address=f"{rnd.randint(1, 12)}组{rnd.randint(1, 60)}号")


def _year(plan: Plan, programmes: dict[str, Programme], numbers: Numbers, staff: Staff,
          child: Child, begins: datetime, rnd: random.Random) -> list[Aggregate]:
    """A year: monthly visits and feedback, two exams, counselling, grants, now and then an
    incident or a new guardian. Returns the other aggregates it made."""
    def at(day: float) -> datetime:
        return min(begins + timedelta(days=day, hours=rnd.randint(0, 9)), plan.end)

    for month in range(12):
        with acting(staff.teacher):
            child.record_visit(at(30 * month + rnd.randint(0, 20)), rnd.choice(("home", "home",
                               "school", "phone")), rnd.choice(FINDINGS), rnd.random() < 0.05,
                               [child.guardian["phone"]] if rnd.random() < 0.7 else [],
                               rnd.random() < 0.9)
        with acting(staff.volunteer):
            child.record_parent_feedback(at(30 * month + rnd.randint(21, 28)),
                                         rnd.choice(("wechat", "phone", "video")),
                                         rnd.choice(SUMMARIES))
    school_year = begins.year if begins.month >= 9 else begins.year - 1
    with acting(staff.teacher):
        for semester in (1, 2):
            size = 40 + rnd.randint(0, 10)
            child.record_exam_result(school_year, semester, round(rnd.uniform(250, 580), 1),
                                     rnd.randint(1, size), size)
    with acting(staff.counsellor):
        for _ in range(rnd.choice((2, 2, 3))):
            child.record_counselling(at(rnd.uniform(0, 360)), rnd.choice(TOPICS),
                                     rnd.choice(("low", "low", "low", "medium", "high")),
                                     "谈话记录：孩子愿意表达，约定下月再谈。")
    if rnd.random() < 0.05:
        with acting(staff.director):
            child.replace_guardian(_guardian(child.profile["name"][0], numbers, rnd)
                                   .model_dump(mode="json"))
    made = _grants(programmes, staff, child, school_year, rnd)
    if rnd.random() < 0.03:
        made.append(_incident(staff, child, at(rnd.uniform(0, 360)), rnd))
    return made


def _grants(programmes: dict[str, Programme], staff: Staff, child: Child, school_year: int,
            rnd: random.Random) -> list[Aggregate]:
    """One or two grants a year, approved by the supervisor and paid by the director. Both
    are dated now: an approval cannot be back-dated, and a payment before it would be an
    anomaly in the grants audit."""
    wanted = [("edu-aid", f"{school_year}-T1", 62_500)]
    if rnd.random() < 0.5:
        wanted.append(("spring-bud", str(school_year), 100_000))
    made: list[Aggregate] = []
    for code, period, amount in wanted:
        grant_id = uuid5(child.id, f"grant:{code}:{period}")
        with acting(staff.supervisor):
            grant = Grant.approve(grant_id, programmes[code], child.id, amount, period,
                                  "transfer", "")
            made += [GrantSlot.take_new(grant), grant]
        with acting(staff.director):
            grant.disburse(utcnow(), "transfer", f"BANK-{rnd.randint(10**8, 10**9 - 1)}")
    return made


def _incident(staff: Staff, child: Child, when: datetime, rnd: random.Random) -> Incident:
    """Reported, the guardian called, escalated to the school, resolved."""
    category, severity = rnd.choice(INCIDENTS)
    with acting(staff.teacher):
        incident = Incident.report(child.id, category, severity, when, "村口小河边",
                                   "放学后未按时回家，监护人报告。", child.birth_date,
                                   uuid5(child.id, f"incident:{when.isoformat()}"))
        incident.attempt_contact("guardian", child.guardian["name"], child.guardian["phone"],
                                 "phone", True, "已联系上监护人。")
        incident.escalate("school", "已报告学校。")
    with acting(staff.supervisor):
        incident.resolve("孩子平安", "已回家，监护人已接回。")
    return incident

