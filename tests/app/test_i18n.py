"""The three UI languages: Traditional Chinese by default, Simplified Chinese, English; the
switcher; and the catalogue build (``python -m app.translations.build``)."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from app.translations import build
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]


def _page(client, path: str, **headers) -> str:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def _switch_link(page: str, code: str) -> str:
    m = re.search(r'<nav class="langs".*?</nav>', page, re.DOTALL)
    assert m, "no language switcher"
    link = re.search(rf'href="([^"]*/lang/{code}\?[^"]*)"', m.group(0))
    assert link, f"no link to {code}"
    return html.unescape(link.group(1))


# -- the login page -----------------------------------------------------------------
def test_login_page_defaults_to_traditional_chinese(client):
    page = _page(client, "/login")
    assert '<html lang="zh-Hant">' in page
    assert "登入" in page and "用戶名" in page and "密碼" in page and "信訪記錄系統" in page
    assert "Sign in" not in page and "User name" not in page


def test_login_page_follows_accept_language(client):
    hans = _page(client, "/login", **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-Hans">' in hans
    assert "登录" in hans and "用户名" in hans and "密码" in hans and "信访记录系统" in hans
    assert "登入" not in hans

    assert "登入" in _page(client, "/login", **{"Accept-Language": "zh-TW"})
    assert "Sign in" in _page(client, "/login", **{"Accept-Language": "en-GB,en;q=0.8"})


def test_language_switch_to_english_and_back(client):
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    page = _page(client, "/login", **{"Accept-Language": "zh-CN"})  # the choice beats the header
    assert '<html lang="en">' in page and "Sign in" in page and "User name" in page and "登入" not in page
    client.get("/lang/zh_Hant?next=/login")
    assert "登入" in _page(client, "/login")


def test_unknown_language_and_offsite_next_are_ignored(client):
    r = client.get("/lang/xx?next=//evil.example/")
    assert r.status_code == 302
    assert "evil.example" not in r.headers["Location"]
    assert "登入" in _page(client, "/login")


def test_wrong_password_message_is_translated(client, make_user):
    user = make_user("clerk")
    client.get("/lang/zh_Hans")
    r = login(client, user.username, "not-the-password")
    assert r.status_code == 401
    assert "用户名或密码错误。" in r.get_data(as_text=True)


# -- a clerk's pages in every language ------------------------------------------------
@pytest.fixture
def clerk_client(client, make_user, make_record):
    clerk = make_user("clerk")
    make_record(by=clerk)
    assert login(client, clerk.username).status_code == 302
    return client


EXPECTED = {
    "zh_Hant": {"ledger": ["信訪臺帳", "登記來信", "登記來訪", "編號", "信訪方式", "登出", "來信", "勞動工資"],
                "register": ["登記來信或來訪", "首問責任人", "身份證號碼", "信訪人姓名", "電子郵件", "網上信訪", "傳真"],
                "absent": ["Petition ledger", "Sign out", "First responder"]},
    "zh_Hans": {"ledger": ["信访台账", "登记来信", "登记来访", "编号", "信访方式", "退出登录", "来信", "劳动工资"],
                "register": ["登记来信或来访", "首问责任人", "身份证号码", "信访人姓名", "电子邮件", "网上信访", "传真"],
                "absent": ["信訪臺帳", "Petition ledger", "Sign out", "首問責任人"]},
    "en": {"ledger": ["Petition ledger", "Register a letter", "Register a visit", "Serial", "Channel", "Sign out",
                      "Labour and wages"],
           "register": ["Register a letter or visit", "First responder", "ID number", "Scanned letter or other attachments",
                        "E-mail", "Online", "Fax"],
           "absent": ["信訪臺帳", "登記來信", "首問責任人"]},
}


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans", "en"])
def test_ledger_and_registration_pages_in_each_language(clerk_client, locale):
    clerk_client.get(f"/lang/{locale}")
    ledger = _page(clerk_client, "/ledger")
    register = _page(clerk_client, "/records/new")
    want = EXPECTED[locale]
    for text in want["ledger"]:
        assert text in ledger, (locale, text)
    for text in want["register"]:
        assert text in register, (locale, text)
    for text in want["absent"]:
        assert text not in ledger and text not in register, (locale, text)


def test_switcher_keeps_the_user_on_the_same_page(clerk_client):
    page = _page(clerk_client, "/ledger?channel=letter")
    assert "信訪臺帳" in page
    r = clerk_client.get(_switch_link(page, "en"))
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/ledger?channel=letter")
    english = _page(clerk_client, r.headers["Location"])
    assert "Petition ledger" in english

    r = clerk_client.get(_switch_link(_page(clerk_client, "/records/new"), "zh_Hans"))
    assert r.headers["Location"].endswith("/records/new")
    assert "登记来信或来访" in _page(clerk_client, r.headers["Location"])


@pytest.mark.parametrize("locale, required, summary", [
    ("zh_Hant", "此項為必填。", "請更正標出的項目。"),
    ("zh_Hans", "此项为必填。", "请更正标出的项目。"),
    ("en", "This field is required.", "Please correct the marked fields."),
])
def test_validation_messages_from_the_core_are_translated(clerk_client, locale, required, summary):
    clerk_client.get(f"/lang/{locale}")
    r = clerk_client.post("/records/new", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "people_count": "1", "subject": "", "body": "內容",
    })
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert required in page and summary in page


@pytest.mark.parametrize("locale, text", [("zh_Hant", "查無此件。"), ("zh_Hans", "查无此件。"), ("en", "No such record.")])
def test_error_page_is_translated(clerk_client, locale, text):
    clerk_client.get(f"/lang/{locale}")
    r = clerk_client.get("/records/XF-2001-999999")
    assert r.status_code == 404
    assert text in r.get_data(as_text=True)


# -- the build ------------------------------------------------------------------------
def test_check_passes_for_the_repository():
    result = subprocess.run([sys.executable, "-m", "app.translations.build", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: all" in result.stdout


def test_check_reports_a_new_untranslated_string(monkeypatch):
    real = build.template_catalog

    def with_new_string():
        template = real()
        template.add("A string a developer just added", locations=[("app/new.py", None)])
        return template

    monkeypatch.setattr(build, "template_catalog", with_new_string)
    lines = []
    assert build.check(log=lines.append) == 1
    assert any("A string a developer just added" in line and "app/new.py" in line for line in lines)


def test_broken_placeholders_are_refused():
    catalog = Catalog(locale="zh_Hant")
    catalog.add("Registered as %(serial)s.", "已登記。")
    catalog.add("Page %(p)s of %(n)s", "第 %(p)s 頁，共 %(n)s 頁")
    catalog.add("Done.", "完成 100%。")
    problems = build.translation_problems(catalog)
    assert any("Registered as" in p for p in problems)
    assert any("Done." in p for p in problems)
    assert not any("Page %(p)s" in p for p in problems)


def test_core_messages_are_collected():
    messages = {m for m, _where in build.collect_error_messages()}
    assert {"No such record.", "This field is required.",
            "Unknown region code: not in the national list of administrative divisions (GB/T 2260).",
            "You are not allowed to do this.", "Not found."} <= messages
    assert not any("{" in m for m in messages)  # f-strings are not msgids


def test_simplified_conversion_uses_mainland_terms():
    assert build.to_simplified("信訪臺帳") == "信访台账"
    assert build.to_simplified("網上信訪") == "网上信访"
    assert build.to_simplified("請先登入。") == "请先登录。"
    assert build.to_simplified("身分證號碼") == "身份证号码"
    assert build.to_simplified("檔案管理員上傳的檔案") == "档案管理员上传的文件"
    assert build.to_simplified("第 %(n)s 版") == "第 %(n)s 版"


def test_ensure_compiled_builds_only_when_stale(tmp_path, monkeypatch):
    here = tmp_path / "app" / "translations"
    src = here / "zh_Hant" / "LC_MESSAGES"
    src.mkdir(parents=True)
    shutil.copy(build._po_path("zh_Hant"), src / "messages.po")
    monkeypatch.setattr(build, "HERE", here)
    monkeypatch.setattr(build, "ROOT", tmp_path)

    assert build.ensure_compiled() is True
    outputs = [build._mo_path("zh_Hant"), build._po_path("zh_Hans"), build._mo_path("zh_Hans")]
    assert all(p.is_file() for p in outputs)
    assert "台账" in outputs[1].read_text(encoding="utf-8")
    assert build.ensure_compiled() is False

    newer = max(p.stat().st_mtime for p in outputs) + 5
    os.utime(src / "messages.po", (newer, newer))
    assert build.ensure_compiled() is True
    assert build.ensure_compiled() is False


def test_build_is_idempotent_and_says_what_it_wrote(tmp_path, monkeypatch):
    here = tmp_path / "app" / "translations"
    (here / "zh_Hant" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(build._po_path("zh_Hant"), here / "zh_Hant" / "LC_MESSAGES" / "messages.po")
    monkeypatch.setattr(build, "HERE", here)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    first, second = [], []
    assert len(build.build(log=first.append)) == 3
    assert build.build(log=second.append) == []
    assert sum(line.startswith("wrote") for line in first) == 3
    assert all(line.startswith("up to date") for line in second)
