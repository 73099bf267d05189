"""What people write about: fictional employers and places, the facts of a matter (its
context) and the sample topics with their subjects, facts, demands and closings."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from records.demo.people import DISTRICT_NAMES, ELSEWHERE, Person
from records.reference.seed import (
    DISTRICTS,
)

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
PROJECTS = ("住宅小區二期工程", "學校教學樓改造工程", "商業綜合體工程", "地鐵站配套工程",
             "老舊小區綜合整治工程", "產業園廠房工程")
FACTORIES = ("北京第三紡織廠", "北京機床附件廠", "北京東風電子元件廠", "北京紅星食品廠",
              "北京前進汽車配件廠", "北京光華印刷廠")
PROVINCES = (("河北省", "石家莊市"), ("河南省", "鄭州市"), ("山東省", "濟南市"), ("黑龍江省", "哈爾濱市"),
              ("四川省", "成都市"), ("湖北省", "武漢市"), ("遼寧省", "瀋陽市"), ("安徽省", "合肥市"),
              ("山西省", "太原市"), ("內蒙古自治區", "包頭市"))
#: (what happened, what the hospital found)
_INJURIES = (("從腳手架上摔下", "右腿脛骨骨折"), ("右手被機器擠傷", "右手食指、中指粉碎性骨折"),
             ("下班途中發生交通事故", "左側肋骨多處骨折"), ("搬運貨物時扭傷腰部", "腰椎間盤突出"),
             ("被高處掉落的物品砸傷", "顱腦外傷伴輕度腦震盪"), ("在倉庫被叉車撞傷", "左踝關節骨折"),
             ("在濕滑的地面上摔倒", "右腕關節骨折"))
PRETEXTS = ("業務調整", "試用期考核不合格", "公司搬遷", "部門撤銷", "嚴重違反規章制度", "經營困難需要裁員")
BUSINESSES = ("醫療費用報銷", "養老保險待遇申領", "失業保險金申領", "社保卡補辦", "個人權益記錄打印",
               "工傷保險待遇核定")
EVIDENCE = ("工資條", "考勤記錄", "勞動合同", "工資欠條", "銀行流水", "微信聊天記錄", "工作證")
MED_EVIDENCE = ("診斷證明", "住院病歷", "醫療費票據", "事故現場照片", "證人證言")


def _ym(day: dt.date, months_back: int) -> str:
    index = day.year * 12 + day.month - 1 - months_back
    return f"{index // 12}年{index % 12 + 1}月"


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _between(rng: random.Random, lo: int, hi: int) -> int:
    return rng.randint(lo, max(lo, hi))


def invent_context(rng: random.Random, day: dt.date, person: Person, topic: Topic) -> dict:
    """The facts of one person's matter, relative to the day they first write."""
    province, city = rng.choice(PROVINCES)
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
        "project": DISTRICT_NAMES[rng.choice([c for c, _ in DISTRICTS])] + rng.choice(PROJECTS),
        "factory": rng.choice(FACTORIES),
        "wage": wage,
        "months": months,
        "amount": wage * months + rng.randrange(0, 40) * 100,
        "start": _ym(day, start_back),
        "tenure": f"{tenure}年" if tenure else "近一年",
        "from_ym": _ym(day, months),
        "leave_ym": _ym(day, rng.randint(1, max(1, months - 1))),
        "injury_ym": _ym(day, rng.randint(2, 10)),
        "retire_ym": retire_ym,
        "district": (ELSEWHERE[person.district][1] if person.district in ELSEWHERE
                     else DISTRICT_NAMES[person.district]),
        "province": province, "city": city,
        "y1": y1, "y2": y3 - 1, "y3": y3,
        "y_start": _between(rng, max(1968, born + 17), min(1990, born + 22)),
        "n_years": rng.randint(3, 15),
        "factory_years": rng.randint(5, 20),
        "pension": rng.randrange(32, 62) * 100 + rng.randrange(0, 100),
        "diff": rng.randrange(3, 12) * 100,
        "accident": accident,
        "diagnosis": diagnosis,
        "pretext": rng.choice(PRETEXTS),
        "visit_date": cn_date(day - dt.timedelta(days=rng.randint(2, 20))),
        "window": rng.randint(1, 16),
        "staff_no": f"{rng.randint(1, 9)}{rng.randint(0, 999):03d}",
        "business": rng.choice(BUSINESSES),
        "trips": rng.randint(3, 6),
        "days": rng.choice((5, 10, 15)),
        "birth_year": born,
        "retire_year": retire_year,
        "small_amount": rng.randrange(3, 20) * 100,
        "evidence": "、".join(rng.sample(EVIDENCE, 2)),
        "med_evidence": "、".join(rng.sample(MED_EVIDENCE, 2)),
        "workers": rng.randint(8, 60),
    }


@dataclass(frozen=True)
class Topic:
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
TOPICS: tuple[Topic, ...] = (
    Topic(
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
    Topic(
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
    Topic(
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
    Topic(
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
    Topic(
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
    Topic(
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
    Topic(
        "consult_flexible", "policy_consultation", 1, (1975, 2000),
        ("諮詢靈活就業人員參保政策", "靈活就業人員如何在京繳納社保"),
        ("{I}目前以送外賣為生，沒有固定工作單位。", "{I}原在{employer}工作，{leave_ym}離職後一直自由職業。"),
        ("想了解靈活就業人員如何參加職工養老保險和醫療保險，繳費基數如何選擇。",
         "另外，非京籍人員是否可以以靈活就業身份參保？",
         "中斷繳費的幾個月能否補繳？"),
        ("希望予以解答。", "請求告知具體政策依據和辦理渠道。"),
        notes=("已告知辦事指南網址。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    Topic(
        "consult_unemployment", "policy_consultation", 1, (1968, 1998),
        ("關於失業保險金申領條件的諮詢", "諮詢失業保險待遇問題"),
        ("{I}於{leave_ym}被原單位{employer}辭退，已累計繳納失業保險{n_years}年。",),
        ("想了解申領失業保險金需要哪些材料，能領取多長時間，每月標準是多少。",
         "領取期間是否還能繼續享受醫療保險待遇？",
         "如果領取期間找到新工作，剩餘的失業保險金如何處理？"),
        ("希望予以解答。", "請求告知在哪裡辦理以及辦理時限。"),
        closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    Topic(
        "consult_title", "policy_consultation", 1, (1975, 1995),
        ("諮詢職稱評審政策", "非公企業專業技術人員職稱申報問題"),
        ("{I}在一家民營企業從事工程技術工作已{n_years}年。",),
        ("想了解非公有制企業專業技術人員如何申報中級職稱，是否需要單位推薦。",
         "論文和繼續教育學時有什麼具體要求？",
         "外省取得的初級職稱在北京是否認可？"),
        ("希望予以解答。", "請求告知申報時間和渠道。"),
        notes=("擬轉人事科答覆。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    Topic(
        "consult_retirement", "policy_consultation", 1, (1972, 1980),
        ("諮詢延遲退休政策的具體規定", "關於漸進式延遲法定退休年齡的諮詢"),
        ("{I}出生於{birth_year}年，原定{retire_year}年退休。",),
        ("想了解漸進式延遲退休政策實施後，{my}具體退休年齡和最低繳費年限如何確定。",
         "是否可以申請彈性提前退休？需要什麼條件？",
         "延遲退休期間的養老保險如何繳納？"),
        ("希望予以解答。", "請求書面告知政策依據。"),
        notes=("擬轉政策法規科答覆。",), closings=_CONSULT_CLOSINGS, clerk_closings=_CONSULT_CLERK,
    ),
    Topic(
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
    Topic(
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
    Topic(
        "noise", "environment", 1, (1955, 1995),
        ("反映工地夜間施工噪音擾民", "反映建築工地夜間施工問題"),
        ("{I}居住在{district}，小區旁邊的建築工地長期在夜間施工，經常到凌晨兩三點。",),
        ("噪音嚴重影響周邊居民休息，家中老人孩子無法入睡。",
         "{I}曾撥打12345熱線反映，情況只好轉了幾天。",
         "工地工人說是因為趕工期，也不知道有沒有夜間施工許可。"),
        ("請求有關部門依法查處，還居民一個安靜的環境。",),
        notes=("不屬本局職責範圍，已告知其向生態環境部門反映。",),
    ),
    Topic(
        "labour_market", "urban_management", 1, (1960, 2000),
        ("反映人力資源市場周邊佔道經營問題", "反映勞務市場門口黑中介聚集"),
        ("{district}人力資源市場門口每天早上聚集大量招工人員和流動攤販，佔用人行道。",),
        ("一些無證的「黑中介」以介紹工作為名收取押金，收錢後就找不到人。",
         "{I}就曾被收取{small_amount}元介紹費，至今未退還。",
         "早高峰時行人只能走機動車道，存在安全隱患。"),
        ("希望相關部門聯合整治，規範勞務市場秩序。",),
        notes=("擬轉城市管理部門並抄送勞動保障監察科。",),
    ),
    Topic(
        "thanks", "other", 1, (1960, 1998),
        ("感謝信", "感謝勞動保障監察科幫助追回欠薪"),
        ("{from_ym}，{I}因{employer}拖欠工資問題求助貴局。",),
        ("勞動保障監察科的同志認真負責，很快幫{me}追回了{amount}元工資。",
         "辦事人員耐心細緻，多次主動打電話告知進展。"),
        ("希望轉達{my}謝意。",),
        closings=("再次表示衷心的感謝！", "謝謝！"), clerk_closings=("已記錄，將轉達相關科室。",),
    ),
    Topic(
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
TOPIC_BY_KEY = {t.key: t for t in TOPICS}
