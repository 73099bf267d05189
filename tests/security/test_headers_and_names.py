"""Issue 15, items 9 and 11: HSTS when cookies are secure (app and the nginx example), and
attachment names without control or bidi characters."""
from __future__ import annotations

from pathlib import Path

import pytest

from records import sealing
from records.accounts.models import User
from records.cases import operations
from records.cases.filenames import clean_filename
from records.cases.operations import Upload
from tests.conftest import letter_data

ROOT = Path(__file__).resolve().parents[2]


def test_hsts_when_cookies_are_secure(settings):
    from app import create_app

    secure = create_app({"XINFANG_SETTINGS": settings.with_(secure_cookies=True), "TESTING": True, "SECRET_KEY": "x"})
    plain = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "x"})
    try:
        hsts = secure.test_client().get("/healthz").headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
        assert "Strict-Transport-Security" not in plain.test_client().get("/healthz").headers
    finally:
        secure.extensions["xinfang"].close()
        plain.extensions["xinfang"].close()


def test_hsts_in_the_nginx_example():
    conf = (ROOT / "docs/deploy/nginx.conf").read_text()
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in conf


@pytest.mark.parametrize("raw,clean", [
    ("scan\x00.pdf", "scan.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("a\u2066b\u2069c\u200b.txt", "abc.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("C:\\Users\\x\\信件.pdf", "信件.pdf"),
    ("\ufeff\u200e", "attachment"),
    ("  spaced   name .pdf ", "spaced name .pdf"),
])
def test_names_are_cleaned(raw, clean):
    assert clean_filename(raw) == clean


def test_a_stored_attachment_name_is_clean(inst, make_user):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        record = operations.register(s, letter_data(), by=s.get(User, clerk.id),
                                     uploads=[Upload("report\u202etxt.exe\x00.txt", b"plain text")])
        att = record.attachments[0]
        name = sealing.open_json(s, record, "attachment-name", att.filename_sealed, att.uid)
        assert name == "reporttxt.exe.txt"
