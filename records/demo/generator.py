"""Demonstration data: one account per role and realistic sample letters and visits.

Everything goes through the ordinary services (``accounts.create_user``,
``operations.register``), so demo records are sealed, indexed and audited like any other.
Passwords are random and returned once; nothing here prints.

The sample content is fictional: made-up companies, made-up people with well-formed (but
invented) resident ID numbers and phone numbers.
"""
from __future__ import annotations

import datetime as dt
import random
import secrets
import struct
import zlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.accounts import operations as accounts
from records.cases import operations
from records.reference.vocab import CHANNELS
from records.reference import categories as vocabulary
from records.settings import INTAKE_OFFICE_CODE
from records.errors import ValidationError
from records.identity import id_check_char
from records.instance import instance_of
from records.accounts.models import User
from records.reference.seed import DISTRICTS, MUNICIPALITY, OFFICES, ensure_offices, ensure_reference_data


# -- accounts -------------------------------------------------------------------
@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    office: str | None = None
    oversees: tuple[str, ...] = ()
    #: What the account is for in a demonstration.
    purpose: str = ""


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("clerk", "登記員 張敏", ("clerk",), office=INTAKE_OFFICE_CODE,
             purpose="registers letters and visits; reads what they registered"),
    DemoUser("handler", "承辦人 李強", ("handler",), office="LDJC",
             purpose="handles records held by the labour inspection office"),
    DemoUser("handler2", "承辦人 陳靜", ("handler",), office="SHBX",
             purpose="a handler of another office: refused records held by LDJC"),
    DemoUser("leader", "劉副局長", ("leader",), oversees=("LDJC", "SHBX"),
             purpose="deputy director overseeing LDJC and SHBX (and the intake)"),
    DemoUser("chief", "王局長", ("chief",),
             purpose="director: sees every record"),
    DemoUser("archivist", "檔案員 周慧", ("archivist",), office=INTAKE_OFFICE_CODE,
             purpose="keeps the ledger; no letter content"),
    DemoUser("inspector", "督查員 吳剛", ("inspector",), office="JJJC",
             purpose="reads the audit trail and the ledger"),
    DemoUser("admin", "系統管理員 鄭偉", ("admin",),
             purpose="manages accounts only"),
)


def _new_password() -> str:
    while True:
        password = secrets.token_urlsafe(12)
        try:
            accounts.check_password_policy(password)
        except ValidationError:
            continue
        return password


def create_demo_users(session: Session) -> dict[str, str]:
    """Create the demo accounts that do not exist yet, each with a fresh random password;
    return ``{username: password}`` of the accounts created (shown once, stored hashed)."""
    ensure_reference_data(session)
    # the demo's handlers work in two offices of the labour preset: added when the preset lacks them
    needed = {spec.office for spec in DEMO_USERS if spec.office} | {o for spec in DEMO_USERS for o in spec.oversees}
    ensure_offices(session, tuple(o for o in OFFICES if o.code in needed))
    existing = set(session.execute(select(User.username)).scalars())
    created: dict[str, str] = {}
    for spec in DEMO_USERS:
        if spec.username in existing:
            continue
        password = _new_password()
        accounts.create_user(session, spec.username, password, list(spec.roles), office=spec.office,
                             display_name=spec.display_name, oversees=list(spec.oversees))
        created[spec.username] = password
    return created


# -- a tiny scanned page ----------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tiny_png(rng: random.Random | None = None, width: int = 48, height: int = 64) -> bytes:
    """A small valid greyscale PNG that looks like a scanned page (grey lines of 'text')."""
    rng = rng or random.Random(0)
    rows = []
    for y in range(height):
        row = bytearray([255] * width)
        line = y // 4
        if 3 <= y < height - 4 and y % 4 in (1, 2):
            indent = 8 if line % 6 == 1 else 4
            end = width - 4 - (rng.randrange(0, width // 2) if line % 6 == 0 else rng.randrange(0, 6))
            for x in range(indent, max(indent, end)):
                row[x] = rng.choice((40, 70, 100, 160, 220))
        rows.append(b"\x00" + bytes(row))  # filter type 0 (None) on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _png_chunk(b"IEND", b""))


# -- people -----------------------------------------------------------------------
_SURNAMES = (
    "王李張劉陳楊趙黃周吳徐孫胡朱高林何郭馬羅梁宋鄭謝韓唐馮于董蕭程曹袁鄧許傅沈曾彭呂"
    "蘇盧蔣蔡賈丁魏薛葉閻余潘杜戴夏鍾汪田任姜范方石姚譚廖鄒熊金陸郝孔白崔康毛邱秦江史"
    "顧侯邵孟龍萬段雷錢湯尹黎易常武喬賀賴龔文"
)
_GIVEN_MALE_OLD = ("建國", "建華", "國慶", "永剛", "德勝", "立新", "衛東", "春生", "長江", "福海",
                   "振華", "志強", "志明", "樹林", "鳳山", "玉山", "廣才", "金寶")
_GIVEN_MALE = ("偉", "強", "磊", "軍", "勇", "傑", "濤", "明", "超", "剛", "輝", "鵬", "飛", "鑫",
               "波", "斌", "宇", "浩", "凱", "健", "俊", "帆", "旭", "寧", "海濤", "曉東", "文博",
               "子豪", "浩然", "宇航", "志遠", "家豪", "俊傑", "明輝")
_GIVEN_FEMALE_OLD = ("秀英", "桂英", "玉蘭", "淑珍", "麗華", "鳳英", "玉梅", "秀蘭", "桂芝",
                     "淑芬", "秋菊", "春梅")
_GIVEN_FEMALE = ("芳", "娜", "敏", "靜", "麗", "艷", "娟", "霞", "婷", "雪", "琳", "丹", "穎",
                 "倩", "萍", "紅", "燕", "玲", "慧", "佳", "欣怡", "雨涵", "思琪", "曉燕",
                 "海燕", "美玲", "曉紅", "麗娜", "文靜")

_STREETS = {
    "110101": ("東四街道", "和平里街道", "建國門街道", "東直門街道", "體育館路街道"),
    "110102": ("德勝街道", "月壇街道", "廣安門內街道", "展覽路街道", "什剎海街道"),
    "110105": ("望京街道", "三里屯街道", "勁松街道", "雙井街道", "呼家樓街道", "十八里店鄉"),
    "110106": ("方莊街道", "盧溝橋街道", "右安門街道", "新村街道", "花鄉"),
    "110107": ("八角街道", "古城街道", "魯谷街道", "蘋果園街道"),
    "110108": ("中關村街道", "學院路街道", "清河街道", "萬壽路街道", "北太平莊街道", "西三旗街道"),
    "110109": ("大峪街道", "城子街道", "永定鎮"),
    "110111": ("良鄉鎮", "拱辰街道", "長陽鎮", "閻村鎮"),
    "110112": ("梨園鎮", "永順鎮", "中倉街道", "宋莊鎮", "馬駒橋鎮"),
    "110113": ("勝利街道", "光明街道", "後沙峪鎮", "仁和鎮"),
    "110114": ("回龍觀街道", "天通苑北街道", "城北街道", "沙河鎮", "東小口鎮"),
    "110115": ("黃村鎮", "亦莊鎮", "西紅門鎮", "觀音寺街道", "舊宮鎮"),
}
#: People who moved back home, or write from where they live now: districts of other provinces
#: (outside a Beijing bureau's area: accepted and marked), with their province and city.
_ELSEWHERE = {
    "440305": ("廣東省深圳市", "南山區", ("粵海街道", "南頭街道", "蛇口街道", "西麗街道")),
    "510107": ("四川省成都市", "武侯區", ("玉林街道", "簇橋街道", "火車南站街道")),
    "330106": ("浙江省杭州市", "西湖區", ("北山街道", "西溪街道", "文新街道", "蔣村街道")),
    "310115": ("上海市", "浦東新區", ("陸家嘴街道", "花木街道", "張江鎮", "川沙新鎮")),
    "420111": ("湖北省武漢市", "洪山區", ("珞南街道", "關山街道", "張家灣街道")),
    "130102": ("河北省石家莊市", "長安區", ("建北街道", "青園街道", "育才街道")),
    "410105": ("河南省鄭州市", "金水區", ("經八路街道", "花園路街道", "文化路街道")),
    "370102": ("山東省濟南市", "歷下區", ("泉城路街道", "趵突泉街道", "千佛山街道")),
    "230102": ("黑龍江省哈爾濱市", "道里區", ("新陽路街道", "安靜街道", "工程街道")),
    "610113": ("陝西省西安市", "雁塔區", ("小寨路街道", "大雁塔街道", "電子城街道")),
}
#: The share of petitioners living outside Beijing.
_ELSEWHERE_SHARE = 0.25
_COMPOUND_HEADS = ("康樂", "和平", "幸福", "金地", "遠洋", "華龍", "富力", "陽光", "怡海", "青塔",
                   "育新", "建欣", "興華", "綠苑", "明珠", "順馳", "龍騰", "錦繡")
_COMPOUND_TAILS = ("小區", "家園", "花園", "里", "嘉園", "新村")

_DISTRICT_NAMES = dict(DISTRICTS)


@dataclass
class _Person:
    name: str
    male: bool
    birth: dt.date
    id_number: str
    phone: str
    district: str
    address: str
    #: Facts of the matter, fixed when the person first writes so later letters agree.
    ctx: dict = field(default_factory=dict)
    #: (local date, serial) of earlier records of this person.
    history: list = field(default_factory=list)


def _id_number(rng: random.Random, birth: dt.date, male: bool, home: str | None = None) -> str:
    """A valid resident ID number; its first six digits are the home region when given."""
    prefix = home or rng.choice([code for code, _ in DISTRICTS])
    order = rng.randrange(0, 500) * 2 + (1 if male else 0)  # 17th digit: odd for men
    first17 = f"{prefix}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_char(first17)


def _phone(rng: random.Random) -> str:
    second = rng.choice(("13", "15", "18"))
    third = rng.choice("012356789") if second == "15" else str(rng.randrange(10))
    return second + third + "".join(str(rng.randrange(10)) for _ in range(8))


def _address(rng: random.Random, district: str) -> str:
    if district in _ELSEWHERE:
        city, name, streets = _ELSEWHERE[district]
        place = f"{city}{name}{rng.choice(streets)}"
    else:
        place = f"北京市{_DISTRICT_NAMES[district]}{rng.choice(_STREETS[district])}"
    compound = rng.choice(_COMPOUND_HEADS) + rng.choice(_COMPOUND_TAILS)
    return (f"{place}{compound}{rng.randrange(1, 30)}號樓"
            f"{rng.randrange(1, 7)}單元{rng.randrange(1, 25)}{rng.randrange(1, 5):02d}室")


def _person(rng: random.Random, birth_years: tuple[int, int]) -> _Person:
    male = rng.random() < 0.55
    lo, hi = max(1950, birth_years[0]), min(2000, birth_years[1])
    year = rng.randint(lo, hi)
    birth = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
    old = year < 1968
    if male:
        given = rng.choice(_GIVEN_MALE_OLD if old and rng.random() < 0.6 else _GIVEN_MALE)
    else:
        given = rng.choice(_GIVEN_FEMALE_OLD if old and rng.random() < 0.6 else _GIVEN_FEMALE)
    if rng.random() < _ELSEWHERE_SHARE:
        district = rng.choice(sorted(_ELSEWHERE))
        home = district
    else:
        district = rng.choice([code for code, _ in DISTRICTS])
        home = None
    return _Person(name=rng.choice(_SURNAMES) + given, male=male, birth=birth,
                   id_number=_id_number(rng, birth, male, home), phone=_phone(rng), district=district,
                   address=_address(rng, district))


# -- the matters people write about ------------------------------------------------------
#: Fictional employers by sector, and the jobs people do there.
_SECTORS = {
    "construction": (("北京宏遠建築工程有限公司", "北京華興裝飾工程有限公司", "北京瑞豐建設集團有限公司"),
                     ("鋼筋工", "木工", "電工", "架子工", "混凝土工", "裝修工")),
    "logistics": (("北京鑫達物流有限公司", "北京優選電子商務有限公司"),
                  ("快遞分揀員", "貨車司機", "倉庫管理員", "配送員")),
    "catering": (("北京盛華餐飲管理有限公司",), ("廚師", "服務員", "傳菜員")),
    "services": (("北京恒通物業管理有限公司", "北京藍天保潔服務有限公司", "北京長城保安服務有限公司"),
                 ("保安", "保潔員", "維修工", "客服專員")),
    "tech": (("北京金橋科技發展有限公司", "北京新創網絡科技有限公司"),
             ("軟件工程師", "測試工程師", "銷售代表", "客服專員")),
    "retail": (("北京億家超市連鎖有限公司", "北京佳美服裝有限公司"), ("收銀員", "理貨員", "縫紉工", "質檢員")),
    "auto": (("北京順安汽車維修有限公司",), ("汽修工", "鈑金工", "前臺接待")),
}
_PROJECTS = ("住宅小區二期工程", "學校教學樓改造工程", "商業綜合體工程", "地鐵站配套工程",
             "老舊小區綜合整治工程", "產業園廠房工程")
_FACTORIES = ("北京第三紡織廠", "北京機床附件廠", "北京東風電子元件廠", "北京紅星食品廠",
              "北京前進汽車配件廠", "北京光華印刷廠")
_PROVINCES = (("河北省", "石家莊市"), ("河南省", "鄭州市"), ("山東省", "濟南市"), ("黑龍江省", "哈爾濱市"),
              ("四川省", "成都市"), ("湖北省", "武漢市"), ("遼寧省", "瀋陽市"), ("安徽省", "合肥市"),
              ("山西省", "太原市"), ("內蒙古自治區", "包頭市"))
#: (what happened, what the hospital found)
_INJURIES = (("從腳手架上摔下", "右腿脛骨骨折"), ("右手被機器擠傷", "右手食指、中指粉碎性骨折"),
             ("下班途中發生交通事故", "左側肋骨多處骨折"), ("搬運貨物時扭傷腰部", "腰椎間盤突出"),
             ("被高處掉落的物品砸傷", "顱腦外傷伴輕度腦震盪"), ("在倉庫被叉車撞傷", "左踝關節骨折"),
             ("在濕滑的地面上摔倒", "右腕關節骨折"))
_PRETEXTS = ("業務調整", "試用期考核不合格", "公司搬遷", "部門撤銷", "嚴重違反規章制度", "經營困難需要裁員")
_BUSINESSES = ("醫療費用報銷", "養老保險待遇申領", "失業保險金申領", "社保卡補辦", "個人權益記錄打印",
               "工傷保險待遇核定")
_EVIDENCE = ("工資條", "考勤記錄", "勞動合同", "工資欠條", "銀行流水", "微信聊天記錄", "工作證")
_MED_EVIDENCE = ("診斷證明", "住院病歷", "醫療費票據", "事故現場照片", "證人證言")


def _ym(day: dt.date, months_back: int) -> str:
    index = day.year * 12 + day.month - 1 - months_back
    return f"{index // 12}年{index % 12 + 1}月"


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _between(rng: random.Random, lo: int, hi: int) -> int:
    return rng.randint(lo, max(lo, hi))


def _context(rng: random.Random, day: dt.date, person: _Person, topic: _Topic) -> dict:
    """The facts of one person's matter, relative to the day they first write."""
    province, city = rng.choice(_PROVINCES)
    accident, diagnosis = rng.choice(_INJURIES)
    if topic.key == "wage_arrears" and rng.random() < 0.5:
        sector = "construction"
    else:
        sector = rng.choice(sorted(_SECTORS))
    employers, jobs = _SECTORS[sector]
    months = rng.randint(2, 11)
    start_back = months + rng.randint(8, 96)
    tenure = (start_back - months) // 12
    wage = rng.randrange(45, 130) * 100
    born = person.birth.year
    y3 = _between(rng, max(born + 22, day.year - 12), day.year - 2)   # came to work in Beijing
    y1 = _between(rng, max(born + 18, y3 - 15), y3 - 3)               # started work elsewhere
    retire_year = born + (60 if person.male else 55)
    if (retire_year, person.birth.month) < (day.year, day.month):
        retire_ym = f"{retire_year}年{person.birth.month}月"
    else:
        retire_ym = _ym(day, rng.randint(3, 30))
    return {
        "construction": sector == "construction",
        "employer": rng.choice(employers),
        "job": rng.choice(jobs),
        "project": _DISTRICT_NAMES[rng.choice([c for c, _ in DISTRICTS])] + rng.choice(_PROJECTS),
        "factory": rng.choice(_FACTORIES),
        "wage": wage,
        "months": months,
        "amount": wage * months + rng.randrange(0, 40) * 100,
        "start": _ym(day, start_back),
        "tenure": f"{tenure}年" if tenure else "近一年",
        "from_ym": _ym(day, months),
        "leave_ym": _ym(day, rng.randint(1, max(1, months - 1))),
        "injury_ym": _ym(day, rng.randint(2, 10)),
        "retire_ym": retire_ym,
        "district": (_ELSEWHERE[person.district][1] if person.district in _ELSEWHERE
                     else _DISTRICT_NAMES[person.district]),
        "province": province, "city": city,
        "y1": y1, "y2": y3 - 1, "y3": y3,
        "y_start": _between(rng, max(1968, born + 17), min(1990, born + 22)),
        "n_years": rng.randint(3, 15),
        "factory_years": rng.randint(5, 20),
        "pension": rng.randrange(32, 62) * 100 + rng.randrange(0, 100),
        "diff": rng.randrange(3, 12) * 100,
        "accident": accident,
        "diagnosis": diagnosis,
        "pretext": rng.choice(_PRETEXTS),
        "visit_date": _cn_date(day - dt.timedelta(days=rng.randint(2, 20))),
        "window": rng.randint(1, 16),
        "staff_no": f"{rng.randint(1, 9)}{rng.randint(0, 999):03d}",
        "business": rng.choice(_BUSINESSES),
        "trips": rng.randint(3, 6),
        "days": rng.choice((5, 10, 15)),
        "birth_year": born,
        "retire_year": retire_year,
        "small_amount": rng.randrange(3, 20) * 100,
        "evidence": "、".join(rng.sample(_EVIDENCE, 2)),
        "med_evidence": "、".join(rng.sample(_MED_EVIDENCE, 2)),
        "workers": rng.randint(8, 60),
    }


@dataclass(frozen=True)
class _Topic:
    key: str
    category: str
    weight: int
    #: Birth years of the people who write about it.
    ages: tuple[int, int]
    subjects: tuple[str, ...]
    #: One of these opens the account of the facts.
    leads: tuple[str, ...]
    #: Two to four of these follow, in this order.
    facts: tuple[str, ...]
    #: What is asked; each starts with a verb so a clerk's summary can put "來電人" before it.
    demands: tuple[str, ...]
    #: Can come as a collective visit (集體訪).
    collective: bool = False
    #: Notes a clerk might add.
    notes: tuple[str, ...] = ()
    #: Last sentences of a letter, and of a clerk's summary of a call or visit (defaults below).
    closings: tuple[str, ...] = ()
    clerk_closings: tuple[str, ...] = ()


_CONSULT_CLOSINGS = ("謝謝！", "盼覆。", "麻煩您了，謝謝！")
_CONSULT_CLERK = ("已向其解釋相關政策，並告知辦事渠道。", "已告知將由相關科室書面答覆。")

# Placeholders: {I} subject (本人 / 來電人 / 來訪群眾), {me} object, {my} possessive.
_TOPICS: tuple[_Topic, ...] = (
    _Topic(
        "wage_arrears", "labour_wages", 6, (1962, 2000),
        ("反映{employer}拖欠工資問題", "關於{employer}拖欠{months}個月工資的投訴",
         "請求幫助討回被拖欠的勞動報酬", "{project}拖欠農民工工資", "反映公司欠薪不還問題"),
        ("{I}於{start}入職{employer}，從事{job}工作，約定月工資{wage}元。",
         "{I}在{employer}承建的{project}從事{job}工作，工資按月結算，每月{wage}元。"),
        ("自{from_ym}起，公司以資金周轉困難為由停發工資，至今已拖欠{months}個月，共計{amount}元。",
         "{I}多次找公司負責人索要，對方一再推諉，後來乾脆不接電話。",
         "{project}的項目經理稱甲方工程款沒有結清，要等甲方付款後才能發放工資。",
         "公司已於{leave_ym}停業，辦公地點人去樓空。",
         "{I}手中有{evidence}等材料，可以證明欠薪事實。",
         "家中老人生病住院急需用錢，孩子的學費也沒有著落，生活十分困難。"),
        ("請求責令該公司立即支付所欠工資。", "希望有關部門依法查處惡意欠薪行為。",
         "請求幫助{me}盡快拿到血汗錢。"),
        collective=True,
        notes=("擬轉勞動保障監察科核查。", "附{evidence}複印件，已掃描存檔。"),
    ),
    _Topic(
        "insurance_transfer", "social_security", 3, (1965, 1995),
        ("養老保險關係轉移接續辦理困難", "諮詢外省養老保險轉入北京的問題", "反映社保轉移手續久拖未辦"),
        ("{I}於{y1}年至{y2}年在{province}{city}工作並繳納城鎮職工基本養老保險，{y3}年起在北京就業參保。",),
        ("{from_ym}，{I}向{district}社保經辦機構申請將{province}的養老保險關係轉入北京。",
         "經辦窗口稱需要原參保地出具參保繳費憑證，但原參保地又要求北京先發聯繫函，兩邊互相推諉。",
         "至今已過去{months}個月，轉移手續仍未辦結，{my}繳費年限無法合併計算。",
         "網上查詢顯示轉移申請一直處於「待審核」狀態，打電話也無人說明原因。",
         "{I}即將達到法定退休年齡，如不能及時轉移，將影響按月領取養老金。"),
        ("請求協調兩地經辦機構盡快辦理轉移接續手續。", "希望明確告知需要提交的材料和辦理時限。"),
        notes=("擬轉社會保險科辦理。",),
    ),
    _Topic(
        "pension", "social_security", 3, (1950, 1964),
        ("對養老金核算結果有異議", "反映視同繳費年限未予認定問題", "關於退休待遇計算的申訴"),
        ("{I}於{retire_ym}辦理退休手續，核定的基本養老金為每月{pension}元。",
         "{I}是{factory}的退休職工，{y_start}年參加工作，{retire_ym}退休。"),
        ("{I}在原國營{factory}工作{factory_years}年，這段工齡應當認定為視同繳費年限。",
         "經辦機構以檔案中缺少招工審批表為由，不認定{my}在{factory}的工齡為視同繳費年限，導致{my}養老金明顯偏低。",
         "與{I}同批進廠、工齡相同的同事，每月養老金比{I}多出{diff}元左右。",
         "{I}已提交原單位出具的證明和當年的工資發放記錄，經辦機構仍未重新核算。",
         "工作人員只說按政策辦理，卻說不清具體依據哪一項規定。"),
        ("請求對{my}養老金重新核算，並補發差額。", "希望書面答覆核算的政策依據。"),
        collective=True,
        notes=("來信人年事已高，字跡較難辨認，已電話核實。", "擬轉社會保險科核查。"),
    ),
    _Topic(
        "work_injury", "social_security", 3, (1965, 1998),
        ("工傷認定申請遲遲未受理", "反映單位不配合工傷認定問題", "對工傷認定結論不服"),
        ("{injury_ym}，{I}在{employer}從事{job}工作時{accident}，經醫院診斷為{diagnosis}。",),
        ("事故發生後，單位只墊付了部分醫療費，拒絕為{me}申請工傷認定。",
         "{I}自行向{district}人力資源和社會保障局提交了工傷認定申請，但被告知材料不全，需要單位蓋章。",
         "單位否認與{me}存在勞動關係，稱{I}只是臨時工。",
         "單位沒有為{me}繳納工傷保險。",
         "目前{I}仍在康復治療中，無法工作，已自付醫療費{amount}元。"),
        ("請求依法受理{my}工傷認定申請。", "希望督促單位承擔相應的工傷保險待遇。"),
        notes=("附{med_evidence}複印件。", "擬轉社會保險科（工傷保險）核查。"),
    ),
    _Topic(
        "contract", "labour_wages", 3, (1970, 2000),
        ("反映{employer}違法解除勞動合同", "單位未簽訂書面勞動合同問題", "請求支付經濟補償金"),
        ("{I}自{start}起在{employer}工作，擔任{job}，公司一直未與{me}簽訂書面勞動合同。",
         "{I}於{start}入職{employer}，任{job}。"),
        ("{from_ym}，公司以{pretext}為由口頭通知{me}第二天不用來上班。",
         "{I}在公司連續工作{tenure}，公司未支付任何經濟補償。",
         "公司要求{me}簽署「自願離職申請」，否則不結清最後一個月的工資。",
         "公司長期安排加班，週末加班從未支付加班費。",
         "{I}向勞動人事爭議仲裁委員會諮詢過，被告知需要先準備證據材料。"),
        ("請求依法支付經濟補償金和未簽勞動合同的二倍工資差額。", "希望勞動監察部門對該公司進行調查。"),
        collective=True,
        notes=("已告知勞動爭議可申請仲裁。",),
    ),
    _Topic(
        "staff_attitude", "staff_conduct", 2, (1952, 1995),
        ("投訴社保服務窗口工作人員態度惡劣", "反映工作人員推諉刁難問題", "對經辦人員服務態度的投訴"),
        ("{visit_date}上午，{I}到{district}社會保險服務大廳{window}號窗口辦理{business}業務。",),
        ("窗口工作人員（工號{staff_no}）態度生硬，{I}詢問所需材料時，對方不耐煩地說「自己看牆上的公示」。",
         "{I}前後跑了{trips}次，每次都被告知缺少不同的材料，從未一次性告知。",
         "排隊兩個多小時，輪到{I}時工作人員說系統維護，讓下午再來。",
         "{I}要求見值班負責人，被告知負責人不在。",
         "{I}年紀大了，行動不便，來回奔波非常辛苦。"),
        ("請求對該工作人員進行批評教育，並給予答覆。", "希望改進窗口服務，落實一次性告知制度。"),
        notes=("涉及工作人員作風問題，擬送紀檢監察室。",),
    ),
    _Topic(
        "consult_flexible", "policy_consultation", 1, (1975, 2000),
        ("諮詢靈活就業人員參保政策", "靈活就業人員如何在京繳納社保"),
        ("{I}目前以送外賣為生，沒有固定工作單位。", "{I}原在{employer}工作，{leave_ym}離職後一直自由職業。"),
        ("想了解靈活就業人員如何參加職工養老保險和醫療保險，繳費基數如何選擇。",
         "另外，非京籍人員是否可以以靈活就業身份參保？",
         "中斷繳費的幾個月能否補繳？"),
        ("希望予以解答。", "請求告知具體政策依據和辦理渠道。"),
        notes=("已告知辦事指南網址。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    _Topic(
        "consult_unemployment", "policy_consultation", 1, (1968, 1998),
        ("關於失業保險金申領條件的諮詢", "諮詢失業保險待遇問題"),
        ("{I}於{leave_ym}被原單位{employer}辭退，已累計繳納失業保險{n_years}年。",),
        ("想了解申領失業保險金需要哪些材料，能領取多長時間，每月標準是多少。",
         "領取期間是否還能繼續享受醫療保險待遇？",
         "如果領取期間找到新工作，剩餘的失業保險金如何處理？"),
        ("希望予以解答。", "請求告知在哪裡辦理以及辦理時限。"),
        closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    _Topic(
        "consult_title", "policy_consultation", 1, (1975, 1995),
        ("諮詢職稱評審政策", "非公企業專業技術人員職稱申報問題"),
        ("{I}在一家民營企業從事工程技術工作已{n_years}年。",),
        ("想了解非公有制企業專業技術人員如何申報中級職稱，是否需要單位推薦。",
         "論文和繼續教育學時有什麼具體要求？",
         "外省取得的初級職稱在北京是否認可？"),
        ("希望予以解答。", "請求告知申報時間和渠道。"),
        notes=("擬轉人事科答覆。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    _Topic(
        "consult_retirement", "policy_consultation", 1, (1972, 1980),
        ("諮詢延遲退休政策的具體規定", "關於漸進式延遲法定退休年齡的諮詢"),
        ("{I}出生於{birth_year}年，原定{retire_year}年退休。",),
        ("想了解漸進式延遲退休政策實施後，{my}具體退休年齡和最低繳費年限如何確定。",
         "是否可以申請彈性提前退休？需要什麼條件？",
         "延遲退休期間的養老保險如何繳納？"),
        ("希望予以解答。", "請求書面告知政策依據。"),
        notes=("擬轉政策法規科答覆。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    _Topic(
        "enforcement", "law_enforcement", 2, (1965, 1998),
        ("反映勞動監察投訴久拖不辦", "對勞動保障監察處理結果不滿", "反映監察大隊不作為"),
        ("{from_ym}，{I}就{employer}拖欠工資問題向{district}勞動保障監察大隊投訴，"
         "當時工作人員答應{days}個工作日內給予答覆。",),
        ("但至今已過去{months}個月，既沒有立案，也沒有任何書面答覆。",
         "{I}多次打電話詢問，對方只說正在調查，請耐心等待。",
         "據{I}了解，該公司還有其他{workers}名職工被拖欠工資。",
         "監察大隊的處理意見僅要求公司支付部分工資，對加班費和經濟補償未作處理。"),
        ("請求上級部門督促依法立案查處，並書面告知處理結果。", "要求對相關工作人員的不作為問題進行調查。"),
        collective=True,
        notes=("擬轉勞動保障監察科並抄送紀檢監察室。",),
    ),
    _Topic(
        "housing", "land_housing", 1, (1950, 1965),
        ("反映單位集資建房遺留問題", "關於原單位職工住房產權證辦理的訴求"),
        ("{I}是原{factory}職工，單位當年組織職工集資建房，{I}繳納集資款{amount}元。",),
        ("至今房屋產權證仍未辦理，單位改制後無人負責。",
         "{I}找過街道和住建部門，都說不歸他們管。",
         "同一樓的幾十戶職工都面臨同樣的問題。"),
        ("請求協調有關部門解決房屋產權問題。",),
        collective=True,
        notes=("不屬本局職責範圍，擬告知其向住房和城鄉建設部門反映。",),
    ),
    _Topic(
        "noise", "environment", 1, (1955, 1995),
        ("反映工地夜間施工噪音擾民", "反映建築工地夜間施工問題"),
        ("{I}居住在{district}，小區旁邊的建築工地長期在夜間施工，經常到凌晨兩三點。",),
        ("噪音嚴重影響周邊居民休息，家中老人孩子無法入睡。",
         "{I}曾撥打12345熱線反映，情況只好轉了幾天。",
         "工地工人說是因為趕工期，也不知道有沒有夜間施工許可。"),
        ("請求有關部門依法查處，還居民一個安靜的環境。",),
        notes=("不屬本局職責範圍，已告知其向生態環境部門反映。",),
    ),
    _Topic(
        "labour_market", "urban_management", 1, (1960, 2000),
        ("反映人力資源市場周邊佔道經營問題", "反映勞務市場門口黑中介聚集"),
        ("{district}人力資源市場門口每天早上聚集大量招工人員和流動攤販，佔用人行道。",),
        ("一些無證的「黑中介」以介紹工作為名收取押金，收錢後就找不到人。",
         "{I}就曾被收取{small_amount}元介紹費，至今未退還。",
         "早高峰時行人只能走機動車道，存在安全隱患。"),
        ("希望相關部門聯合整治，規範勞務市場秩序。",),
        notes=("擬轉城市管理部門並抄送勞動保障監察科。",),
    ),
    _Topic(
        "thanks", "other", 1, (1960, 1998),
        ("感謝信", "感謝勞動保障監察科幫助追回欠薪"),
        ("{from_ym}，{I}因{employer}拖欠工資問題求助貴局。",),
        ("勞動保障監察科的同志認真負責，很快幫{me}追回了{amount}元工資。",
         "辦事人員耐心細緻，多次主動打電話告知進展。"),
        ("希望轉達{my}謝意。",),
        closings=("再次表示衷心的感謝！", "謝謝！"), clerk_closings=("已記錄，將轉達相關科室。",),
    ),
    _Topic(
        "suggestion", "other", 1, (1970, 2000),
        ("關於優化網上辦事流程的建議", "對社保服務工作的建議"),
        ("{I}在使用網上辦事大廳辦理{business}業務時遇到一些問題。",),
        ("上傳材料的大小限制過小，手機拍攝的照片經常無法上傳。",
         "頁面上的操作指引不夠清楚，老年人很難自己完成。",
         "提交後沒有短信提醒，只能反覆登錄查詢進度。"),
        ("希望優化系統，並提供更清晰的操作指引。",),
        closings=("以上建議，供參考。", "謝謝！"), clerk_closings=("已記錄，將轉相關科室研究。",),
    ),
)
_TOPIC_BY_KEY = {t.key: t for t in _TOPICS}

_SALUTATIONS = {
    "letter": ("尊敬的局領導：", "市人力資源和社會保障局信訪辦公室：", "尊敬的信訪辦工作人員："),
    "email": ("尊敬的領導：", "信訪辦公室：", "您好："),
    "fax": ("致：市人力資源和社會保障局信訪辦公室",),
    "online": ("", "尊敬的領導："),
}
_CLOSINGS_FIRST = ("懇請領導高度重視，盡快督促解決為盼。", "望貴局依法依規處理，切實維護群眾的合法權益。",
                   "如需核實情況，可隨時與本人聯繫。", "盼覆。", "謝謝！")
_CLOSINGS_PHONE = ("來電人要求盡快給予答覆。已告知其受理範圍及辦理時限。",
                   "已向來電人說明將按程序轉交相關科室辦理。",
                   "來電人情緒較激動，經解釋後表示等待答覆。")
_CLOSINGS_VISIT = ("接待人員已登記相關材料，告知其按程序辦理，並在規定期限內答覆。",
                   "已向來訪人說明政策，來訪人表示理解並等待處理結果。",
                   "來訪人情緒平穩，已留存聯繫方式。")

#: Weights of the channels for records beyond the first one of each.
_CHANNEL_WEIGHTS = {"letter": 5, "email": 3, "fax": 1, "phone": 4, "visit": 4, "online": 3}


@dataclass
class _Slot:
    channel: str
    topic: _Topic
    received: dt.datetime
    collective: bool = False
    person: _Person | None = None
    anonymous: bool = False


def _pronouns(channel: str, collective: bool, rng: random.Random) -> dict:
    if collective:
        return {"I": "來訪群眾", "me": "他們", "my": "他們的"}
    if channel == "visit":
        return {"I": "來訪人", "me": "其", "my": "其"}
    if channel == "phone":
        return {"I": "來電人", "me": "其", "my": "其"}
    if rng.random() < 0.6:
        return {"I": "本人", "me": "本人", "my": "本人"}
    return {"I": "我", "me": "我", "my": "我的"}


def _plan(rng: random.Random, count: int, today: dt.date) -> list[_Slot]:
    """Channels, topics and dates of ``count`` records, in order of receipt."""
    channels = list(CHANNELS) if count >= len(CHANNELS) else []
    channels += rng.choices(list(_CHANNEL_WEIGHTS), weights=list(_CHANNEL_WEIGHTS.values()),
                            k=count - len(channels))
    rng.shuffle(channels)
    # every category once when there is room, the rest by weight
    topics: list[_Topic] = []
    topic_categories = sorted({t.category for t in _TOPICS})
    if count >= len(topic_categories):
        for cat in topic_categories:
            topics.append(rng.choice([t for t in _TOPICS if t.category == cat]))
    topics += rng.choices(_TOPICS, weights=[t.weight for t in _TOPICS], k=count - len(topics))
    rng.shuffle(topics)
    # make sure there is a collective visit when there is a visit at all
    visits = [i for i, c in enumerate(channels) if c == "visit"]
    if visits and not any(topics[i].collective for i in visits):
        donor = next((i for i, t in enumerate(topics) if t.collective), None)
        if donor is not None:
            topics[visits[0]], topics[donor] = topics[donor], topics[visits[0]]

    slots = []
    have_collective = False
    for channel, topic in zip(channels, topics):
        day = today - dt.timedelta(days=rng.randint(1, 300))
        if channel in ("letter", "fax", "visit") and day.weekday() >= 5:
            day -= dt.timedelta(days=day.weekday() - 4)  # office days only: back to Friday
        if channel in ("letter", "visit"):
            minutes = rng.randint(8 * 60 + 30, 17 * 60)
        elif channel in ("phone", "fax"):
            minutes = rng.randint(8 * 60 + 30, 19 * 60 + 30)
        else:
            minutes = rng.randint(6 * 60, 23 * 60 + 50)
        when = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))
        collective = False
        if channel == "visit" and topic.collective and (not have_collective or rng.random() < 0.4):
            collective = have_collective = True
        slots.append(_Slot(channel, topic, when, collective=collective))
    slots.sort(key=lambda s: s.received)
    return slots


def _assign_people(rng: random.Random, slots: list[_Slot]) -> None:
    """A person for each slot; a few people write more than once about the same matter."""
    by_topic: dict[str, list[_Slot]] = {}
    for s in slots:
        if s.topic.key not in ("thanks", "suggestion") and not s.collective:
            by_topic.setdefault(s.topic.key, []).append(s)
    repeaters = max(1, len(slots) // 12) if len(slots) >= 4 else 0
    candidates = [k for k, v in sorted(by_topic.items()) if len(v) >= 2]
    rng.shuffle(candidates)
    for key in candidates[:repeaters]:
        group = by_topic[key]
        chosen = sorted(rng.sample(range(len(group)), min(len(group), rng.choice((2, 2, 3)))))
        person = _person(rng, _TOPIC_BY_KEY[key].ages)
        for i in chosen:
            group[i].person = person
    for s in slots:
        if s.person is None:
            s.person = _person(rng, s.topic.ages)
            s.anonymous = s.channel in ("letter", "email") and rng.random() < 0.08


def _petitioner(rng: random.Random, slot: _Slot, repeat: bool) -> dict:
    p = slot.person
    if slot.anonymous:
        return {}
    if repeat or slot.channel in ("visit", "online"):
        return {"name": p.name, "id_number": p.id_number, "phone": p.phone, "address": p.address}
    if slot.channel == "phone":
        name = p.name if rng.random() < 0.7 else p.name[0] + ("先生" if p.male else "女士")
        return {"name": name, "id_number": "", "phone": p.phone, "address": ""}
    if slot.channel == "fax":
        return {"name": p.name, "id_number": "", "phone": p.phone, "address": p.address}
    return {"name": p.name,
            "id_number": p.id_number if rng.random() < 0.5 else "",
            "phone": p.phone if rng.random() < 0.8 else "",
            "address": p.address if slot.channel == "letter" or rng.random() < 0.4 else ""}


def _compose(rng: random.Random, slot: _Slot, ctx: dict, previous: tuple[dt.date, str] | None
             ) -> tuple[str, str, str, int]:
    """Subject, body, notes and number of people of one record."""
    topic, channel, person = slot.topic, slot.channel, slot.person
    people = 1
    if channel == "visit":
        if slot.collective:
            people = rng.randint(5, 30)
        elif rng.random() < 0.25:
            people = rng.randint(2, 4)
    values = dict(ctx, **_pronouns(channel, slot.collective, rng), people=people)
    if slot.collective:  # the sums owed to the whole group
        values["amount"] = ctx["amount"] * people - rng.randrange(0, people) * 100

    def fill(text: str) -> str:
        return text.format_map(values)

    def usable(texts: tuple[str, ...]) -> list[str]:
        """Phrases about a building site only fit a construction employer."""
        return [t for t in texts if ctx["construction"] or "{project}" not in t]

    subject = fill(rng.choice(usable(topic.subjects)))
    if previous is not None and rng.random() < 0.5:
        subject = ("再次" if subject.startswith("反映") else "再次反映：") + subject
    if slot.collective:
        subject = f"{subject}（集體訪）"

    pool = usable(topic.facts)
    k = rng.randint(2, min(4, len(pool)))
    facts = [pool[i] for i in sorted(rng.sample(range(len(pool)), k))]
    sentences = [fill(rng.choice(usable(topic.leads)))] + [fill(f) for f in facts]
    if previous is not None:
        outcome = "至今未收到答覆" if topic.category == "policy_consultation" else "至今未得到解決"
        sentences.append(fill(f"{{I}}曾於{_cn_date(previous[0])}就此問題反映過，{outcome}。"))
    demands = [fill(d) for d in rng.sample(topic.demands, rng.randint(1, min(2, len(topic.demands))))]

    if channel in ("phone", "visit"):
        who = values["I"]
        if slot.collective:
            opener = f"來訪人{person.name}等{people}人反映："
        elif channel == "visit":
            opener = f"來訪人{person.name}" + (f"（{people}人同行）" if people > 1 else "") + "反映："
        else:
            opener = "來電人反映："
        demand_text = who + demands[0] + "".join("同時" + d for d in demands[1:])
        closing = rng.choice(topic.clerk_closings or (_CLOSINGS_VISIT if channel == "visit" else _CLOSINGS_PHONE))
        split = rng.randint(1, len(sentences))
        paragraphs = [opener + "".join(sentences[:split])]
        if sentences[split:]:
            paragraphs.append("".join(sentences[split:]))
        paragraphs += [demand_text, closing]
    else:
        salutation = rng.choice(_SALUTATIONS[channel])
        paragraphs = [salutation] if salutation else []
        if channel in ("letter", "email") and salutation != "您好：" and rng.random() < 0.5:
            paragraphs.append("您好！")
        if channel == "online":
            paragraphs.append("本人通過網上信訪平臺反映以下問題。")
        split = rng.randint(1, len(sentences))
        paragraphs.append("".join(sentences[:split]))
        if sentences[split:]:
            paragraphs.append("".join(sentences[split:]))
        paragraphs.append("".join(demands) + rng.choice(topic.closings or _CLOSINGS_FIRST))
        if channel in ("letter", "fax"):
            written = slot.received.date() - dt.timedelta(days=rng.randint(1, 6) if channel == "letter" else 0)
            if channel == "letter" and rng.random() < 0.5:
                paragraphs.append("此致\n敬禮！")
            signer = "一名群眾" if slot.anonymous else person.name
            paragraphs.append(f"{signer}\n{_cn_date(written)}")
    body = "\n".join(paragraphs)

    notes = []
    if previous is not None:
        notes.append(f"該信訪人曾於{_cn_date(previous[0])}反映同一問題（{previous[1]}）。")
    if slot.collective:
        notes.append(f"集體訪，來訪{people}人，推選{min(5, max(2, people // 5))}名代表接談。")
    elif topic.notes and rng.random() < 0.5:
        notes.append(fill(rng.choice(topic.notes)))
    if slot.anonymous:
        notes.append("匿名來信，無法聯繫來信人。")
    return subject, body, "\n".join(notes), people


#: Where a sample topic goes in a vocabulary without its own category (science-tech, general).
_CATEGORY_FALLBACK = {"staff_conduct": ("staff_conduct", "bureau_functions"),
                      "policy_consultation": ("policy_consultation", "suggestion"),
                      "labour_wages": ("staff_retirees", "complaint_service"),
                      "social_security": ("staff_retirees", "complaint_service"),
                      "law_enforcement": ("law_enforcement", "bureau_functions")}


def _vocabulary_mapper(session: Session):
    """topic category -> a category of the instance's own vocabulary (the demo's letters are
    filed under the configured categories, whatever the preset)."""
    active = vocabulary.codes(session, active_only=True)
    if not active:
        raise ValidationError("The instance has no active category: add one before adding demo letters.")

    def category_of(code: str) -> str:
        for candidate in (code, *_CATEGORY_FALLBACK.get(code, ()), "other"):
            if candidate in active:
                return candidate
        return active[0]
    return category_of


def add_demo_records(session: Session, count: int = 40, *, seed: int | None = None,
                     by_username: str = "clerk") -> list[str]:
    """Register ``count`` sample letters and visits as ``by_username``; return their serials.

    The same ``seed`` gives the same records (dates are counted back from today in the
    instance's time zone, at most 302 days, so they stay in this year or the last)."""
    if count < 0:
        raise ValueError("count must not be negative")
    ensure_reference_data(session)
    by = accounts.get_user(session, by_username)
    settings = instance_of(session).settings
    today = dt.datetime.now(settings.tz).date()
    rng = random.Random(seed)
    slots = _plan(rng, count, today)
    _assign_people(rng, slots)
    category_of = _vocabulary_mapper(session)
    leader = session.execute(select(User).where(User.username == "leader", User.active.is_(True))
                             ).scalar_one_or_none()
    letters_per_person: dict[int, int] = {}
    for slot in slots:
        letters_per_person[id(slot.person)] = letters_per_person.get(id(slot.person), 0) + 1
    serials: list[str] = []
    for slot in slots:
        person = slot.person
        previous = person.history[-1] if person.history else None
        if not person.ctx:
            person.ctx = _context(rng, slot.received.date(), person, slot.topic)
        subject, body, notes, people = _compose(rng, slot, person.ctx, previous)
        region = person.district
        if slot.topic.category == "policy_consultation" and rng.random() < 0.6 and region not in _ELSEWHERE:
            region = MUNICIPALITY[0]
        raw = {
            "channel": slot.channel,
            "received_at": slot.received.isoformat(timespec="minutes"),
            "region": region,
            "category": category_of(slot.topic.category),
            "subject": subject,
            "body": body,
            "notes": notes,
            "people_count": people,
            "petitioner": _petitioner(rng, slot, repeat=letters_per_person[id(person)] > 1),
        }
        if slot.channel == "visit" and leader is not None and rng.random() < 0.3:
            raw["first_responder"] = leader.username
            raw["notes"] = (raw["notes"] + "\n" if raw["notes"] else "") + "局領導接訪日接待。"
        uploads = []
        if slot.channel in ("letter", "fax", "visit") and rng.random() < 0.3:
            uploads.append(operations.Upload(filename="掃描件.png", data=tiny_png(rng)))
        record = operations.register(session, raw, by=by, uploads=uploads)
        person.history.append((slot.received.date(), record.serial))
        serials.append(record.serial)
    return serials


# -- the life of the sample matters ----------------------------------------------------------
#: Offices the demo assigns to (they have demo handlers), by category; others go to LDJC.
_DEMO_OFFICE = {"social_security": "SHBX", "labour_wages": "LDJC", "law_enforcement": "LDJC"}
_REPLY_TEXTS = (
    "經調查核實，您反映的問題基本屬實。我局已責成相關單位限期整改，並將整改結果書面告知。",
    "經調閱相關材料並約談有關人員，您反映的情況部分屬實，我局已依法作出處理。",
    "經核查，您反映的問題與事實不符，相關依據和材料已隨函附上，請予理解。",
)
_FINDINGS = (("substantiated", "責令用人單位限期支付拖欠款項。"), ("partly_substantiated", "已督促相關科室改進工作作風。"),
             ("not_substantiated", ""))


def advance_demo_records(session: Session, serials: list[str], *, seed: int | None = None) -> int:
    """Take sample matters through the workflow, as the demo leader, chief and handlers would,
    dated after their receipt, so the ledger, the supervision board and the retention pages
    show every stage. Returns how many steps were applied."""
    from records.cases import workflow
    from records.models import Record

    rng = random.Random(seed)
    users = {u.username: u for u in session.execute(
        select(User).where(User.username.in_(("chief", "handler", "handler2", "clerk")))).scalars()}
    if "chief" not in users:
        return 0
    chief = users["chief"]
    handler_of = {"LDJC": users.get("handler", chief), "SHBX": users.get("handler2", chief)}
    today = dt.datetime.now(instance_of(session).settings.tz).date()
    steps = 0
    for serial in serials:
        record = session.execute(select(Record).where(Record.serial == serial)).scalar_one()
        received = record.received_at.astimezone(instance_of(session).settings.tz).date()
        age = (today - received).days
        roll = rng.random()
        plan: list[tuple[int, str, User, dict]] = []
        office = _DEMO_OFFICE.get(record.category, "LDJC")
        handler = handler_of[office]
        if record.category == "policy_consultation" and roll < 0.7:
            plan = [(2, "answer_directly", chief, {"text": "關於您諮詢的政策，依現行規定辦理，具體條件請見附件說明。"}),
                    (5, "conclude", chief, {})]
        elif roll < 0.12:
            plan = [(3, "store", chief, {"reason": rng.choice(("no_reference_value", "unclear_content"))})]
        elif roll < 0.2:
            plan = [(4, "decline_legal_channel", chief, {"reason": "arbitration"})]
        elif roll < 0.3 or age < 10:
            plan = []  # still awaiting the acceptance decision
        else:
            outcome, action = _FINDINGS[rng.randrange(len(_FINDINGS))]
            finding = {"outcome": outcome, "corrective_action": action, "evidence": "調查筆錄及相關材料。"}
            plan = [(3, "accept", chief, {}), (4, "assign", chief, {"office": office}),
                    (6, "start", handler, {})]
            if rng.random() < 0.25:
                plan.append((40, "extend", chief, {"days": 30, "reason": "案情複雜，需調取多年工資發放記錄。"}))
            if rng.random() < 0.7:
                plan.append((50, "reply", handler, {"text": rng.choice(_REPLY_TEXTS), "finding": finding}))
                if rng.random() < 0.3:
                    plan.append((62, "request_review", users.get("clerk", chief), {}))
                else:
                    plan.append((90, "conclude", chief, {}))
        for offset, name, actor, params in plan:
            day = received + dt.timedelta(days=offset)
            if day > today:
                break
            workflow.transition(session, record, name, by=actor, today=day, **params)
            steps += 1
    return steps
