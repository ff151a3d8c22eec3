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
    ),
    "leader_assignment": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "LATEEXT"),
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
}
"""The deliberate violations, per process (the tags of the planted-case record).

======================  =====================================================
tag                     what the case does (rule it should raise)
======================  =====================================================
OVERDUE_N               terminal action on the last day (OVERDUE notice)
OVERDUE_Y               terminal 1-3 working days late (notice, yellow)
OVERDUE_R               terminal 4-8 working days late (notice, yellow, red)
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

# (item_code, item_name, dept or None for a district centre, statutory limit, weight)
APPROVAL_ITEMS: tuple[tuple[str, str, str | None, int, int], ...] = (
    ("330100-001", "个体工商户设立登记", None, 1, 14),
    ("330100-002", "企业名称变更登记", None, 1, 8),
    ("330100-003", "食品经营许可证核发", None, 10, 12),
    ("330100-004", "公共场所卫生许可证核发", None, 10, 6),
    ("330100-005", "就业创业证申领", None, 3, 6),
    ("330100-006", "城乡居民养老保险参保登记", None, 1, 5),
    ("330100-007", "建筑工程施工许可证核发", "ZJJ", 7, 4),
    ("330100-008", "城镇污水排入排水管网许可", "ZJJ", 7, 2),
    ("330100-009", "建设工程消防设计审查", "ZJJ", 15, 2),
    ("330100-010", "道路货物运输经营许可", "JTJ", 10, 3),
    ("330100-011", "出租汽车驾驶员从业资格证核发", "JTJ", 5, 2),
    ("330100-012", "排污许可证核发", "HBJ", 20, 2),
    ("330100-013", "建设项目环境影响评价文件审批", "HBJ", 15, 2),
    ("330100-014", "药品零售企业许可", "SCJ", 15, 3),
    ("330100-015", "特种设备使用登记", "SCJ", 5, 3),
    ("330100-016", "医疗机构执业登记", "WJW", 20, 2),
    ("330100-017", "建设工程规划许可证核发", "ZRJ", 15, 2),
    ("330100-018", "民办学校办学许可", "JYJ", 20, 1),
    ("330100-019", "户外广告设施设置审批", "CGJ", 5, 3),
    ("330100-020", "城市道路占用挖掘许可", "CGJ", 5, 3),
    ("330100-021", "危险化学品经营许可证核发", "YJJ", 15, 2),
    ("330100-022", "人力资源服务许可", "RSJ", 10, 2),
    ("330100-023", "劳务派遣经营许可", "RSJ", 10, 1),
    ("330100-024", "旅行社业务经营许可", "WLJ", 10, 1),
    ("330100-025", "娱乐场所经营许可", "WLJ", 10, 1),
    ("330100-026", "出版物零售业务经营许可", "WLJ", 10, 1),
    ("330100-027", "取水许可", "SLJ", 20, 1),
    ("330100-028", "农药经营许可", "NYJ", 10, 1),
    ("330100-029", "养老机构备案", "MZJ", 5, 1),
    ("330100-030", "大型群众性活动安全许可", "GAJ", 7, 1),
)

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
    ("approval", 0.38),
    ("complaint", 0.20),
    ("inspection", 0.14),
    ("fund_disbursement", 0.08),
    ("tender", 0.07),
    ("penalty", 0.07),
    ("leader_assignment", 0.06),
)
REST_DAY_WEIGHT = 0.12  # hotline complaints on weekends and holidays, relative to a working day


AREA_CODE_BY_DEPT: dict[str, str] = {d: f"3301{i:02d}" for i, d in enumerate(DISTRICTS, 2)}
"""Administrative division code of each district centre (a bureau's cases carry the city's)."""
CITY_AREA_CODE = "330100"
