"""A demo data set: one township, two villages, one school."""

import random
from datetime import UTC, date, datetime, timedelta
from uuid import NAMESPACE_URL, uuid5

from domain.actor import Actor
from infra.services import Services
from services import commands as c

SURNAMES = "张王李刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = ["小明", "晓明", "小敏", "雨涵", "子轩", "欣怡", "浩然", "梓涵", "宇航", "思琪",
         "俊杰", "佳怡"]
TOWNSHIP, VILLAGES, SCHOOL = "白沙关镇", ("白沙关村", "石门村"), "白沙关小学"
CLASSES = ("六(1)班", "六(2)班", "五(1)班")
ADMIN = Actor(user_id="demo", username="admin", agency="township", role="admin")

HELPERS = [  # name, agency, role, class
    ("李老师", "school", "class_teacher", "六(1)班"), ("王老师", "school", "class_teacher",
                                                      "六(2)班"),
    ("赵老师", "school", "class_teacher", "五(1)班"), ("陈心理", "school", "counsellor", ""),
    ("刘妈妈", "womens_federation", "volunteer", ""), ("周团员", "youth_league", "volunteer", ""),
    ("孙社工", "community", "grid_worker", ""), ("吴主任", "community", "child_director", ""),
    ("郑督导", "township", "township_supervisor", ""),
]


def demo_id(kind: str, n: int) -> str:
    """Stable ids, so loading the demo twice registers nobody twice."""
    return str(uuid5(NAMESPACE_URL, f"qianshou:demo:{kind}:{n}"))


def load_demo(s: Services, children: int = 36, seed: int = 7) -> int:
    """Register helpers and children and a term of visits, feedback and results."""
    if s.app.exists(uuid5(NAMESPACE_URL, f"qianshou:demo:child:{children - 1}")):
        return 0
    rnd = random.Random(seed)
    helper_ids = [_helper(s, i, *h) for i, h in enumerate(HELPERS)]
    for n in range(children):
        _child(s, n, rnd, helper_ids)
    return children


def _helper(s: Services, i: int, name: str, agency: str, role: str, class_name: str) -> str:
    cmd = c.RegisterHelper(id=demo_id("helper", i), name=name, agency=agency, role=role,
                           phone=f"139{i:08d}", school=SCHOOL if agency == "school" else "",
                           class_name=class_name, township=TOWNSHIP, village=VILLAGES[0])
    return s.handlers.register_helper(cmd, ADMIN, None).body["id"]


def _child(s: Services, n: int, rnd: random.Random, helper_ids: list[str]) -> None:
    h = s.handlers
    name = rnd.choice(SURNAMES) + GIVEN[n % len(GIVEN)]
    birth = date(2013, 1, 1) + timedelta(days=rnd.randint(0, 900))
    cmd = c.RegisterChild(
        id=demo_id("child", n), name=name, sex=rnd.choice(["female", "male"]), birth_date=birth,
        id_number=f"522601{birth:%Y%m%d}{n:03d}{rnd.randint(0, 9)}", school=SCHOOL, grade="六年级",
        class_name=CLASSES[n % 3], township=TOWNSHIP, village=VILLAGES[n % 2],
        left_behind_type=rnd.choice(["both_parents_away", "one_parent_away", "single_parent"]),
        reason="父母外出务工", guardian=c.Guardian(name=name[0] + "奶奶", relation="祖母",
                                             phone=f"138{n:08d}", age=66, health="良好",
                                             address=f"{VILLAGES[n % 2]}{n + 1}组"),
        parents=[c.Parent(name=name[0] + "父", relation="父亲", phone=f"137{n:08d}",
                          work_city="广州")])
    child_id = h.register_child(cmd, ADMIN, None).body["id"]
    uid = cmd.id
    assert uid is not None
    h.change_child(uid, "child.pair",
                   lambda ch: ch.pair_helper(helper_ids[4 + n % 2], date(2025, 9, 1)), ADMIN, None)
    start = datetime(2025, 9, 15, 2, tzinfo=UTC)
    for month in range(4):
        when = start + timedelta(days=30 * month)
        h.change_child(uid, "child.visit", lambda ch, w=when: ch.record_visit(
            w, "home", "孩子身体健康，学习认真。", False, [cmd.guardian.phone]), ADMIN, None)
        h.change_child(uid, "child.parent_feedback", lambda ch, w=when: ch.record_parent_feedback(
            w + timedelta(days=2), "wechat", "向父母反馈了孩子本月在校情况。"), ADMIN, None)
    rank = rnd.randint(1, 40)
    h.change_child(uid, "child.exam_result",
                   lambda ch: ch.record_exam_result(2025, 1, 420.5, rank, 40), ADMIN, None)
    del child_id
