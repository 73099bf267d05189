"""The text of one sample record: subject, body in the channel's form, notes, petitioner."""
from __future__ import annotations

import datetime as dt
import random

from records.demo.planning import Slot
from records.demo.topics import cn_date

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


def petitioner_block(rng: random.Random, slot: Slot, repeat: bool) -> dict:
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


def compose(rng: random.Random, slot: Slot, ctx: dict, previous: tuple[dt.date, str] | None
             ) -> tuple[str, str, str, int]:
    """Subject, body, notes and number of people of one record."""
    topic, channel = slot.topic, slot.channel
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
        sentences.append(fill(f"{{I}}曾於{cn_date(previous[0])}就此問題反映過，{outcome}。"))
    demands = [fill(d) for d in rng.sample(topic.demands, rng.randint(1, min(2, len(topic.demands))))]

    if channel in ("phone", "visit"):
        paragraphs = _spoken(rng, slot, values, sentences, demands)
    else:
        paragraphs = _written(rng, slot, sentences, demands)
    body = "\n".join(paragraphs)

    notes = []
    if previous is not None:
        notes.append(f"該信訪人曾於{cn_date(previous[0])}反映同一問題（{previous[1]}）。")
    if slot.collective:
        notes.append(f"集體訪，來訪{people}人，推選{min(5, max(2, people // 5))}名代表接談。")
    elif topic.notes and rng.random() < 0.5:
        notes.append(fill(rng.choice(topic.notes)))
    if slot.anonymous:
        notes.append("匿名來信，無法聯繫來信人。")
    return subject, body, "\n".join(notes), people


def _spoken(rng: random.Random, slot: Slot, values: dict, sentences: list[str], demands: list[str]) -> list[str]:
    """The paragraphs of a call or visit as the clerk writes it down."""
    topic, channel, person, people = slot.topic, slot.channel, slot.person, values["people"]
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
    return paragraphs + [demand_text, closing]


def _written(rng: random.Random, slot: Slot, sentences: list[str], demands: list[str]) -> list[str]:
    """The paragraphs of a letter, e-mail, fax or online submission in the petitioner's words."""
    topic, channel, person = slot.topic, slot.channel, slot.person
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
        paragraphs.append(f"{signer}\n{cn_date(written)}")
    return paragraphs
