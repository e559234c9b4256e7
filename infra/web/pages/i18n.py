"""The pages' words: Simplified Chinese first, English on request (?lang=en or the lang cookie).

One dict per language; a key missing in English falls back to the Chinese, so a page never
shows a bare key. Enum values of the API (roles, kinds, categories) are translated here too.
"""

from typing import Any

from infra.web.routers.dashboards import LABELS as DASHBOARD_LABELS

LANGS = ("zh", "en")

ZH: dict[str, str] = {
    "app": "牵手 · 留守儿童关爱", "lang_switch": "English", "skip": "跳到正文",
    "nav_emergency": "应急查找", "nav_registry": "台帐", "nav_import": "导入",
    "nav_assessments": "考核", "nav_grants": "救助审计", "sign_out": "退出",
    "signed_in_as": "当前用户",
    "login_title": "登录", "username": "用户名", "password": "密码", "sign_in": "登录",
    "login_failed": "用户名或密码错误",
    "login_csrf": "登录页已过期或不是从本站打开的，请重新输入用户名和密码后登录",
    "emergency_title": "应急查找", "search": "查找", "search_label": "姓名、拼音、电话、身份证号后几位、学校班级或村",
    "search_hint": "如：张小明、zxm、13800001111", "no_hits": "没有找到匹配的儿童",
    "category": "事件类别", "any_category": "（一般联系）", "contact_chain": "应急联系链",
    "stale": "号码已久未核实", "confirmed": "最近核实", "never_confirmed": "从未核实",
    "report_incident": "报告突发事件", "severity": "严重程度", "occurred_at": "发生时间",
    "location": "地点", "description": "情况描述", "submit_report": "提交报告",
    "incident_title": "突发事件", "incident_reported": "事件已报告。请按顺序联系，并逐一记录。",
    "contact_attempts": "联系记录", "reached": "已联系上", "not_reached": "未联系上",
    "record_attempt": "记录", "channel": "方式", "note": "备注", "attempted": "已记录联系",
    "overdue": "强制报告已逾期", "open_file": "打开档案",
    "registry_title": "留守儿童台帐", "filter": "筛选", "township": "乡镇", "village": "村/社区",
    "school": "学校", "class_name": "班级", "grade": "年级", "status": "状态", "any": "全部",
    "name_or_pinyin": "姓名或拼音", "export_xlsx": "导出 Excel", "completeness": "建档完整度",
    "next_page": "下一页", "count_shown": "本页人数",
    "file_title": "档案", "profile": "基本情况", "name": "姓名", "sex": "性别",
    "birth_date": "出生日期", "id_number": "身份证号", "left_behind_type": "留守类型",
    "reason": "原因", "guardian": "委托监护人", "relation": "关系", "phone": "电话",
    "age": "年龄", "health": "健康状况", "address": "住址", "parents": "外出父母",
    "work_city": "务工地", "pairings": "结对帮扶", "since": "起始",
    "timeline": "时间线", "as_of": "查看某日的档案", "as_of_date": "截至日期", "show": "显示",
    "as_of_note": "以下是截至该日已记录的档案", "current": "回到当前",
    "print_file": "打印一人一档", "print_card": "打印联系卡", "missing": "缺项",
    "record_visit": "记录走访", "kind": "方式", "findings": "了解到的情况",
    "needs_followup": "需要跟进", "contacts_confirmed": "核实过的电话（逗号分隔）",
    "record_feedback": "向外出父母反馈", "summary": "反馈内容",
    "record_counselling": "记录谈心/心理辅导", "topic": "主题", "risk_level": "风险等级",
    "notes": "记录（仅心理老师和督导员可见）", "restricted": "（受限，不可见）",
    "save": "保存", "saved": "已保存", "by": "记录人",
    "error": "出错了", "errors_below": "请改正以下问题", "forbidden": "无权进行此操作",
    "conflict": "与档案当前状态冲突", "not_found": "没有找到", "invalid": "输入有误",
    "csrf": "页面已过期，请刷新后重试", "back": "返回",
    "import_title": "导入台帐（Excel）", "template": "下载模板", "file": "Excel 文件（.xlsx）",
    "upload": "上传并导入", "import_report": "导入结果", "row": "行", "cell": "单元格",
    "heading": "栏目", "problem": "问题", "registered": "已登记", "skipped": "已存在，跳过",
    "invalid_row": "有误，未登记", "refused": "被拒绝", "import_hint":
        "每行一名儿童。有误的行不会登记；改正后可再次导入同一文件，已登记的不会重复登记。",
    "card_title": "应急联系卡", "file_print_title": "留守儿童档案（一人一档）",
    "printed_at": "打印时间", "assessments_title": "考核", "school_year": "学年",
    "points": "得分", "award": "奖金（元）", "volunteer": "志愿者", "class_teacher": "班主任",
    "published": "已公布", "not_published": "未公布", "student_awards": "学生奖励",
    "grants_title": "救助发放审计", "anomalies": "异常", "rule": "规则", "detail": "说明",
    "programme": "项目", "period": "期间", "agency": "单位", "count": "笔数",
    "approved": "批准（元）", "disbursed": "发放（元）", "revoked": "撤销（元）",
    "totals": "汇总", "none": "无", "contact": "联系人", "event": "事项", "content": "内容",
    # Incidents: escalation and resolution (强制报告: abuse goes to police within 24 hours).
    "reported_at": "报告时间", "mandatory_report": "侵害类事件须在 %d 小时内向公安机关报告（强制报告）。",
    "police_told": "已报警：", "police_not_told": "尚未报警。", "escalations": "上报记录",
    "escalated_to": "上报至", "escalate": "上报", "resolution": "处置结果",
    "resolve": "处置完毕，结案", "outcome": "处置结果", "outcome_hint": "如：已送医，伤情稳定",
    "open_incidents": "未结突发事件", "incident_open_link": "查看事件",
    # Break-glass (紧急查看): a read outside the jurisdiction, with a reason, reviewed later.
    "break_glass": "紧急查看", "break_glass_offer": "找不到？该儿童可能不在您的辖区",
    "break_glass_hint": "不在您辖区内的儿童，只能在紧急情况下查看联系人。请写明原因：此次查看会被记录，由儿童督导员复核。",
    "break_glass_reason": "紧急查看的原因", "break_glass_done": "紧急查看已记录，待儿童督导员复核。原因：",
    # The visit form: did the visitor see the child (见到儿童本人)?
    "child_seen": "见到儿童本人", "yes": "是", "no": "否", "not_stated": "未说明",
    "seen": "见到本人", "not_seen": "未见到本人",
    # The compliance dashboard.
    "nav_compliance": "达标情况", "compliance_title": "关爱服务达标情况", "month": "月份",
    "figure": "指标", "percent": "百分比", "children_lacking": "未达标儿童",
    "children_concerned": "涉及儿童", "computed_at": "统计时间", "all_met": "全部达标",
    # A file's missing facts (projections/case_file.REQUIRED_FACTS) beyond the plain fields.
    "guardian.name": "监护人姓名", "guardian.phone": "监护人电话", "guardian.address": "监护人住址",
    "parents.phone": "父母电话", "paired_helper": "结对帮扶人",
}

EN: dict[str, str] = {
    "app": "Qianshou · care for left-behind children", "lang_switch": "中文",
    "skip": "Skip to content", "nav_emergency": "Emergency", "nav_registry": "Registry",
    "nav_import": "Import", "nav_assessments": "Assessments", "nav_grants": "Grants audit",
    "sign_out": "Sign out", "signed_in_as": "Signed in as", "login_title": "Sign in",
    "username": "Username", "password": "Password", "sign_in": "Sign in",
    "login_failed": "Wrong username or password",
    "login_csrf": "The sign-in page expired or was not opened from this site; sign in again",
    "emergency_title": "Emergency lookup",
    "search": "Search",
    "search_label": "Name, pinyin, phone, last ID digits, school and class, or village",
    "search_hint": "e.g. 张小明, zxm, 13800001111", "no_hits": "No child found",
    "category": "Category", "any_category": "(general contact)", "contact_chain": "Contact chain",
    "stale": "phone not confirmed lately", "confirmed": "confirmed",
    "never_confirmed": "never confirmed", "report_incident": "Report an incident",
    "severity": "Severity", "occurred_at": "When", "location": "Where",
    "description": "What happened", "submit_report": "Report", "incident_title": "Incident",
    "incident_reported": "Reported. Call in this order and record each attempt.",
    "contact_attempts": "Contact attempts", "reached": "Reached", "not_reached": "Not reached",
    "record_attempt": "Record", "channel": "Channel", "note": "Note",
    "attempted": "attempt recorded", "overdue": "Mandatory report overdue",
    "open_file": "Open file", "registry_title": "Registry", "filter": "Filter",
    "township": "Township", "village": "Village", "school": "School", "class_name": "Class",
    "grade": "Grade", "status": "Status", "any": "Any", "name_or_pinyin": "Name or pinyin",
    "export_xlsx": "Export to Excel", "completeness": "Completeness", "next_page": "Next page",
    "count_shown": "On this page", "file_title": "File", "profile": "Profile", "name": "Name",
    "sex": "Sex", "birth_date": "Birth date", "id_number": "ID number",
    "left_behind_type": "Left-behind type", "reason": "Reason", "guardian": "Guardian",
    "relation": "Relation", "phone": "Phone", "age": "Age", "health": "Health",
    "address": "Address", "parents": "Parents away", "work_city": "Works in",
    "pairings": "Paired helpers", "since": "since", "timeline": "Timeline",
    "as_of": "The file as of a date", "as_of_date": "As of", "show": "Show",
    "as_of_note": "The file as it was recorded by that date", "current": "Back to now",
    "print_file": "Print the file", "print_card": "Print contact card", "missing": "Missing",
    "record_visit": "Record a visit", "kind": "Kind", "findings": "Findings",
    "needs_followup": "Needs follow-up", "contacts_confirmed": "Phones confirmed (comma-separated)",
    "record_feedback": "Feedback to the parents", "summary": "Summary",
    "record_counselling": "Record counselling", "topic": "Topic", "risk_level": "Risk level",
    "notes": "Notes (counsellors and supervisors only)", "restricted": "(restricted)",
    "save": "Save", "saved": "Saved", "by": "by", "error": "Error",
    "errors_below": "Please correct the following", "forbidden": "You may not do this",
    "conflict": "Conflicts with the file's current state", "not_found": "Not found",
    "invalid": "Invalid input", "csrf": "The page expired; reload and try again",
    "back": "Back", "import_title": "Import a registry (Excel)",
    "template": "Download the template", "file": "Excel file (.xlsx)",
    "upload": "Upload and import", "import_report": "Import report", "row": "Row",
    "cell": "Cell", "heading": "Column", "problem": "Problem", "registered": "registered",
    "skipped": "already there, skipped", "invalid_row": "invalid, not registered",
    "refused": "refused", "import_hint": "One child per row. Invalid rows are not registered; "
    "fix them and import the same file again: rows already registered are not registered twice.",
    "card_title": "Emergency contact card", "file_print_title": "Case file (一人一档)",
    "printed_at": "Printed", "assessments_title": "Assessments", "school_year": "School year",
    "points": "Points", "award": "Award (yuan)", "volunteer": "Volunteer",
    "class_teacher": "Class teacher", "published": "published", "not_published": "not published",
    "student_awards": "Student awards", "grants_title": "Grants audit", "anomalies": "Anomalies",
    "rule": "Rule", "detail": "Detail", "programme": "Programme", "period": "Period",
    "agency": "Agency", "count": "Count", "approved": "Approved (yuan)",
    "disbursed": "Disbursed (yuan)", "revoked": "Revoked (yuan)", "totals": "Totals",
    "none": "none", "contact": "Contact", "event": "Event", "content": "Details",
    "reported_at": "Reported",
    "mandatory_report": "Abuse must be reported to the police within %d hours (mandatory report).",
    "police_told": "Police told:", "police_not_told": "Police not told yet.",
    "escalations": "Escalations", "escalated_to": "Escalated to", "escalate": "Escalate",
    "resolution": "Resolution", "resolve": "Resolve and close", "outcome": "Outcome",
    "outcome_hint": "e.g. taken to hospital, stable", "open_incidents": "Open incidents",
    "incident_open_link": "Open incident", "break_glass": "Emergency access",
    "break_glass_offer": "Not found? The child may be outside your jurisdiction",
    "break_glass_hint": "A child outside your jurisdiction can be looked up in an emergency "
    "only. Give the reason: the access is recorded for the township supervisor's review.",
    "break_glass_reason": "Reason for emergency access",
    "break_glass_done": "Emergency access recorded for the township supervisor's review. "
    "Reason:", "child_seen": "Saw the child in person", "yes": "Yes", "no": "No",
    "not_stated": "Not stated", "seen": "child seen", "not_seen": "child not seen",
    "nav_compliance": "Compliance", "compliance_title": "Compliance dashboard",
    "month": "Month", "figure": "Figure", "percent": "Percent",
    "children_lacking": "Children lacking it", "children_concerned": "Children concerned",
    "computed_at": "Computed", "all_met": "all met", "guardian.name": "guardian's name",
    "guardian.phone": "guardian's phone", "guardian.address": "guardian's address",
    "parents.phone": "parents' phones", "paired_helper": "paired helper",
    "fig_registered": "Registered children", "fig_complete_files": "Complete files",
    "fig_paired": "Paired with a helper", "fig_visited": "Visited this month",
    "fig_parent_feedback": "Parents given feedback this month",
    "fig_open_incidents": "Open incidents", "fig_overdue_actions": "Overdue actions",
}

# API values shown to people. Chinese only: English readers see the code itself.
VALUES_ZH: dict[str, str] = {
    "male": "男", "female": "女", "both_parents_away": "父母均外出",
    "one_parent_away": "一方外出", "single_parent": "单亲", "other": "其他",
    "active": "在册", "no_longer_left_behind": "已不属留守", "transferred": "已转出",
    "aged_out": "已满龄", "closed": "已结案", "home": "家访", "school": "学校",
    "phone": "电话", "low": "低", "medium": "中", "high": "高", "critical": "危急",
    "wechat": "微信", "video": "视频", "letter": "书信", "in_person": "当面", "sms": "短信",
    "injury": "受伤", "severe_illness": "急病", "missing": "走失", "drowning": "溺水",
    "abuse": "侵害", "bullying": "欺凌", "psychological_crisis": "心理危机",
    "living_alone": "独自留守", "police_110": "报警 110", "ambulance_120": "急救 120",
    "guardian": "监护人", "parent": "父母", "class_teacher": "班主任",
    "paired_helper": "结对帮扶人", "child_director": "儿童主任", "grid_worker": "网格社工",
    "township_supervisor": "儿童督导员", "volunteer": "志愿者", "counsellor": "心理老师",
    "principal": "校长", "admin": "管理员", "auditor": "审计",
    "womens_federation": "妇联", "youth_league": "团委", "township": "乡镇政府",
    "community": "社区/村委",
    "Registered": "建档", "GuardianReplaced": "更换监护人", "ParentsReplaced": "更新父母信息",
    "EnrollmentChanged": "学籍变更", "HelperPaired": "结对帮扶", "HelperUnpaired": "结束结对",
    "VisitRecorded": "走访", "CounsellingRecorded": "谈心辅导", "ParentFeedbackGiven": "向父母反馈",
    "ExamResultRecorded": "考试成绩", "ConductViolationRecorded": "违纪",
    "HonourAwarded": "荣誉", "StatusChanged": "状态变更", "IncidentReported": "突发事件",
    "IncidentContactAttempted": "联系记录", "IncidentEscalated": "上报",
    "IncidentResolved": "事件处置完毕", "merit_student": "三好学生",
    "duplicate_period": "同期重复发放", "approver_is_disburser": "批准人与发放人相同",
    "disbursed_without_approval": "未经批准发放", "above_cap": "超过上限",
    "not_registered_at_payment": "发放时未建档", "closed_at_payment": "发放时已结案",
    "not_left_behind_at_payment": "发放时已不属留守",
    "rank_first": "第一名奖", "rank_top5": "优秀奖", "progress": "进步奖",
    "police": "公安机关（110）", "hospital": "医院", "civil_affairs": "民政部门",
    "open": "处理中", "resolved": "已处置",
}


# The dashboard's figures in Chinese are the spreadsheet's headings, word for word.
ZH.update({f"fig_{key}": label for key, label in DASHBOARD_LABELS.items()})


def words(lang: str) -> dict[str, str]:
    return ZH if lang != "en" else {**ZH, **EN}


def value_label(value: Any, lang: str) -> str:
    """An API value (a role, a kind, an event type) as a reader's word."""
    text = "" if value is None else str(value)
    if lang == "en":
        return text.replace("_", " ")
    return VALUES_ZH.get(text, text)


# The domain's reasons (domain/errors.InvalidFact) in Chinese; others are shown as given.
REASONS_ZH: dict[str, str] = {
    "is in the future": "不能是将来的时间",
    "is before the child's birth date": "早于儿童的出生日期",
    "is before the child's birth": "早于儿童的出生",
    "must carry a UTC offset": "须注明时区",
    "is before the pairing began": "早于结对开始日期",
    "give at least 2 characters": "请至少输入 2 个字",
    "must be one of": "不是可选的值",
    "is required for the role": "该角色必须填写",
    "this child is outside your jurisdiction": "该儿童不在您的管辖范围内",
    "a child with this ID number is already registered": "该身份证号已有档案",
    "must be YYYY-MM": "须为“年-月”，如 2026-06",
    "give the reason in at least": "请至少用 4 个字说明原因",
    "at most 200 characters": "最多 200 个字",
    "the incident is resolved": "事件已处置完毕，不能再操作",
}


def reason_label(reason: str, lang: str) -> str:
    """A domain reason in the reader's language (by its opening words)."""
    if lang == "en":
        return reason
    for start, chinese in REASONS_ZH.items():
        if reason.startswith(start):
            return chinese
    return reason
