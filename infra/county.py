"""A made-up county for generated data: townships, villages, schools and classes, and the
people in it (Chinese names that share characters, unique phones and ID numbers).

Nothing here touches the store; infra/generator.py turns it into events.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

# Common surnames, weighted roughly as in the population; 章 and 张 sound alike on purpose.
SURNAMES = ("张" * 9 + "王" * 9 + "李" * 9 + "刘" * 6 + "陈" * 6 + "杨" * 4 + "黄" * 3 + "赵" * 3
            + "吴" * 3 + "周" * 3 + "徐" * 2 + "孙" * 2 + "马" * 2 + "朱" * 2 + "胡" * 2 + "郭" * 2
            + "何" * 2 + "罗" * 2 + "高" + "林" + "章" + "龙" + "杜" + "田" + "潘" + "石" + "韦")
# Given names from a small pool of characters, so 小明/晓明/小敏 and their like recur.
FIRST = "小晓子梓欣雨浩思佳俊宇诗家明文嘉"
SECOND = "明敏轩涵怡然琪杰航宁婷磊洋鹏雪丽华强军萱"
PLACE_STEMS = ("白沙", "石门", "青山", "龙泉", "桃源", "新华", "红岩", "金竹", "清水", "马场",
               "高坡", "河坝", "长寨", "平坝", "松林", "梨树", "杨柳", "凤凰", "大坪", "茶园",
               "关岭", "双河", "三合", "五里", "岩脚", "沙坪", "鸡场", "牛场", "羊场", "猫寨")
GRADES = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级")
NUMERALS = "一二三四五六"
ORDINALS = ("二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四",
            "十五", "十六", "十七", "十八", "十九", "二十")
MOBILE_PREFIXES = ("138", "139", "137", "136", "135", "158", "159", "187", "188", "151", "152",
                   "182", "183", "150", "157", "130", "131", "132", "155", "156", "185", "186",
                   "133", "153", "180", "181", "189", "177", "199")
CHILDREN_PER_CLASS = 15  # left-behind children of a class of about 45
CLASSES_PER_GRADE = 3
VILLAGES_PER_TOWNSHIP = 12
CHILDREN_PER_TOWNSHIP = 5000
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class SchoolClass:
    """One class of a primary school, with the township and villages it draws from."""

    township: str
    area_code: str  # the first 6 digits of an ID number issued there
    villages: tuple[str, ...]
    school: str
    grade_index: int  # 0 for 一年级 ... 5 for 六年级
    class_name: str

    @property
    def grade(self) -> str:
        return GRADES[self.grade_index]


@dataclass(frozen=True)
class County:
    """The places; children are spread over its classes in turn."""

    townships: tuple[str, ...]
    villages: dict[str, tuple[str, ...]]
    schools: dict[str, tuple[str, ...]]
    classes: tuple[SchoolClass, ...]


def build_county(children: int, rnd: random.Random) -> County:
    """Enough townships (about 5,000 children each), schools and classes for the children."""
    count = max(3, -(-children // CHILDREN_PER_TOWNSHIP))
    stems = rnd.sample(PLACE_STEMS, len(PLACE_STEMS))
    townships = tuple(_place(stems, i, "镇" if i % 3 else "乡") for i in range(count))
    classes_needed = max(count, -(-children // CHILDREN_PER_CLASS))
    per_township = -(-classes_needed // count)
    villages, schools, classes = {}, {}, []
    for t, township in enumerate(townships):
        villages[township] = tuple(_place(stems, count + t * VILLAGES_PER_TOWNSHIP + v, "村")
                                   for v in range(VILLAGES_PER_TOWNSHIP))
        school_count = max(2, -(-per_township // (len(GRADES) * CLASSES_PER_GRADE)))
        base = township[:-1]
        schools[township] = tuple(_schools(base, villages[township], school_count))
        for k in range(per_township):
            school = schools[township][k % school_count]
            slot = k // school_count
            grade = slot % len(GRADES)
            number = slot // len(GRADES) + 1
            near = villages[township][(k * 5) % VILLAGES_PER_TOWNSHIP:][:4] or villages[township]
            classes.append(SchoolClass(township, str(522601 + t), near, school, grade,
                                       f"{NUMERALS[grade]}({number})班"))
    return County(townships, villages, schools, tuple(classes))


def _schools(base: str, villages: tuple[str, ...], count: int) -> list[str]:
    """The township's central school, village schools, then numbered town schools."""
    names = [f"{base}中心小学"] + [f"{v[:-1]}小学" for v in villages][:count - 1]
    names += [f"{base}第{ORDINALS[k]}小学" for k in range(count - len(names))]
    return names


def _place(stems: list[str], i: int, suffix: str) -> str:
    """A place name; past the stems, two stems make a new one (白沙石门村)."""
    if i < len(stems):
        return stems[i] + suffix
    return stems[i % len(stems)] + stems[(i // len(stems)) % len(stems)][0] + suffix


def person_name(rnd: random.Random, surname: str | None = None) -> str:
    """张小明, 张晓明, 章小敏: two-character given names mostly, from a shared pool."""
    first = surname or rnd.choice(SURNAMES)
    if rnd.random() < 0.15:
        return first + rnd.choice(SECOND)
    return first + rnd.choice(FIRST) + rnd.choice(SECOND)


@dataclass
class Numbers:
    """Phones and ID numbers, each unique within one generation."""

    seed: int
    phones_issued: int = 0
    births: dict[tuple[str, date], int] = field(default_factory=dict)

    def phone(self, rnd: random.Random) -> str:
        """A mobile number: a prefix and 8 digits from a bijection of a counter, so no two
        are equal and their last four digits are spread (the lookup searches by them)."""
        self.phones_issued += 1
        body = (self.phones_issued * 7_654_321 + self.seed * 1_000_003) % 100_000_000
        return f"{rnd.choice(MOBILE_PREFIXES)}{body:08d}"

    def id_number(self, area_code: str, birth: date, male: bool) -> str:
        """A valid 18-digit number: area, birth date, sequence (odd for boys), check digit."""
        count = self.births.get((area_code, birth), 0)
        self.births[(area_code, birth)] = count + 1
        sequence = (self.seed * 37 + count) % 500 * 2 + (1 if male else 0)
        body = f"{area_code}{birth:%Y%m%d}{sequence:03d}"
        return body + check_digit(body)


def check_digit(body: str) -> str:
    """GB 11643: ISO 7064 MOD 11-2 over the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def birth_date(school_class: SchoolClass, school_year: int, rnd: random.Random) -> date:
    """A birth date that fits the grade in the school year (entry at six, in September)."""
    born_from = date(school_year - 7 - school_class.grade_index, 9, 1)
    return born_from + timedelta(days=rnd.randint(0, 364))
