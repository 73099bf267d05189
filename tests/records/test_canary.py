"""Issue 2's canary test: letter text never reaches disk or a log in plaintext.

Records are registered through the JSON API (with a token), the web form (with an
attachment) and ``operations.register``; each field a person wrote or said carries a unique
canary (CJK and ASCII). One record is corrected (so sealed history exists), one is corrected
through the web form with a reason, and validation errors are provoked with canary content.
Then every file under the instance folder (database, -wal, -shm, blobs, keys, index, logs)
is scanned for every canary in UTF-8, UTF-16-LE, GB18030 and Big5, first with the
engines open (WAL in use), then after they are closed (WAL checkpointed): zero hits. The
captured log output carries none either.
"""
from __future__ import annotations

import io
import logging
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from records.cases import operations
from records.identity import id_check_char
from records.models import Record
from records.accounts.models import User
from records.cases.operations import Upload
from tests.conftest import api_letter, letter_data, login


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


ENCODINGS = ("utf-8", "utf-16-le", "gb18030", "big5")

#: Common characters written the same in Traditional and Simplified Chinese (so each is in
#: Big5 and in GB2312); canaries drawn from them can be searched in all four encodings.
_SHARED = ("山水木火土日月風雲花草魚鳥馬牛羊雨雪春夏秋冬東南西北高明江河湖海石田林森天地人口手足"
           "心目耳金銀米竹豆果茶酒油鹽布衣帽針線紙筆墨硯琴棋書畫詩酒歌舞松柏梅蘭菊桃李杏")
_TRAD_ONLY = "臺灣廣東憂鬱體驗藝術麵條鐵路隨機錶帶閱讀聽說變遷"
_SIMP_ONLY = "台湾广东忧郁体验艺术面条铁路随机表带阅读听说变迁"


def _encodable(ch: str, *encodings: str) -> bool:
    try:
        for enc in encodings:
            ch.encode(enc)
        return True
    except UnicodeEncodeError:
        return False


SHARED_POOL = [c for c in _SHARED if _encodable(c, "big5", "gb2312")]


@dataclass
class Canaries:
    values: dict[str, str] = field(default_factory=dict)

    def ascii(self, label: str) -> str:
        value = f"CNRY{label}{secrets.token_hex(8)}"
        self.values[f"{label}/ascii"] = value
        return value

    def cjk(self, label: str, pool: str | list[str] | None = None) -> str:
        rnd = random.SystemRandom()
        value = "".join(rnd.choice(pool or SHARED_POOL) for _ in range(10))
        self.values[f"{label}/cjk"] = value
        return value

    def digits(self, label: str, value: str) -> str:
        self.values[f"{label}/digits"] = value
        return value

    def text(self, label: str) -> str:
        """A field value carrying both a CJK and an ASCII canary."""
        return f"{self.cjk(label)} 反映 {self.ascii(label)}"


def _id_number() -> str:
    rnd = random.SystemRandom()
    first17 = (f"1101{rnd.randint(1, 99):02d}19{rnd.randint(50, 99)}{rnd.randint(1, 12):02d}"
               f"{rnd.randint(1, 28):02d}{rnd.randint(0, 999):03d}")
    return first17 + id_check_char(first17)


def _phone() -> str:
    return "13" + "".join(random.SystemRandom().choice("0123456789") for _ in range(9))


def _petitioner(c: Canaries, label: str) -> dict:
    return {
        "name": c.cjk(f"{label}-name"),
        "id_number": c.digits(f"{label}-id", _id_number()),
        "phone": c.digits(f"{label}-phone", _phone()),
        "address": c.text(f"{label}-address"),
    }


def _attachment_bytes(c: Canaries, label: str) -> tuple[bytes, bytes]:
    """A text scan (UTF-8) and a 'PNG' whose bytes hold a canary in every encoding."""
    text_ = f"掃描件 {c.text(label + '-att-text')}\n".encode()
    cjk = c.cjk(label + "-att-png")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"".join(cjk.encode(e) + b"\x00" for e in ENCODINGS)
    return text_, png


def _scan(home: Path, canaries: Canaries) -> tuple[list[tuple[str, str, str]], int, set[str]]:
    files = [p for p in home.rglob("*") if p.is_file()]
    contents = {str(p.relative_to(home)): p.read_bytes() for p in files}
    hits, searched_encodings = [], set()
    for label, value in canaries.values.items():
        for enc in ENCODINGS:
            try:
                needle = value.encode(enc)
            except UnicodeEncodeError:
                continue
            searched_encodings.add(enc)
            for name, data in contents.items():
                if needle in data:
                    hits.append((label, enc, name))
    return hits, len(files), searched_encodings


def test_no_canary_reaches_disk_or_logs(app, inst, settings, make_user, api_token, caplog):
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy pins its own logger at WARN; open it up so every statement and its
    # parameters are captured too.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    c = Canaries()
    clerk = make_user("clerk")
    leader = make_user("leader", oversees=("LDJC",))
    serials = []

    # 1. through the JSON API with a token, plus an attachment sent afterwards
    client = app.test_client()
    h = {"Authorization": f"Bearer {api_token(clerk)}"}
    for channel in ("email", "online"):
        data = api_letter(channel=channel, subject=c.text(f"api-{channel}-subject"),
                          body=c.text(f"api-{channel}-body") + "\n" + c.ascii(f"api-{channel}-body2"),
                          notes=c.text(f"api-{channel}-notes"), petitioner=_petitioner(c, f"api-{channel}"))
        r = client.post("/api/v1/records", json=data, headers=h)
        assert r.status_code == 201, r.get_json()
        serials.append(r.get_json()["serial"])
    text_, png = _attachment_bytes(c, "api")
    r = client.post(f"/api/v1/records/{serials[0]}/attachments", headers=h, content_type="multipart/form-data",
                    data={"file": [(io.BytesIO(text_), f"{c.cjk('api-fn1')}_{c.ascii('api-fn1')}.txt"),
                                   (io.BytesIO(png), f"{c.cjk('api-fn2')}.png")]})
    assert r.status_code == 201, r.get_json()

    # 2. through the web form, with attachments
    web = app.test_client()
    assert login(web, clerk.username).status_code == 302
    pet = _petitioner(c, "web")
    text_, png = _attachment_bytes(c, "web")
    r = web.post("/records/new", content_type="multipart/form-data", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": "visit", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "people_count": "3", "subject": c.text("web-subject"), "body": c.text("web-body"),
        "notes": c.text("web-notes"),
        "petitioner_name": pet["name"], "petitioner_id_number": pet["id_number"],
        "petitioner_phone": pet["phone"], "petitioner_address": pet["address"],
        "attachments": [(io.BytesIO(text_), f"{c.ascii('web-fn1')}.txt"),
                        (io.BytesIO(png), f"{c.cjk('web-fn2')}{c.ascii('web-fn2')}.png")],
    })
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    serials.append(r.headers["Location"].rsplit("/", 1)[-1])

    # 3. through operations.register, then corrected so sealed history exists
    text_, png = _attachment_bytes(c, "ops")
    with inst.unit_of_work() as s:
        by = s.get(User, clerk.id)
        record = operations.register(
            s, letter_data(channel="fax", subject=c.text("ops-subject"), body=c.text("ops-body"),
                           notes=c.text("ops-notes"), petitioner=_petitioner(c, "ops")),
            by=by, uploads=[Upload(f"{c.cjk('ops-fn1')}.txt", text_), Upload(f"{c.ascii('ops-fn2')}.png", png)])
        serials.append(record.serial)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serials[-1])).scalar_one()
        operations.correct(s, record, {"subject": c.text("ops-corrected-subject"),
                                       "notes": c.text("ops-corrected-notes"),
                                       "petitioner": _petitioner(c, "ops-corrected")},
                           by=s.get(User, leader.id), reason=c.text("ops-reason"))

    # 4. a correction through the web form, with a reason
    edit = {
        "channel": "visit", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "people_count": "3", "subject": c.text("webedit-subject"), "body": c.text("webedit-body"),
        "notes": "", "petitioner_name": c.cjk("webedit-name"), "petitioner_id_number": "",
        "petitioner_phone": "", "petitioner_address": "", "reason": c.text("webedit-reason"),
    }
    r = web.post(f"/records/{serials[2]}/edit", data=edit)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]

    # 5. validation errors carrying canary content: refused, and never logged or stored
    r = client.post("/api/v1/records", headers=h,
                    json=api_letter(channel="pigeon", subject=c.text("bad-api-subject"),
                                     petitioner={"name": c.cjk("bad-api-name")}))
    assert r.status_code == 422
    r = client.post("/api/v1/records", headers=h,
                    json=api_letter(body=c.text("bad-api-body"), people_count=0,
                                     petitioner={"id_number": "110108199001011230"}))
    assert r.status_code == 422
    r = web.post("/records/new", data={
        "channel": "letter", "received_at": "yesterday", "region": "110108", "category": "labour_wages",
        "subject": c.text("bad-web-subject"), "body": c.text("bad-web-body"),
        "petitioner_name": c.cjk("bad-web-name"), "petitioner_phone": "not a phone"})
    assert r.status_code == 422
    r = web.post("/records/new", content_type="multipart/form-data", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "subject": c.text("bad-type-subject"), "body": c.text("bad-type-body"),
        "attachments": [(io.BytesIO(b"PK\x03\x04" + c.ascii("bad-type-zip").encode() + bytes(range(256))),
                         f"{c.cjk('bad-type-fn')}.zip")]})
    assert r.status_code == 422
    with inst.unit_of_work() as s:
        try:
            operations.register(s, letter_data(subject=c.text("bad-ops-subject") + "\x07",
                                               body=c.text("bad-ops-body")), by=s.get(User, clerk.id))
        except operations.ValidationError:
            pass
        else:
            raise AssertionError("a control character was accepted")

    # 6. reads: the record page, the API, the ledger, attachment downloads
    for serial in serials:
        assert web.get(f"/records/{serial}").status_code == 200
        body = client.get(f"/api/v1/records/{serial}", headers=h).get_json()
        assert body["content"] is not None
        for att in body["attachments"]:
            assert client.get(att["url"], headers=h).status_code == 200
    page = web.get("/ledger").get_data(as_text=True)
    assert c.values["webedit-subject/ascii"] in page   # the clerk reads their own subjects (sanity)
    assert web.get(f"/records/{serials[3]}/versions/1").status_code == 200
    assert web.get(f"/records/{serials[2]}/versions/1").status_code == 200

    assert len(c.values) > 60
    home = settings.home

    # 7a. engines open: the WAL holds the latest pages
    hits, nfiles, encs = _scan(home, c)
    assert encs == set(ENCODINGS)
    if settings.is_sqlite:
        assert (home / "xinfang.sqlite3-wal").exists(), "expected the WAL to be in use while engines are open"
        assert nfiles >= 6
    assert hits == [], f"plaintext found on disk (engines open): {hits[:10]}"

    # 7b. engines closed: the WAL is checkpointed into the database
    app.extensions["xinfang"].close()
    inst.close()
    hits, _, _ = _scan(home, c)
    if settings.is_sqlite:
        assert not (home / "xinfang.sqlite3-wal").exists() or \
            (home / "xinfang.sqlite3-wal").stat().st_size == 0
    assert hits == [], f"plaintext found on disk (engines closed): {hits[:10]}"

    # 8. nothing in the log output either
    log_text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    leaked = [label for label, value in c.values.items() if value in log_text]
    assert leaked == [], f"canaries in the log output: {leaked}"


def test_canaries_are_searched_in_every_encoding_they_fit():
    """The scanner itself: shared characters fit all four encodings, Simplified-only ones skip Big5."""
    assert len(SHARED_POOL) > 40
    c = Canaries()
    c.cjk("shared")
    c.cjk("trad", _TRAD_ONLY)
    c.cjk("simp", _SIMP_ONLY)
    fits = {label: [e for e in ENCODINGS if _encodable(v, e)] for label, v in c.values.items()}
    assert fits["shared/cjk"] == list(ENCODINGS)
    assert fits["trad/cjk"] == list(ENCODINGS)
    assert "big5" not in fits["simp/cjk"] and "gb18030" in fits["simp/cjk"]


def test_scanner_finds_a_planted_canary(tmp_path):
    """A planted canary in any encoding is found, so zero hits above means something."""
    c = Canaries()
    value = c.cjk("planted")
    for i, enc in enumerate(ENCODINGS):
        (tmp_path / f"f{i}").write_bytes(b"\x00junk" + value.encode(enc) + b"junk")
    hits, nfiles, _ = _scan(tmp_path, c)
    assert nfiles == 4 and {h[1] for h in hits} == set(ENCODINGS)
