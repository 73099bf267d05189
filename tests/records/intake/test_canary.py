"""The canary scan after OCR and e-mail import: no recognised text, no e-mail subject or
body, no attachment name reaches any file of the instance folder (database, WAL, blobs,
index, keys) or the log, in UTF-8, UTF-16-LE, GB18030 or Big5."""
from __future__ import annotations

import logging
import random
import secrets

from sqlalchemy import select

from records.accounts.models import User
from records.cases.operations import Upload
from records.intake import importing
from records.intake import operations as intake
from records.jobs import runner as jobs
from records.models import Record
from search import indexer, query

from .pages import encode, page
from .test_mail import message

ENCODINGS = ("utf-8", "utf-16-le", "gb18030", "big5")
#: Characters written alike in both scripts, in GB2312 and Big5, that OCR reads reliably.
POOL = "山水木火土日月風雲花草魚鳥馬牛羊雨雪春夏秋冬東南西北高明江河湖海石田林森天地人口手足心目耳金米竹豆果茶酒油布衣帽紙筆"


def _cjk(n: int = 8) -> str:
    rnd = random.SystemRandom()
    return "".join(rnd.choice(POOL) for _ in range(n))


def _hits(home, canaries: dict[str, str], log_text: str) -> list[tuple[str, str, str]]:
    contents = {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}
    contents["<log>"] = log_text.encode("utf-8")
    hits = []
    for label, value in canaries.items():
        for enc in ENCODINGS:
            try:
                needle = value.encode(enc)
            except UnicodeEncodeError:
                continue
            hits += [(label, enc, name) for name, data in contents.items() if needle in data]
    return hits


def test_no_recognised_text_mail_body_or_attachment_name_on_disk(inst, settings, make_user, make_record, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    clerk = make_user("clerk")
    scan_line = _cjk(10)
    scan_name = f"{_cjk(6)}.png"
    serial = make_record(clerk, uploads=[Upload(scan_name, encode(page([scan_line, _cjk(10)], size=32)))])
    canaries = {"scan-name": scan_name[:-4]}

    subject, body, att_name, att_text = _cjk(), _cjk(12), _cjk(6), _cjk(10)
    canaries.update({"mail-subject": subject, "mail-body": body, "mail-attachment-name": att_name,
                     "mail-attachment-text": att_text, "mail-id": f"cnry{secrets.token_hex(6)}"})
    raw = message("big5", subject=subject, sender="陳先生", body=body, msgid=f"<{canaries['mail-id']}@example.cn>",
                  attachments=[(f"{att_name}.txt", att_text.encode("big5"), "octet-stream")])
    with inst.unit_of_work() as s:
        mail_serial = importing.import_message(s, raw, by=s.get(User, clerk.id), region="110108").serial

    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    indexer.drain(inst)

    with inst.unit_of_work() as s:
        user = s.get(User, clerk.id)
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        _, pages = intake.attachment_text(s, record, record.attachments[0].uid, user)
        recognised = [line for line in pages[0].splitlines() if len(line) >= 4]
        assert recognised, "the scan should have been recognised"
        canaries.update({f"recognised-{i}": line for i, line in enumerate(recognised)})
        # what is sealed is also searchable: the scan's first line, the mail's attachment
        assert serial in [h.record.serial for h in query.search(s, user, recognised[0][:4]).hits]
        assert mail_serial in [h.record.serial for h in
                               query.search(s, user, att_text[:4], params={"in": "attachments"}).hits]
        assert mail_serial in [h.record.serial for h in query.search(s, user, body[:6]).hits]

    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert _hits(settings.home, canaries, log_text) == []
    inst.db.dispose()  # WAL checkpointed into the main file: still nothing
    assert _hits(settings.home, canaries, log_text) == []
