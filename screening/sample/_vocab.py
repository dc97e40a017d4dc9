"""Vocabularies the generator draws from: regions, parks, industries, IPC codes, names, banks.

Everything here is public, generic knowledge (GB/T 2260 codes of Henan, GB/T 4754-2017
industry codes, IPC subclasses); no real firm is named. Every string is GBK-encodable on
purpose, because messy runs write some tables in GBK.
"""

from __future__ import annotations

from data_contracts.contracts import PROGRAMME_CODES

# GB/T 2260: the 17 prefecture-level cities of Henan plus 济源 (a directly administered
# county-level city). Weights lean toward 郑州/洛阳/新乡 where most tech SMEs are.
REGIONS: tuple[tuple[str, str, float], ...] = (
    ("410100", "郑州", 0.30),
    ("410200", "开封", 0.035),
    ("410300", "洛阳", 0.12),
    ("410400", "平顶山", 0.035),
    ("410500", "安阳", 0.035),
    ("410600", "鹤壁", 0.02),
    ("410700", "新乡", 0.09),
    ("410800", "焦作", 0.04),
    ("410900", "濮阳", 0.025),
    ("411000", "许昌", 0.05),
    ("411100", "漯河", 0.025),
    ("411200", "三门峡", 0.02),
    ("411300", "南阳", 0.05),
    ("411400", "商丘", 0.03),
    ("411500", "信阳", 0.03),
    ("411600", "周口", 0.03),
    ("411700", "驻马店", 0.03),
    ("419001", "济源", 0.02),
)

# Parks per city; cities not listed get their 高新区/经开区 by the generic pattern.
PARKS: dict[str, tuple[str, ...]] = {
    "郑州": (
        "郑州高新技术产业开发区",
        "郑州经济技术开发区",
        "郑州航空港经济综合实验区",
        "郑东新区",
    ),
    "洛阳": ("洛阳国家高新区", "洛阳经济技术开发区", "洛阳伊滨经济开发区"),
    "新乡": ("新乡高新技术产业开发区", "新乡经济技术开发区"),
    "南阳": ("南阳高新技术产业开发区",),
    "安阳": ("安阳高新技术产业开发区",),
    "平顶山": ("平顶山高新技术产业开发区",),
    "焦作": ("焦作高新技术产业开发区",),
    "许昌": ("许昌经济技术开发区", "许昌高新技术产业开发区"),
    "济源": ("济源虎岭高新技术产业开发区",),
}


def parks_of(city: str) -> tuple[str, ...]:
    """Parks of a city (two generic ones where no specific list is kept)."""
    return PARKS.get(city, (f"{city}高新技术产业开发区", f"{city}经济技术开发区"))


# Technology clusters: each industry belongs to one; a cluster fixes the IPC codes, title
# words and the word used in company names.
CLUSTERS: tuple[str, ...] = (
    "energy",
    "electronics",
    "software",
    "machinery",
    "materials",
    "pharma",
    "medical",
    "agrifood",
)

# GB/T 4754-2017 codes (mostly manufacturing, plus software and R&D), weight, cluster.
INDUSTRIES: tuple[tuple[str, float, str], ...] = (
    ("C2662", 0.04, "materials"),
    ("C2669", 0.03, "materials"),
    ("C2710", 0.03, "pharma"),
    ("C2761", 0.03, "pharma"),
    ("C3099", 0.03, "materials"),
    ("C3130", 0.02, "materials"),
    ("C3421", 0.04, "machinery"),
    ("C3441", 0.03, "machinery"),
    ("C3463", 0.03, "machinery"),
    ("C3511", 0.05, "machinery"),
    ("C3562", 0.02, "electronics"),
    ("C3581", 0.04, "medical"),
    ("C3670", 0.05, "machinery"),
    ("C3811", 0.03, "energy"),
    ("C3821", 0.04, "energy"),
    ("C3841", 0.04, "energy"),
    ("C3849", 0.02, "energy"),
    ("C3912", 0.02, "electronics"),
    ("C3919", 0.03, "electronics"),
    ("C3976", 0.03, "electronics"),
    ("C3982", 0.04, "electronics"),
    ("C4011", 0.04, "machinery"),
    ("I6511", 0.03, "software"),
    ("I6513", 0.07, "software"),
    ("I6520", 0.02, "electronics"),
    ("I6531", 0.04, "software"),
    ("M7320", 0.05, "materials"),
    ("M7340", 0.02, "medical"),
    ("A0141", 0.01, "agrifood"),
    ("C1495", 0.02, "agrifood"),
)

# IPC main groups per cluster (most frequent first). 战略性新兴产业 ranges such as H01M,
# G06N, C12N, B33Y, H04W, H01L, G16H appear where they belong.
IPC: dict[str, tuple[str, ...]] = {
    "energy": (
        "H01M 10/0525",
        "H01M 4/62",
        "H02J 7/00",
        "H01M 50/20",
        "H01F 27/28",
        "H02K 1/27",
        "H02J 3/38",
        "H01M 10/42",
    ),
    "electronics": (
        "H05K 1/02",
        "H01L 21/67",
        "H01L 33/48",
        "G01R 31/00",
        "H04W 4/80",
        "H03K 17/687",
        "G02B 6/42",
        "H01L 25/16",
    ),
    "software": (
        "G06F 16/245",
        "G06F 9/50",
        "G06N 3/08",
        "G06Q 10/06",
        "G06T 7/00",
        "H04L 67/12",
        "G06V 10/82",
        "G06N 20/00",
    ),
    "machinery": (
        "B23Q 3/06",
        "B23K 37/04",
        "B21D 37/10",
        "F16H 57/02",
        "B65G 47/90",
        "E21D 9/10",
        "B25J 9/16",
        "B33Y 10/00",
    ),
    "materials": (
        "C08L 23/06",
        "C08K 3/22",
        "C04B 35/66",
        "C09D 163/00",
        "B01J 23/755",
        "C01B 32/182",
        "C22C 38/02",
        "B22F 3/105",
    ),
    "pharma": (
        "A61K 36/185",
        "A61K 9/20",
        "C12N 15/113",
        "C12N 1/20",
        "C07D 401/14",
        "A61P 35/00",
        "C12Q 1/6869",
        "A61K 31/506",
    ),
    "medical": (
        "A61B 5/00",
        "A61B 17/88",
        "A61M 5/142",
        "A61N 1/36",
        "G16H 50/20",
        "A61B 6/03",
        "A61F 2/44",
        "G01N 33/53",
    ),
    "agrifood": (
        "A01G 9/02",
        "A23L 33/105",
        "A01N 43/40",
        "A01K 67/02",
        "A23K 50/10",
        "C12N 1/16",
        "A01C 7/20",
        "B65B 25/04",
    ),
}

# Objects named in patent titles, per cluster.
TITLE_OBJECTS: dict[str, tuple[str, ...]] = {
    "energy": (
        "锂离子电池正极材料",
        "电池管理系统",
        "储能变流器",
        "电池模组",
        "充电装置",
        "电机转子",
    ),
    "electronics": ("印制电路板", "半导体封装结构", "光模块", "检测电路", "传感器", "驱动芯片"),
    "software": ("数据处理", "图像识别", "任务调度", "设备监控", "智能推荐", "日志分析"),
    "machinery": ("数控机床夹具", "焊接机器人", "输送装置", "减速器", "掘进机", "液压支架"),
    "materials": ("耐火材料", "复合涂料", "催化剂", "石墨烯薄膜", "高强钢", "改性塑料"),
    "pharma": ("中药组合物", "缓释片", "核酸药物", "发酵菌株", "抗肿瘤化合物", "检测试剂盒"),
    "medical": ("监护仪", "骨科植入物", "输液泵", "康复训练装置", "影像设备", "诊断试剂"),
    "agrifood": ("温室大棚", "功能食品", "生物农药", "饲料添加剂", "播种机", "包装设备"),
}
INVENTION_SUFFIXES = ("及其制备方法", "的控制方法", "及系统", "装置及方法", "的检测方法")
UTILITY_SUFFIXES = ("装置", "结构", "设备", "机构")

# Words in company names, per cluster.
NAME_WORDS: dict[str, tuple[str, ...]] = {
    "energy": ("新能源科技", "电源科技", "储能技术", "电气"),
    "electronics": ("电子科技", "光电科技", "半导体科技", "微电子"),
    "software": ("信息技术", "软件科技", "智能科技", "数据科技"),
    "machinery": ("机械制造", "智能装备", "重工机械", "精密机械"),
    "materials": ("新材料科技", "化工科技", "材料科技", "耐材"),
    "pharma": ("生物科技", "医药科技", "药业", "生物工程"),
    "medical": ("医疗器械", "医疗科技", "健康科技", "医学科技"),
    "agrifood": ("农业科技", "食品科技", "生物农业", "种业"),
}

# Characters for 字号 (trade names): two are drawn per firm.
TRADE_CHARS = (
    "华锐盛达恒通泰信鑫源宏远新创科智德联昌嘉瑞祥安康丰和润中天正宇博金海豫汇隆凯诚益力航"
    "星辰元晟卓奥森林永兴合众鼎峰易腾耀方圆亿弘铭亚威世纪光明润泽百川"
)

COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")
COMPANY_FORM_WEIGHTS = (0.65, 0.25, 0.10)

# Co-applicants and counterparties outside the registry.
UNIVERSITIES = (
    "郑州大学",
    "河南大学",
    "河南理工大学",
    "郑州轻工业大学",
    "河南科技大学",
    "河南工业大学",
    "华北水利水电大学",
    "河南师范大学",
    "中原工学院",
    "河南农业大学",
)
OUTSIDE_CITIES = ("深圳", "北京", "上海", "杭州", "武汉", "西安", "苏州", "合肥")

# Banks keeping the ledger (weights), and pledgees outside the ledger.
BANKS: tuple[tuple[str, float], ...] = (
    ("中原银行", 0.22),
    ("郑州银行", 0.16),
    ("中国银行河南省分行", 0.14),
    ("交通银行河南省分行", 0.10),
    ("中国建设银行河南省分行", 0.12),
    ("中国工商银行河南省分行", 0.10),
    ("兴业银行郑州分行", 0.06),
    ("中国邮政储蓄银行河南省分行", 0.10),
)
OTHER_PLEDGEES = ("河南省中原科技融资担保有限公司", "郑州农村商业银行", "洛阳农商银行")

PROGRAMMES: tuple[str, ...] = PROGRAMME_CODES

CREDIT_SOURCES = {
    "dishonest_debtor": "中国执行信息公开网",
    "consumption_restriction": "中国执行信息公开网",
    "serious_violation": "信用中国（河南）",
    "abnormal_operation": "国家企业信用信息公示系统",
    "major_tax_violation": "国家税务总局河南省税务局",
    "admin_penalty": "信用中国（河南）",
    "tax_rating": "国家税务总局河南省税务局",
}
