"""Made-up petitioners: names by generation, addresses in the districts (and elsewhere),
well-formed but invented resident ID numbers and phone numbers."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from records.identity import id_check_char
from records.reference.seed import (
    DISTRICTS,
)

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
ELSEWHERE = {
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

DISTRICT_NAMES = dict(DISTRICTS)


@dataclass
class Person:
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
    if district in ELSEWHERE:
        city, name, streets = ELSEWHERE[district]
        place = f"{city}{name}{rng.choice(streets)}"
    else:
        place = f"北京市{DISTRICT_NAMES[district]}{rng.choice(_STREETS[district])}"
    compound = rng.choice(_COMPOUND_HEADS) + rng.choice(_COMPOUND_TAILS)
    return (f"{place}{compound}{rng.randrange(1, 30)}號樓"
            f"{rng.randrange(1, 7)}單元{rng.randrange(1, 25)}{rng.randrange(1, 5):02d}室")


def invent_person(rng: random.Random, birth_years: tuple[int, int]) -> Person:
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
        district = rng.choice(sorted(ELSEWHERE))
        home = district
    else:
        district = rng.choice([code for code, _ in DISTRICTS])
        home = None
    return Person(name=rng.choice(_SURNAMES) + given, male=male, birth=birth,
                   id_number=_id_number(rng, birth, male, home), phone=_phone(rng), district=district,
                   address=_address(rng, district))
