"""A deterministic generator of realistic petition letters in Chinese, for benchmarks.

Letters are composed, not filled into a few templates: an opening, a background, the core
complaint of one of nine issue areas, two to six details drawn from a large pool, what the
petitioner already tried, a demand and a closing, each with many variants and slots filled
from long vocabularies (names, companies, places, amounts, dates, counts, English words and
numbers as they appear in real letters). About half the letters are written in Traditional
characters (converted with OpenCC), the rest in Simplified.

``letter(seed, i)`` depends only on its arguments, so any letter can be made on its own and
a corpus is the same on every machine::

    from benchmarks.corpus import corpus
    for doc in corpus(20_000, seed=7): ...
"""
from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache

SURNAMES = ("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 "
            "田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖 贾 "
            "夏 韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 "
            "闫 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤 欧阳 司马 上官").split()
GIVEN = ("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 萍 红 鹏 建 国 志 文 辉 斌 宇 浩 凯 健 "
         "俊 帆 帅 旭 宁 龙 林 欣 婷 雪 琳 晨 阳 梅 莉 兰 凤 洁 琴 云 莲 真 环 荣 爱 妹 霖 翠 瑞 凡 佳 嘉 琼 勤 珍 贞 "
         "莉 桂 娣 叶 璐 娅 琦 晶 妍 茜 秋 珊 莎 锦 黛 青 倩 婷 姣 婉 娴 瑾 颖 露 瑶 怡 婵 雁 蓓 纨 仪 荷 丹 蓉 眉 君 "
         "琴 蕊 薇 菁 梦 岚 苑 婕 馨 瑗 琰 韵 融 园 艺 咏 卿 聪 澜 纯 毓 悦 昭 冰 爽 琬 茗 羽 希 宁 欣 飘 育 滢 馥").split()
DISTRICTS = ("东城区 西城区 朝阳区 丰台区 石景山区 海淀区 门头沟区 房山区 通州区 顺义区 昌平区 大兴区").split()
REGION_CODES = ("110101 110102 110105 110106 110107 110108 110109 110111 110112 110113 110114 110115").split()
STREETS = ("中关村 学院路 回龙观 天通苑 望京 双井 劲松 潘家园 方庄 马家堡 卢沟桥 八角 鲁谷 苹果园 永定 良乡 长阳 "
           "梨园 永顺 宋庄 胜利 石园 仁和 城北 沙河 南口 黄村 亦庄 西红门 清河 上地 香山 温泉 苏家坨 青龙桥 "
           "安贞 和平里 东直门 建国门 朝阳门 月坛 金融街 展览路 德胜 新街口 什刹海 大栅栏 天桥 陶然亭 广安门").split()
COMMUNITY = ("小区 家园 花园 新村 公寓 苑 嘉园 华府 名苑 雅居 里 西里 东里 北里 南里").split()
COMPANY_PREFIX = ("华兴 鑫源 恒达 宏远 天成 瑞丰 金泰 盛世 博远 众诚 长城 东方 新城 汇丰 永安 中建 城建 远洋 "
                  "龙腾 鼎盛 安泰 德信 和润 中天 腾飞 嘉禾 万通 顺达 佳美 利民 康泰 京华 燕山 首创 北辰 金隅").split()
COMPANY_TRADE = ("建筑工程 劳务派遣 物业管理 餐饮管理 保洁服务 装饰装修 物流运输 电子科技 网络科技 商贸 "
                 "服装加工 食品加工 机械制造 房地产开发 汽车维修 家政服务 保安服务 教育咨询 医疗器械 快递").split()
COMPANY_SUFFIX = ("有限公司 有限责任公司 股份有限公司 集团有限公司 分公司 工程队 合作社").split()
JOBS = ("钢筋工 木工 瓦工 电焊工 保洁员 保安 厨师 服务员 快递员 外卖骑手 司机 仓库管理员 会计 出纳 销售 "
        "文员 前台 操作工 质检员 装卸工 护工 育婴师 网约车司机 水电工 油漆工 塔吊司机 架子工").split()
OFFICES = ("劳动保障监察大队 社会保险经办机构 人力资源和社会保障局 街道办事处 社区居委会 住房和城乡建设委员会 "
           "城市管理综合执法局 市场监督管理局 派出所 劳动人事争议仲裁院 生态环境局 区政府信访办 12345市民服务热线").split()
ENGLISH = ("APP 微信 WeChat iPhone 5G WiFi PPT Excel EMS GPS VIP PM2.5 KTV O2O P2P ETC OA系统 HR 4S店 QQ").split()

WAGE_CORE = (
    "{company}以{excuse}为由，拖欠我们{n}名{job}的工资共计{amount}元，已经{months}个月没有发放。",
    "自{date}起，{company}一直未按劳动合同约定支付工资，累计欠薪{amount}元。",
    "我在{company}做{job}，老板承诺年底结清工钱，但到现在还欠我{amount}元不给。",
    "项目完工后，包工头{person}卷款失联，{company}称已将工程款支付给包工头，拒绝向工人支付剩余工资{amount}元。",
    "{company}每月只发基本工资{small}元，加班费和绩效奖金从{date}起一直拖欠，合计约{amount}元。",
    "公司以试用期不合格为由辞退我，但既未支付{months}个月的工资，也没有给予任何经济补偿。",
    "{company}要求员工签订空白劳动合同，发工资时随意扣款，我被克扣工资{small}元。",
    "我们{n}名{job}在{place}工地干了{months}个月，工资条上写的金额和实际发放的金额相差{amount}元。",
    "我于{date}离职，按照约定公司应在离职当月结清工资，但{company}至今拖欠{amount}元并拒接电话。",
    "{company}拖欠农民工工资，工人多次到项目部讨薪，项目经理{person}态度恶劣，还威胁要报警。",
)
HOUSING_CORE = (
    "我家位于{place}的房屋在{date}被列入征收范围，征收方给出的补偿标准每平方米只有{small}元，远低于市场价。",
    "{company}开发的{place}项目逾期{months}个月仍未交房，开发商既不说明原因也不支付违约金。",
    "我们小区的公共维修资金{amount}元被物业挪用，业主至今看不到任何账目。",
    "楼上住户违章搭建，导致我家{room}长期漏水，多次找{office}协调未果。",
    "租住的公租房{date}到期，{office}不予续租，但我家符合保障条件，请求重新审核。",
    "拆迁安置房已经过渡{months}个月，过渡费从{date}起停发，一家{n}口只能借住亲戚家。",
    "{place}的宅基地被村委会收回另作他用，没有给我家任何补偿和安置。",
    "房屋产权证办理拖了{months}个月，{company}以资料不全为由一直不给办理。",
)
SOCIAL_CORE = (
    "{company}从{date}起未给我缴纳社会保险，导致我退休后无法按时领取养老金。",
    "我的医疗保险在{date}被停保，住院花费{amount}元无法报销，请求核实原因。",
    "单位少报缴费基数，我的养老保险每月少缴{small}元，持续了{months}个月。",
    "我父亲因工受伤，单位拒绝申报工伤，{office}迟迟不作出工伤认定决定。",
    "失业保险金申领了{months}个月还没有到账，窗口工作人员说系统有问题让我等通知。",
    "我在外地缴纳的社保{n}年转移到本市时只转入了个人账户，统筹部分没有转入。",
    "灵活就业人员的社保补贴申请被驳回，理由是材料过期，但我是按要求在{date}提交的。",
)
ENV_CORE = (
    "{place}附近的{company}每天夜里排放刺鼻废气，周边居民头晕恶心，PM2.5 读数经常超过{small}。",
    "小区旁边的工地晚上{hour}点以后还在施工，噪音严重影响居民休息，{n}位老人因此失眠住院。",
    "{place}的河道被倾倒建筑垃圾和生活垃圾，夏天臭气熏天，蚊虫滋生。",
    "餐馆的油烟直排进居民楼，我家{room}的窗户常年不敢打开。",
    "垃圾中转站设在居民楼下，每天清晨{hour}点开始作业，噪音和臭味严重扰民。",
    "{company}违规填埋工业废料，附近村民的井水出现异味，{n}户人家不敢饮用。",
)
ENFORCE_CORE = (
    "{date}我在{place}摆摊，城管执法人员没收了我的三轮车和货物，没有出具任何手续。",
    "交通协管员在{place}乱贴罚单，我的车明明停在划线车位内却被罚款{small}元。",
    "我向{office}举报{company}无证经营已经{months}个月，至今没有任何处理结果。",
    "派出所对我报案的诈骗案件{months}个月没有立案，涉案金额{amount}元。",
    "执法人员在检查时态度粗暴，推搡我年迈的母亲，还扣押了我的营业执照。",
)
CONDUCT_CORE = (
    "{office}窗口工作人员{person}办事推诿，我前后跑了{n}次都没有办成。",
    "经办人员{person}暗示我送礼才能加快审批，我拒绝后申请就被无限期搁置。",
    "{office}工作人员在{date}接待时态度恶劣，对群众大声呵斥，还拒绝告知姓名。",
    "我反映的问题被转给被反映人本人处理，{person}随后打电话威胁我不要再反映。",
    "热线工单显示已办结，但实际上没有任何人联系过我，问题也没有解决。",
)
POLICY_CORE = (
    "请问灵活就业人员在本市缴纳社保满{n}年后能否享受购房资格？",
    "想咨询{date}以后出台的稳岗补贴政策，{company}这样的小微企业是否符合申请条件。",
    "我是退役军人，想了解安置就业和社保接续的具体政策。",
    "外地户籍子女在本市就读，参加中考需要父母缴纳社保满几年？",
    "高校毕业生到基层就业有哪些补贴，申请材料要交到哪个部门？",
    "企业退休人员的养老金调整方案什么时候公布，今年上调比例是多少？",
)
URBAN_CORE = (
    "{place}的路灯已经坏了{months}个月，晚上一片漆黑，老人孩子出行很不安全。",
    "小区门口的共享单车乱停乱放，堵住了消防通道，物业和{office}互相推诿。",
    "{place}的人行道被商户占道经营，行人只能走机动车道。",
    "老旧小区加装电梯的申请递交了{months}个月，一直没有审批结果。",
    "{place}附近的雨水井盖缺失，已经有{n}人不慎掉落受伤。",
    "小区供暖温度长期达不到{small}度，热力公司只收费不服务。",
)
OTHER_CORE = (
    "我在{company}购买的iPhone 15手机用了{months}个月就无法开机，商家拒绝按三包规定退换。",
    "培训机构{company}突然关门，预交的学费{amount}元无法退还，涉及学员{n}人。",
    "通过某APP借款后被收取高额服务费，实际年利率超过36%，催收人员频繁骚扰我的家人。",
    "预付费健身卡余额{amount}元，健身房换了老板后不认账。",
    "快递公司丢失了我的包裹，价值{amount}元，客服只愿意赔偿{small}元。",
)
CORES = {
    "labour_wages": WAGE_CORE, "land_housing": HOUSING_CORE, "social_security": SOCIAL_CORE,
    "environment": ENV_CORE, "law_enforcement": ENFORCE_CORE, "staff_conduct": CONDUCT_CORE,
    "policy_consultation": POLICY_CORE, "urban_management": URBAN_CORE, "other": OTHER_CORE,
}
SUBJECTS = {
    "labour_wages": ("反映{company}拖欠工资问题", "请求帮助追讨欠薪", "关于{job}工资被克扣的投诉", "农民工讨薪求助"),
    "land_housing": ("关于房屋征收补偿的申诉", "开发商逾期交房问题", "物业挪用维修资金", "请求解决住房困难"),
    "social_security": ("社保断缴问题反映", "医保报销遇阻求助", "工伤认定久拖不决", "养老保险转移接续问题"),
    "environment": ("反映{company}污染环境", "工地夜间施工扰民", "河道垃圾污染问题", "油烟扰民投诉"),
    "law_enforcement": ("对城管执法行为的投诉", "举报无证经营无人处理", "报案久拖不立案"),
    "staff_conduct": ("反映窗口工作人员作风问题", "投诉{office}办事推诿", "举报工作人员索要好处"),
    "policy_consultation": ("政策咨询", "关于稳岗补贴政策的咨询", "社保与购房资格咨询"),
    "urban_management": ("路灯损坏长期无人维修", "占道经营问题", "老旧小区加装电梯审批", "供暖不达标投诉"),
    "other": ("消费维权求助", "培训机构跑路退费问题", "网络借贷高额收费投诉"),
}
OPENINGS = (
    "尊敬的领导：您好！我叫{name}，家住{place}。",
    "信访办的同志你们好，我是{place}的居民{name}，今天写信反映一个困扰我们很久的问题。",
    "我叫{name}，今年{age}岁，是一名{job}。",
    "各位领导：我是{name}，联系电话{phone}，现就以下问题向你们反映。",
    "本人{name}，身份证号已在登记表中填写，现居住在{place}。",
    "领导好！实在没有办法了才给你们写信。",
    "我是代表我们{n}名工友来反映情况的，我叫{name}。",
)
DETAILS = (
    "我们有考勤记录、工资条和微信聊天记录可以证明。",
    "{date}我们到{office}反映过，工作人员做了登记，说会在{n}个工作日内答复，但至今没有消息。",
    "我多次拨打12345市民服务热线，工单编号是{ticket}，每次都说已转交相关部门。",
    "家里上有{age}岁的老母亲需要看病，下有孩子要上学，全家就靠我这点收入生活。",
    "对方负责人{person}一直躲着不见，电话也打不通。",
    "为了这件事我已经请假跑了{n}趟，误工损失就有好几千元。",
    "周边很多居民都有同样的遭遇，大家已经联名签字，共有{n}户。",
    "我们也咨询过律师，律师说走诉讼程序时间太长，建议先找政府部门协调。",
    "有关部门工作人员说这事不归他们管，让我们去找{office}，{office}又让我们回来找原单位。",
    "附件是相关的合同复印件和{n}张现场照片，请领导查看。",
    "去年{month}月份也发生过类似的情况，当时协调后对方答应整改，但很快又恢复原样。",
    "我不会用电脑，这封信是请孩子帮忙打印的，如有表述不清请谅解。",
    "事情发生在{place}，时间是{date}上午{hour}点左右，当时有很多人在场可以作证。",
    "{company}的法人代表是{person}，公司地址在{place}，但现在已经人去楼空。",
    "我的银行卡流水显示最后一次收到工资是在{date}，金额只有{small}元。",
    "对方还在{english}上发布消息，说我们是无理取闹，给我们的名誉造成很大影响。",
    "我今年已经{age}岁了，身体也不好，实在经不起这样来回折腾。",
    "对方口头答应{date}之前解决，但到了时间又说要等上级批准。",
    "现在正值{season}，情况越来越严重，希望能尽快处理。",
    "我已经向{office}提交了书面材料，收件回执编号为{ticket}。",
    "孩子的学费{small}元马上就要交了，家里实在拿不出钱。",
    "我们不是无理取闹，只是想拿回属于我们的{thing}。",
    "这期间我还收到过匿名电话，对方警告我不要到处乱说。",
    "据了解，同样的问题在{place}也出现过，最后是在{office}的协调下解决的。",
)
DEMANDS = (
    "恳请领导高度重视，责成有关部门尽快调查处理，维护我们的合法权益。",
    "请求{office}依法责令{company}立即支付拖欠的款项。",
    "希望政府能够出面协调，给我们一个满意的答复。",
    "请求有关部门依法查处，并将处理结果书面告知我本人。",
    "希望领导能在百忙之中抽出时间，听一听我们老百姓的心声。",
    "请求尽快解决，如果再拖下去，我们只能继续向上级部门反映。",
    "恳请相关部门依照规定给予补偿，并对责任人作出处理。",
    "请给我们一个明确的答复期限，不要再让我们来回奔波。",
)
CLOSINGS = ("此致 敬礼！", "谢谢领导！", "盼复。", "万分感谢！", "以上情况属实，如有不实愿承担责任。", "")
EXCUSES = ("资金周转困难", "工程款未结算", "甲方未付款", "项目亏损", "疫情影响", "账户被冻结", "公司重组")
ROOMS = ("卫生间", "厨房", "卧室", "客厅", "阳台", "书房")
SEASONS = ("寒冬", "酷暑", "雨季", "年关", "开学季", "供暖季")
THINGS = ("血汗钱", "补偿款", "工资", "押金", "学费", "养老钱")
CHANNELS = ("letter", "letter", "letter", "email", "online", "online", "phone", "visit", "fax")


def _name(r: random.Random) -> str:
    return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))


def _company(r: random.Random) -> str:
    return (r.choice(("北京", "", "", r.choice(DISTRICTS).rstrip("区"))) + r.choice(COMPANY_PREFIX)
            + r.choice(COMPANY_TRADE) + r.choice(COMPANY_SUFFIX))


def _place(r: random.Random) -> str:
    return r.choice(DISTRICTS) + r.choice(STREETS) + r.choice(("", "街道", "镇", "路")) + \
        r.choice(STREETS)[:2] + r.choice(COMMUNITY) + r.choice(("", f"{r.randint(1, 30)}号楼", f"{r.randint(1, 12)}单元"))


def _date(r: random.Random) -> str:
    return f"{r.randint(2019, 2026)}年{r.randint(1, 12)}月" + (f"{r.randint(1, 28)}日" if r.random() < .5 else "")


def _fill(r: random.Random, template: str, who: str, phone: str) -> str:
    slots = {
        "name": who, "person": _name(r), "company": _company(r), "place": _place(r), "office": r.choice(OFFICES),
        "job": r.choice(JOBS), "excuse": r.choice(EXCUSES), "n": r.randint(2, 60), "months": r.randint(2, 18),
        "amount": r.choice((r.randint(3, 900) * 100, r.randint(1, 99) * 1000, r.randint(10000, 480000))),
        "small": r.randint(2, 95) * 10, "date": _date(r), "month": r.randint(1, 12), "hour": r.randint(1, 23),
        "age": r.randint(22, 86), "phone": phone, "ticket": f"{r.randint(2019, 2026)}{r.randint(10**7, 10**8 - 1)}",
        "english": r.choice(ENGLISH), "room": r.choice(ROOMS), "season": r.choice(SEASONS), "thing": r.choice(THINGS),
    }
    return template.format(**slots)


@lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def letter(seed: int, i: int) -> dict:
    """Letter number ``i`` of corpus ``seed``: subject, body, metadata and a petitioner."""
    r = random.Random(seed * 1_000_003 + i)
    category = r.choice(tuple(CORES))
    who = _name(r)
    phone = f"1{r.choice((3, 5, 7, 8, 9))}{r.randint(0, 9)}{r.randint(10**7, 10**8 - 1)}"
    parts = [_fill(r, r.choice(OPENINGS), who, phone)]
    if r.random() < .6:
        parts.append(_fill(r, "我从{date}开始在{company}做{job}。", who, phone))
    for core in r.sample(CORES[category], k=min(len(CORES[category]), r.choice((1, 1, 2, 2, 3)))):
        parts.append(_fill(r, core, who, phone))
    for detail in r.sample(DETAILS, k=r.randint(3, 9)):
        parts.append(_fill(r, detail, who, phone))
    parts.append(_fill(r, r.choice(DEMANDS), who, phone))
    if r.random() < .3:
        parts.append(_fill(r, "联系电话：{phone}。", who, phone))
    parts.append(r.choice(CLOSINGS))
    body = "".join(parts)
    subject = _fill(r, r.choice(SUBJECTS[category]), who, phone)
    traditional = r.random() < .5
    if traditional:
        body, subject = _s2t().convert(body), _s2t().convert(subject)
    day = dt.date(2024, 1, 1) + dt.timedelta(days=r.randrange(365 * 2 + 300))
    region = r.randrange(len(DISTRICTS))
    return {
        "i": i, "subject": subject, "body": body, "category": category, "channel": r.choice(CHANNELS),
        "region": REGION_CODES[region], "received_at": f"{day.isoformat()}T{r.randint(8, 17):02d}:{r.randint(0, 59):02d}",
        "traditional": traditional, "petitioner": {"name": who, "phone": phone},
    }


def corpus(n: int, seed: int = 7):
    """The first ``n`` letters of corpus ``seed``."""
    for i in range(n):
        yield letter(seed, i)


def queries(n: int, seed: int = 7, corpus_size: int = 20_000) -> list[tuple[str, str]]:
    """``n`` (kind, text) queries drawn from the corpus: substrings of 2 to 6 characters (a
    third of them in the other script than the letter they come from), names and numbers."""
    import re

    from search.analysis import normalise

    r = random.Random(seed + 99)
    out: list[tuple[str, str]] = []
    cjk = re.compile(r"[\u4e00-\u9fff]{2,}")
    while len(out) < n:
        doc = letter(seed, r.randrange(corpus_size))
        kind = r.random()
        if kind < .7:
            runs = [m.group() for m in cjk.finditer(doc["body"]) if len(m.group()) >= 2]
            run = r.choice(runs)
            size = r.randint(2, min(6, len(run)))
            start = r.randrange(len(run) - size + 1)
            text = run[start:start + size]
            if r.random() < .33:
                text = _s2t().convert(normalise(text)) if not doc["traditional"] else normalise(text)
            out.append((f"cjk{len(text)}", text))
        elif kind < .85:
            out.append(("name", doc["petitioner"]["name"]))
        else:
            numbers = re.findall(r"\d{3,}", doc["body"])
            if numbers:
                out.append(("number", r.choice(numbers)))
    return out


if __name__ == "__main__":  # print a few letters
    for d in corpus(3):
        print(d["subject"], "\n", d["body"], "\n")
