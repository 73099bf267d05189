"""Reference names in the page's script (issue 18): offices, regions and people's names are
shown in Simplified on 简体中文 pages and in Traditional on 繁體中文 pages, whichever script
they were entered in; a region's stored Simplified name is used as it is (app/labels.py)."""
from __future__ import annotations

import re

import pytest

from records.accounts.models import User
from records.reference.models import Office
from tests.conftest import login, unique


def _page(client, path: str, lang: str) -> str:
    client.get(f"/lang/{lang}")
    return client.get(path).get_data(as_text=True)


def _who(html: str) -> str:
    return re.search(r'<a class="who" href="[^"]+">([^<]+)</a>', html).group(1)


@pytest.fixture
def office(inst):
    """make an internal office named ``name`` (as typed) -> its code."""
    def _make(name: str) -> str:
        code = unique("SC").upper()[:20]
        with inst.unit_of_work() as s:
            s.add(Office(code=code, name=name, is_external=False, is_intake=False, active=True))
        return code
    return _make


def _rename(inst, user, display_name: str) -> None:
    with inst.unit_of_work() as s:
        s.get(User, user.id).display_name = display_name


def test_office_and_name_entered_in_traditional_read_simplified_on_zh_hans(client, inst, make_user, office):
    code = office("信訪辦公室聯絡組")
    handler = make_user("handler", office=code)
    _rename(inst, handler, "張敏")
    login(client, handler.username)
    who = _who(_page(client, "/account", "zh_Hans"))
    assert "信访办公室联络组" in who and "张敏" in who and "信訪" not in who
    who = _who(_page(client, "/account", "zh_Hant"))
    assert "信訪辦公室聯絡組" in who and "張敏" in who
    assert "信訪辦公室聯絡組" in _who(_page(client, "/account", "en"))  # English: as entered


def test_office_entered_in_simplified_reads_traditional_on_zh_hant(client, inst, make_user, office):
    code = office("劳动监察联络组")
    leader = make_user("leader", oversees=(code,))
    handler = make_user("handler", office=code)
    _rename(inst, handler, "陈静")
    login(client, handler.username)
    who = _who(_page(client, "/account", "zh_Hant"))
    assert "勞動監察聯絡組" in who and "陳靜" in who
    assert "劳动监察联络组" in _who(_page(client, "/account", "zh_Hans"))
    # the board's office filter lists it in the page's script too
    other = client.application.test_client()
    login(other, leader.username)
    board = _page(other, "/board", "zh_Hant")
    assert re.search(rf'<option value="{code}"[^>]*>勞動監察聯絡組</option>', board)
    board = _page(other, "/board", "zh_Hans")
    assert re.search(rf'<option value="{code}"[^>]*>劳动监察联络组</option>', board)


def test_regions_and_intake_office_on_the_ledger_and_record_page(client, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, region="110108")
    login(client, clerk.username)
    hans = _page(client, f"/ledger?q={serial}", "zh_Hans")
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{serial}(?:(?!</tr>).)*</tr>", hans, re.S).group(0)
    assert "海淀区" in row and "海淀區" not in row
    assert "信访" in row and "信訪" not in row  # the intake office (信訪辦公室)
    record = _page(client, f"/records/{serial}", "zh_Hans")
    assert "110108 北京市海淀区" in record  # (the petitioner's address is the letter's, as written)
    record = _page(client, f"/records/{serial}", "zh_Hant")
    assert "110108 北京市海淀區" in record and "信訪" in record


def test_in_script_prefers_a_stored_form(app):
    from app.labels import in_script

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert in_script("臺帳科") == "台帐科"
        assert in_script("臺帳科", hans="台账科") == "台账科"
        assert in_script(None) == "" and in_script("") == ""
    with app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        assert in_script("劳动保障监察科") == "勞動保障監察科"
        assert in_script("劳动保障监察科", hant="勞動保障監察科室") == "勞動保障監察科室"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert in_script("劳动保障监察科") == "劳动保障监察科"
