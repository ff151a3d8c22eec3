"""Reference data of the workload: violation kinds, departments, items, programs, weights.

Names and codes are those the upstream systems use (department abbreviations,
事项编码, 专项资金 programs); nothing here depends on the seed.
"""

from __future__ import annotations

VIOLATION_KINDS: dict[str, tuple[str, ...]] = {
    "approval": (
        "OVERDUE_N",
        "OVERDUE_Y",
        "OVERDUE_R",
        "SKIP",
        "LATEEXT",
        "NOREASON",
        "RESUPP",
        "DEEMED",
        "DEEMEDDENY",
        "UNCOMPRESSED",
    ),
    "leader_assignment": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "LATEEXT", "LATENOTICE"),
    "complaint": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "STEP", "SKIP", "LATEEXT"),
    "penalty": ("SKIP",),
    "fund_disbursement": ("STEP", "SKIP", "OVERPAY", "PAYEE", "DUPPAY"),
    "tender": (
        "STEP",
        "SKIP",
        "SHORTBID",
        "FEWBIDS",
        "LATEBID",
        "OVERCONTRACT",
        "SUPPLIER",
        "SPLIT",
    ),
    "inspection": (
        "OVERDUE_Y",
        "OVERDUE_R",
        "UNAUTH_NOPLAN",
        "UNAUTH_NOTAPPROVED",
        "UNAUTH_REVOKED",
        "UNAUTH_DEPT",
        "UNAUTH_ENT",
        "UNAUTH_WINDOW",
        "QUIET",
        "FREQ",
    ),
    "key_task": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "NOREPORT", "NORISK"),
    "proposal": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "NOREPORT"),
    "meeting_item": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "LATEEXT", "LATENOTICE"),
}
"""The deliberate violations, per process (the tags of the planted-case record).

======================  =====================================================
tag                     what the case does (rule it should raise)
======================  =====================================================
OVERDUE_N               terminal action on the last day (OVERDUE notice)
OVERDUE_Y               terminal 1-3 working days late (notice, yellow)
OVERDUE_R               terminal 4-8 working days late (notice, yellow, red);
                        an approval's decision, and a key task's risk
                        report, still come in time
STEP                    complaint assigned 2-4 working days after accept;
                        fund disbursed 11-15 working days after approve;
                        tender contract 31-45 days after award (STEP_OVERDUE)
SKIP                    a required step missing (SKIPPED_STEP); in penalty
                        cases mostly a fine >= 2000 or a heavy measure
                        without legal_review and/or leader_approve
LATEEXT                 extend after the deadline (LATE_EXTENSION, and the
                        OVERDUE notice and yellow it implies)
NOREASON                approval reject without reason (REFUSAL_WITHOUT_REASON)
RESUPP                  two supplement requests (REPEATED_SUPPLEMENT)
DEEMED                  approval of an item with 超时默许 (catalogue
                        deemed_approval = true), undecided at its deadline,
                        approved 1-2 working days later and completed by
                        the third (OVERDUE notice, yellow; DEEMED_APPROVAL
                        where 超时默许 applies)
DEEMEDDENY              as DEEMED, but denied: decide deny, or reject
                        (also DENIED_AFTER_DEEMED where 超时默许 applies)
UNCOMPRESSED            approval promising more than its item allows
                        (LIMIT_NOT_COMPRESSED with the item catalogue loaded),
                        otherwise compliant
LATENOTICE              extend before the deadline but inside the notice
                        period (LATE_EXTENSION): a joint leader assignment on
                        its last day (so also OVERDUE notice), a meeting item
                        1-2 working days before its last day (nothing else)
NOREPORT                key task or proposal with one month's progress
                        report missing (REPORT_MISSING for that month)
NORISK                  key task finished 1-3 working days after its due
                        date with no risk report, or one less than 10 days
                        ahead (RISK_NOT_REPORTED, OVERDUE notice, yellow)
OVERPAY                 disbursed total above approved (OVER_DISBURSEMENT)
PAYEE                   disbursement to another payee (PAYEE_MISMATCH)
DUPPAY                  two cases, same program, payee and amount, within
                        30 days; the later one raises DUPLICATE_DISBURSEMENT
SHORTBID                open/invited tender with 10-19 days to bid
                        (SHORT_TENDER_PERIOD)
FEWBIDS                 open/invited tender opened with 1-2 timely bidders
                        (TOO_FEW_BIDS)
LATEBID                 award to a late (or absent) bidder (LATE_BID_AWARDED)
OVERCONTRACT            contract 12-50 % above award (CONTRACT_EXCEEDS_AWARD)
SUPPLIER                contract with another supplier
                        (CONTRACT_SUPPLIER_MISMATCH)
SPLIT                   3-5 direct/single-source tenders of one dept to one
                        winner, each < 2,000,000, total >= 2,000,000; the
                        crossing (last) one raises SPLIT_PURCHASE
UNAUTH_*                UNAUTHORIZED_INSPECTION with details.reason
                        NOPLAN=no_plan_reference, NOTAPPROVED=plan_not_approved,
                        REVOKED=plan_revoked, DEPT=dept_mismatch,
                        ENT=enterprise_not_in_plan, WINDOW=outside_window
QUIET                   authorized inspection on days 1-5 of a month
                        (QUIET_DAY_INSPECTION)
FREQ                    three authorized inspections of one enterprise within
                        30 days; the third raises FREQUENT_INSPECTION
======================  =====================================================
"""

DISTRICTS = tuple(f"D{i:02d}" for i in range(1, 21))
"""District / county service centres and bureaus D01..D20."""

BUREAUS = (
    "SCJ",  # 市场监管局
    "ZJJ",  # 住建局
    "CZJ",  # 财政局
    "JTJ",  # 交通运输局
    "YJJ",  # 应急管理局
    "HBJ",  # 生态环境局
    "WJW",  # 卫健委
    "JYJ",  # 教育局
    "RSJ",  # 人社局
    "NYJ",  # 农业农村局
    "KJJ",  # 科技局
    "MZJ",  # 民政局
    "SLJ",  # 水利局
    "CGJ",  # 城管局
    "WLJ",  # 文广旅体局
    "ZRJ",  # 自然资源和规划局
    "JXJ",  # 经信局
    "GAJ",  # 公安局
    "ZHZF",  # 综合行政执法局
    "SWJ",  # 商务局
)
PLAN_APPROVER = "SFJ"  # 司法局 (行政执法监督): approves 涉企检查 plans
HOTLINE = "RXZX"  # 12345 政务服务便民热线中心

# Where each catalogue item (``item_catalogue.toml``) is handled, and how often:
# item_code -> (dept, or None for a district service centre; weight)
ITEM_PLACES: dict[str, tuple[str | None, int]] = {
    "330000-XK-0001": ("ZRJ", 2),  # 建设工程规划许可证核发
    "330000-XK-0002": (None, 14),  # 个体工商户设立登记
    "330000-XK-0003": (None, 8),  # 企业名称变更登记
    "330000-XK-0004": (None, 12),  # 食品经营许可证核发
    "330000-XK-0005": (None, 6),  # 公共场所卫生许可证核发
    "330000-XK-0006": (None, 6),  # 就业创业证申领
    "330000-XK-0007": ("ZJJ", 4),  # 建筑工程施工许可证核发
    "330000-XK-0008": ("JTJ", 3),  # 道路货物运输经营许可
    "330000-XK-0009": ("SCJ", 3),  # 药品零售企业许可
    "330000-XK-0010": ("HBJ", 2),  # 建设项目环境影响报告书审批
    "330000-XK-0011": ("WJW", 2),  # 医疗机构执业登记
    "330000-XK-0012": ("SLJ", 1),  # 取水许可
    "330000-XK-0013": ("JYJ", 1),  # 民办高等学校正式设立审批
    "330000-XK-0014": ("SCJ", 3),  # 特种设备使用登记
    "330000-XK-0015": ("CGJ", 3),  # 户外广告设施设置审批
    "330000-XK-0016": ("CGJ", 3),  # 城市道路占用挖掘许可
    "330000-XK-0017": ("YJJ", 2),  # 危险化学品经营许可证核发
    "330000-XK-0018": ("WLJ", 1),  # 娱乐场所经营许可
    "330000-XK-0019": ("GAJ", 1),  # 大型群众性活动安全许可
    "330000-XK-0020": ("RSJ", 2),  # 人力资源服务许可
}
ONE_DAY_ITEM = "330000-XK-0002"  # 个体工商户设立登记: the one-day fallback approval

SUPPLEMENT_ITEMS = (
    "营业执照副本",
    "法定代表人身份证明",
    "场地使用证明",
    "消防验收意见书",
    "环评批复文件",
    "从业人员健康证明",
    "经营场所平面布局图",
    "主要设备设施清单",
    "授权委托书",
    "安全管理制度",
    "施工图审查合格书",
    "资金到位证明",
)
SUSPEND_REASONS = (
    "hearing",
    "inspection",
    "testing",
    "appraisal",
    "expert_review",
    "tendering",
    "auction",
    "quarantine",
)
REJECT_REASONS = (
    "申请事项不属于本机关职权范围",
    "申请材料不符合法定形式且逾期未补正",
    "申请人不符合法定条件",
    "拟建项目不符合规划条件",
    "申请人隐瞒有关情况或者提供虚假材料",
)
INSPECTION_RESULTS = ("未发现问题", "合格", "责令限期整改", "移送立案查处", "已整改复查合格")

# (program, owning dept, min yuan, max yuan, share of round amounts)
FUND_PROGRAMS: tuple[tuple[str, str, int, int], ...] = (
    ("惠农补贴", "NYJ", 5_000, 300_000),
    ("农机购置补贴", "NYJ", 3_000, 150_000),
    ("稳岗补贴", "RSJ", 10_000, 500_000),
    ("高校毕业生就业补贴", "RSJ", 1_000, 30_000),
    ("创业担保贷款贴息", "RSJ", 2_000, 60_000),
    ("科技创新券", "KJJ", 20_000, 500_000),
    ("中小企业发展专项资金", "JXJ", 100_000, 3_000_000),
    ("老旧小区改造补助", "ZJJ", 200_000, 5_000_000),
    ("养老服务补贴", "MZJ", 5_000, 200_000),
    ("污染防治专项资金", "HBJ", 100_000, 2_000_000),
)

TENDER_BUYERS = (*DISTRICTS, "JTJ", "ZJJ", "JYJ", "WJW", "SLJ", "CGJ", "GAJ", "HBJ", "WLJ")
INSPECTING_DEPTS = ("SCJ", "ZJJ", "JTJ", "WJW", "ZHZF", "WLJ", "NYJ", "SWJ", "CGJ")
EXEMPT_INSPECTORS = (("YJJ", "safety"), ("HBJ", "environment"), ("SCJ", "unified"))
PENALTY_DEPTS = ("SCJ", "ZHZF", "HBJ", "YJJ", "ZJJ", "WJW", "JTJ", "WLJ", "NYJ")
COMPLAINT_ASSIGNEES = (*DISTRICTS, "ZJJ", "CGJ", "SCJ", "HBJ", "JTJ", "RSJ", "WJW", "JYJ")

# Share of slots per process on a working day.
PROCESS_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("approval", 0.345),
    ("complaint", 0.20),
    ("inspection", 0.14),
    ("fund_disbursement", 0.08),
    ("tender", 0.07),
    ("penalty", 0.07),
    ("leader_assignment", 0.06),
    # far rarer than approvals: a city's year holds hundreds, not hundreds of thousands
    ("key_task", 0.01),
    ("proposal", 0.0125),
    ("meeting_item", 0.0125),
)
REST_DAY_WEIGHT = 0.12  # hotline complaints on weekends and holidays, relative to a working day


AREA_CODE_BY_DEPT: dict[str, str] = {d: f"3301{i:02d}" for i, d in enumerate(DISTRICTS, 2)}
"""Administrative division code of each district centre (a bureau's cases carry the city's)."""
CITY_AREA_CODE = "330100"

# ---------------------------------------------------------------- issue #19: 督查督办, 建议提案

# 重点工作 (key tasks) by source: 市委工作要点 (party_committee), 政府工作报告 (government)
KEY_TASKS: tuple[tuple[str, str], ...] = (
    ("government", "新增城镇就业3万人"),
    ("government", "完成城镇老旧小区改造60个"),
    ("government", "新改建农村公路120公里"),
    ("government", "新增3岁以下婴幼儿托位2000个"),
    ("government", "新建5G基站1500个"),
    ("government", "新增公共停车泊位5000个"),
    ("government", "新开工保障性租赁住房3000套"),
    ("government", "完成城市危旧房治理改造"),
    ("government", "建成污水零直排区10个"),
    ("government", "新建改建城市公园绿地20处"),
    ("party_committee", "深化政务服务增值化改革"),
    ("party_committee", "推进数字政府重大应用落地"),
    ("party_committee", "开展优化营商环境攻坚行动"),
    ("party_committee", "深化基层治理体系统筹改革"),
    ("party_committee", "推进山区海岛县高质量发展结对帮扶"),
    ("party_committee", "实施科技创新平台提能造峰行动"),
)
KEY_TASK_DEPTS = ("ZJJ", "JTJ", "RSJ", "JXJ", "KJJ", "HBJ", "WJW", "JYJ", "SWJ", "ZRJ", *DISTRICTS)
PROGRESS_SUMMARIES = (
    "已完成年度目标的{pct}%",
    "按序时进度推进，累计完成{pct}%",
    "完成阶段性任务，形象进度{pct}%",
    "协调解决问题{n}个，完成{pct}%",
)
RISK_MEASURES = (
    "倒排工期、增派力量，申请调整完成时限",
    "用地指标未落实，已提请市政府协调",
    "资金未到位，申请延期并同步推进前期工作",
    "受汛期影响停工，申请顺延",
)

# 人大代表建议 / 政协委员提案 (proposals): id prefix per kind, and the departments handling them
PROPOSAL_PREFIX = {"npc_suggestion": "RDJY", "cppcc_proposal": "ZXTA"}
PROPOSAL_DEPTS = ("ZJJ", "JTJ", "RSJ", "JYJ", "WJW", "HBJ", "CGJ", "SCJ", "NYJ", "MZJ", "ZRJ")

# 会议议定事项 (meeting items): (id prefix, meeting name, days between two meetings of the kind)
MEETINGS: tuple[tuple[str, str, int], ...] = (
    ("CWHY", "市政府第{n}次常务会议", 14),
    ("BGHY", "市长办公会议纪要〔{year}〕{n}号", 7),
    ("ZTHY", "专题会议纪要〔{year}〕{n}号", 3),
)
MEETING_DEPTS = (*BUREAUS, *DISTRICTS)
