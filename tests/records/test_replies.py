"""Written replies and notices: real PDFs with a CJK font, read back with pypdf; stored only
encrypted; nothing of the letter in a log."""
from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest
from pypdf import PdfReader

from records.cases import operations, notices as replies, workflow
from records.errors import ConfigurationError
from records.instance import instance_of
from records.models import Record
from records.settings import Settings

D = dt.date


def pdf_text(data: bytes) -> str:
    """All text of a PDF, whitespace removed. pypdf reads the 2-byte codes of a CID-keyed CFF
    font (Noto CJK) through its embedded encoding CMap with a NUL before each character
    (poppler's pdftotext reads the same file cleanly), so NULs go too."""
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


CONTEXT = {
    "serial": "XF-2026-000123", "issuer": "信訪辦公室", "addressee": "王小明", "issued_on": D(2026, 5, 1),
    "received_on": D(2026, 3, 2), "accepted_on": D(2026, 3, 5), "requested_on": D(2026, 5, 20),
    "text": "經查，該公司確有拖欠工資情況，已督促其補發。", "finding": "partly_substantiated",
    "corrective_action": "責令公司十日內補發工資。", "reason": "該事項屬區級部門職責，請向海淀區人力資源和社會保障局反映。",
    "channel": "arbitration", "days": 30, "due_on": D(2026, 5, 31), "window_days": 30,
}


def test_a_reply_is_a_pdf_with_the_serial_and_chinese_text(caplog):
    caplog.set_level(logging.DEBUG)
    lacking = "\U000f0001"   # a private-use character no font draws
    # simplified characters render too (the font is pan-CJK)
    data = replies.render("reply", dict(CONTEXT, text=CONTEXT["text"] + "关于工资问题的答复。" + lacking))
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in ("信訪事項處理意見書", "XF-2026-000123", "王小明：", "2026年3月2日", "2026年3月5日",
                     "您反映的問題部分屬實", "責令公司十日內補發工資", "經查，該公司確有拖欠工資情況", "关于工资问题的答复",
                     "特此答覆", "30日內", "請求複查", "2026年5月1日"):
        assert expected in text, expected
    # fpdf2 would quote the characters it cannot draw: only a count reaches the log
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert lacking not in logged and "拖欠" not in logged and "cannot draw" in logged


@pytest.mark.parametrize("kind,needles", [
    ("direct_answer", ["信訪事項答覆意見書", "現答覆如下", "經查，該公司"]),
    ("not_accepted_outside_authority", ["不屬於本機關職權範圍", "海淀區人力資源和社會保障局", "有權處理的機關"]),
    ("not_accepted_legal_channel", ["仲裁途徑", "勞動人事爭議仲裁委員會申請仲裁"]),
    ("extension_notice", ["延長30日", "2026年5月31日", "延期理由"]),
    ("reply", ["依法受理", "部分屬實", "請求複查"]),
    ("review_reply", ["2026年5月20日提出的複查請求", "請求複核"]),
    ("rereview_reply", ["複核請求", "終結意見", "不再受理"]),
])
def test_every_outcome_has_its_template(kind, needles):
    body, footnote = replies.paragraphs(kind, CONTEXT)
    joined = replies.TEMPLATES[kind].title + "".join(body) + footnote
    for needle in needles:
        assert needle in joined, (kind, needle)


def test_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("XINFANG_CJK_FONT", raising=False)
    monkeypatch.setattr(replies, "FONT_CANDIDATES", ((str(tmp_path / "none.ttc"), "TC"),))
    with pytest.raises(ConfigurationError, match="fonts-noto-cjk"):
        replies.find_font()
    settings = Settings.from_env({"XINFANG_CJK_FONT": str(tmp_path / "nowhere.ttf")}, home=str(tmp_path))
    with pytest.raises(ConfigurationError, match="does not exist"):
        replies.find_font(settings)


def test_the_traditional_chinese_face_of_a_collection_is_chosen():
    font = replies.find_font()
    if font.path.endswith("NotoSansCJK-Regular.ttc"):
        assert font.index == 3   # JP, KR, SC, TC, …


def test_a_notice_is_stored_encrypted_and_downloadable(inst, session, make_user, make_record):
    leader = make_user("leader", oversees=("LDJC",))
    serial = make_record(leader)
    record = session.query(Record).filter_by(serial=serial).one()
    applied = workflow.transition(session, record, "decline_legal_channel", by=leader, reason="arbitration",
                                  note="內部：已電話告知")
    att = applied.document
    assert att.kind == "notice" and att.content_type == "application/pdf"
    stored = instance_of(session).blobs.get(att.uid)
    assert not stored.startswith(b"%PDF") and serial.encode() not in stored
    meta, data = operations.attachment_content(session, record, att.uid, leader)
    assert meta["filename"] == f"不予受理告知書-{serial}.pdf"
    text = pdf_text(data)
    assert serial in text and "仲裁" in text and "王小明" in text
    assert "內部" not in text            # the internal note stays out of the letter
