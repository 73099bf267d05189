"""E-mail import: GB2312 (written in GBK), Big5 and UTF-8 messages with RFC 2047 headers and
attachments; mbox and Maildir; the same Message-ID refused; a wrong charset still registered
with a note; the CLI."""
from __future__ import annotations

import base64
import mailbox
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, make_msgid

import pytest
from sqlalchemy import select

from app.cli import cli
from records.accounts.models import User
from records.cases import operations
from records.errors import Conflict
from records.intake import importing, mail
from records.models import Record


#: What senders really write under a declared charset (GB2312 mail is GBK in practice).
_WRITTEN = {"gb2312": "gbk"}


def _word(text: str, charset: str) -> str:
    """An RFC 2047 encoded word labelled ``charset``, written as senders really do."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(_WRITTEN.get(charset, charset))).decode()}?="


def message(charset: str, *, subject: str, sender: str, body: str, attachments=(), html: bool = False,
            msgid: str | None = None) -> bytes:
    msg = MIMEMultipart()
    msg["Subject"] = _word(subject, charset)
    msg["From"] = formataddr((_word(sender, charset), "citizen@example.cn"))
    msg["To"] = "xinfang@example.gov.cn"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0800"
    msg["Message-ID"] = msgid or make_msgid(domain="example.cn")
    text = MIMEText(body, "html" if html else "plain", _WRITTEN.get(charset, charset))
    text.set_param("charset", charset)
    msg.attach(text)
    for name, data, ctype in attachments:
        part = MIMEApplication(data, _subtype=ctype)
        part.add_header("Content-Disposition", "attachment", filename=(charset, "", name))
        msg.attach(part)
    return msg.as_bytes()


def test_gb2312_big5_and_utf8_messages_decode():
    gb = mail.parse_message(message("gb2312", subject="反映朱镕基路施工噪音", sender="張三",
                                    body="施工噪音擾民，鎔字在GBK。",
                                    attachments=[("附件一.txt", "附件文字".encode(), "octet-stream")]))
    assert gb.subject == "反映朱镕基路施工噪音" and gb.sender_name == "張三" and "鎔字在GBK" in gb.body
    assert [a.filename for a in gb.attachments] == ["附件一.txt"] and not gb.problems
    b5 = mail.parse_message(message("big5", subject="臺灣同胞反映專利問題", sender="李四", body="<p>請協助處理專利糾紛</p>",
                                    html=True))
    assert b5.subject == "臺灣同胞反映專利問題" and b5.body == "請協助處理專利糾紛" and b5.sender_name == "李四"
    u8 = mail.parse_message(message("utf-8", subject="😀 環境問題 ✓", sender="王五", body="河道污染"))
    assert u8.subject == "😀 環境問題 ✓" and u8.body == "河道污染"
    assert u8.date.isoformat() == "2026-03-02T10:00:00+08:00"


def test_a_wrong_charset_is_noted_not_fatal():
    raw = message("utf-8", subject="標題", sender="趙六", body="x")
    raw = raw.replace(b'charset="utf-8"', b'charset="us-ascii"', 1)  # body really UTF-8 in base64
    parsed = mail.parse_message(raw.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 8bit", 1)
                                .replace(b"eA==", "污水".encode("gbk") + b"\xff\xff"))
    assert parsed.problems and "character set" in parsed.problems[0]


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


def _import(inst, clerk, raw, **kw):
    with inst.unit_of_work() as s:
        return importing.import_message(s, raw, by=s.get(User, clerk.id), region="110108", **kw).serial


def test_import_registers_an_email_letter_and_refuses_the_same_message_id(inst, clerk):
    raw = message("gb2312", subject="反映拖欠工資", sender="張三", body="公司拖欠工資三個月。",
                  attachments=[("证明.txt", "工資條".encode("gbk"), "octet-stream")])
    serial = _import(inst, clerk, raw)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        user = s.get(User, clerk.id)
        view = operations.view(s, record, user)
        assert record.channel == "email"
        assert view.content["subject"] == "反映拖欠工資" and view.content["body"] == "公司拖欠工資三個月。"
        assert view.petitioner["name"]
        assert sorted(a["kind"] for a in view.attachments) == ["email", "scan"]
        assert record.received_at.isoformat().startswith("2026-03-02T02:00")
    with pytest.raises(Conflict, match=f"already registered as {serial}"):
        _import(inst, clerk, raw)


def test_mbox_and_maildir_through_the_cli(app, inst, clerk, tmp_path, runner):
    one = message("big5", subject="信件一", sender="甲", body="內容一")
    two = message("utf-8", subject="信件二", sender="乙", body="內容二")
    box = mailbox.mbox(tmp_path / "in.mbox")
    box.add(one)
    box.add(two)
    box.close()
    result = runner.invoke(cli, ["intake", "mail", str(tmp_path / "in.mbox"), "--as", clerk.username,
                                 "--region", "110108"])
    assert result.exit_code == 0, result.output
    assert result.output.count("registered as XF-") == 2
    md = mailbox.Maildir(tmp_path / "Maildir", create=True)
    md.add(one)  # already imported from the mbox
    md.add(message("gb2312", subject="信件三", sender="丙", body="內容三"))
    md.close()
    result = runner.invoke(cli, ["intake", "mail", str(tmp_path / "Maildir"), "--as", clerk.username,
                                 "--region", "110108"])
    assert result.exit_code == 0, result.output
    assert "refused: This e-mail (same Message-ID) was already registered" in result.output
    assert "1 of 2 message(s) registered" in result.output


def test_import_needs_the_register_permission(inst, make_user):
    inspector = make_user("inspector")
    from records.errors import AccessDenied

    with pytest.raises(AccessDenied):
        _import(inst, inspector, message("utf-8", subject="s", sender="x", body="b"))


def test_a_refused_message_in_a_savepoint_keeps_the_others_files(inst, clerk):
    """The upload form imports each message of an mbox in a savepoint: a duplicate rolled
    back must not take the files of the message registered before it in the same request."""
    first = message("utf-8", subject="第一封", sender="甲", body="內容", attachments=[("a.txt", "附件".encode(), "x")])
    _import(inst, clerk, dup := message("utf-8", subject="重複", sender="乙", body="內容"))
    with inst.unit_of_work() as s:
        user = s.get(User, clerk.id)
        with s.begin_nested():
            record = importing.import_message(s, first, by=user, region="110108")
        with pytest.raises(Conflict):
            with s.begin_nested():
                importing.import_message(s, dup, by=user, region="110108")
        uids = [a.uid for a in record.attachments]
    assert len(uids) == 2 and all(inst.blobs.exists(u) for u in uids)
