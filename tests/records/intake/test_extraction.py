"""Text out of attachments: a scan recognised in the job runner, sealed, blind-indexed and
found by search (highlighted, with the "in attachments" facet); text documents read
directly; bad input refused with a clear message while the letter stays registered."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.cases import operations
from records.cases.operations import Upload
from records.intake import extract
from records.intake import operations as intake
from records.intake.models import AttachmentText
from records.jobs import runner as jobs
from records.jobs.models import Job
from records.models import Record
from search import indexer, query

from tests.conftest import plan_of

from .pages import encode, page, pdf_of_images, tiff

PHRASE = "專利獎勵未發放"


def _register(inst, make_record, clerk, uploads, **fields):
    return make_record(clerk, uploads=uploads, **fields)


def _run(inst):
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    indexer.drain(inst)


def _texts(inst, serial):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return {uid: st for uid, st in intake.statuses(s, record).items()}, record.id


def test_a_scanned_letter_is_recognised_found_and_highlighted(inst, make_user, make_record):
    clerk = make_user("clerk")
    scan = page(["科技局信訪辦公室：", f"本人反映{PHRASE}一事，", "請予核查。"], skew=2.0, noise=True)
    serial = make_record(clerk, uploads=[Upload("掃描件.jpg", encode(scan, "JPEG", quality=70))],
                         body="見附件掃描件。", subject="來信")
    statuses, record_id = _texts(inst, serial)
    (status,) = statuses.values()
    assert status.status == "pending" and status.job_status == "queued"
    _run(inst)
    statuses, _ = _texts(inst, serial)
    (status,) = statuses.values()
    assert (status.status, status.method, status.pages_done, status.pages_total) == ("done", "ocr", 1, 1)
    assert status.job_status == "done"

    with inst.unit_of_work() as s:
        user = s.get(User, clerk.id)
        # Simplified query finds the Traditional scan; the passage comes from the attachment
        found = query.search(s, user, "专利奖励")
        assert serial in [h.record.serial for h in found.hits]
        hit = next(h for h in found.hits if h.record.serial == serial)
        assert "<mark>" in str(hit.attachment_html) and "獎勵" in str(hit.attachment_html)
        assert found.facets["in"]["attachments"] >= 1
        # the facet: only where the attachments say it
        only = query.search(s, user, "专利奖励", params={"in": "attachments"})
        assert serial in [h.record.serial for h in only.hits]
        assert query.search(s, user, "見附件掃描件", params={"in": "attachments"}).total == 0
        assert serial in [h.record.serial for h in query.search(s, user, "見附件掃描件").hits]

        record = s.get(Record, record_id)
        uid = record.attachments[0].uid
        info, pages = intake.attachment_text(s, record, uid, user)
        assert PHRASE in "".join(pages[0].split()) and info["filename"] == "掃描件.jpg"


def test_text_documents_give_their_text(inst, make_user, make_record):
    clerk = make_user("clerk")
    docx = io.BytesIO()
    body = ('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            '<w:body><w:p><w:r><w:t>文檔裡的</w:t></w:r><w:r><w:t>鐵路噪音問題</w:t></w:r></w:p></w:body></w:document>')
    with zipfile.ZipFile(docx, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", body)
    text = "純文本附件：河湖排污問題\n".encode("gb18030")
    pdf = _text_pdf("PDF layer text about riverbank pollution complaints")
    serial = make_record(clerk, uploads=[Upload("a.docx", docx.getvalue()), Upload("b.txt", "純文本附件：河湖排污問題".encode()),
                                          Upload("c.pdf", pdf)])
    _run(inst)
    statuses, _ = _texts(inst, serial)
    assert sorted((s.status, s.method) for s in statuses.values()) == [("done", "text")] * 3
    with inst.unit_of_work() as s:
        user = s.get(User, clerk.id)
        for q in ("鐵路噪音", "河湖排污", "riverbank pollution"):
            assert serial in [h.record.serial for h in query.search(s, user, q, params={"in": "attachments"}).hits], q
    assert "河湖排污" in extract.decode_text(text)


def _text_pdf(line: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=line)
    return bytes(pdf.output())


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<a>" + b"0" * (60 * 1024 * 1024) + b"</a>")
    return buf.getvalue()


def _png_bomb() -> bytes:
    from PIL import Image

    return encode(Image.new("1", (20000, 20000), 1), "PNG")


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(_text_pdf("secret")))
    writer = PdfWriter()
    for p in reader.pages:
        writer.add_page(p)
    writer.encrypt("pw")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _many_pages() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(500):
        pdf.add_page()
    return bytes(pdf.output())


BAD = {
    "corrupt image": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "damaged"),
    "corrupt pdf": (lambda: b"%PDF-1.4\n" + b"garbage" * 50, "damaged"),
    "zip bomb": (_zip_bomb, "zip bomb"),
    "decompression bomb": (_png_bomb, "decompression bomb"),
    "encrypted pdf": (_encrypted_pdf, "encrypted"),
    "500-page scan": (_many_pages, "500 pages"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_fails_clearly_and_the_letter_stays(inst, make_user, make_record, name):
    make, words = BAD[name]
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("bad", make())])
    _run(inst)
    statuses, record_id = _texts(inst, serial)
    (status,) = statuses.values()
    assert status.status == "failed" and words in status.error
    assert status.job_status == "failed" and words in status.job_error
    with inst.unit_of_work() as s:
        record = s.get(Record, record_id)
        assert record.status == "registered" and len(record.attachments) == 1
        assert operations.document(s, record)["subject"]


def test_wrong_charset_text_is_refused_by_name():
    with pytest.raises(extract.ExtractionError, match="character set"):
        extract.decode_text(b"\x81\x20\xff\xfe\x80\x80")


def test_multi_page_tiff_and_image_pdf(inst, make_user, make_record):
    clerk = make_user("clerk")
    pages = [page([f"第{n}頁", f"第{n}頁的內容河湖排污"], size=28, width=500) for n in (1, 2)]
    serial = make_record(clerk, uploads=[Upload("t.tif", tiff(pages)), Upload("p.pdf", pdf_of_images(pages))])
    _run(inst)
    statuses, record_id = _texts(inst, serial)
    assert sorted((s.status, s.method, s.pages_done) for s in statuses.values()) == [("done", "ocr", 2)] * 2
    with inst.unit_of_work() as s:
        record = s.get(Record, record_id)
        user = s.get(User, clerk.id)
        for att in record.attachments:
            _, texts = intake.attachment_text(s, record, att.uid, user)
            assert "第2頁" in texts[1]
    with inst.unit_of_work() as s:
        assert s.execute(select(Job).where(Job.record_id == record_id)).scalars().all()
        assert all(r.pages_sealed and "河湖".encode() not in r.pages_sealed
                   for r in s.execute(select(AttachmentText).where(AttachmentText.record_id == record_id)).scalars())


def test_whether_any_attachment_has_text_is_one_probe_of_an_index(inst):
    """Every search asks it; with many attachments still waiting for text it must not read them all."""
    plan = plan_of(inst, intake.any_text, "SELECT attachment_texts.id")
    assert "ix_attachment_texts_with_pages" in plan, plan
