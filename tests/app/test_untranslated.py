"""No English and no internal field names in the Chinese UI (issue 18): every error path of
every form and of every page that takes filters, rendered in 繁體中文 and 简体中文, shows its
messages in Chinese, bad fields named by their labels.

The forms are enumerated from the app's url_map: each route that takes a POST (outside the
JSON API) and each page that reads filters from its query string has error cases here, or is
named in ``NO_ERROR_PATH`` with the reason it has none; a new route fails
``test_every_form_and_filter_page_is_covered`` until it is added. Every transition of the
workflow is submitted empty (and with a value it does not take) through the same input check
the record page's forms go through, and the flash is built as the page builds it.
"""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.cases import inputs, notices, workflow
from records.errors import ValidationError
from records.models import Record
from search.syntax import FILTER_NAMES
from tests.app.conftest import make_team
from tests.conftest import login

LOCALES = ("zh_Hant", "zh_Hans")

#: Latin text a Chinese message may hold: acronyms, the search language's operators (typed by
#: the user, explained by the message), and the examples of the formats to type.
ALLOWED = {"PDF", "CSV", "ID", "QR", "AND", "OR", "NOT", "OCR", "XF"}
#: Words of a syntax a message explains, where that syntax is typed: the search language's
#: filters (``status:``) and the holiday calendar's import format, and the national standard
#: of region codes.
SYNTAX = re.compile(r"\b(?:%s):|\b(?:year|holiday|workday)\b|GB/T 2260" % "|".join(FILTER_NAMES))
#: Values the cases type (they may be echoed back: "no user named …").
TYPED = ("nosuchuser", "NOPE", "ZZZ", "ghost")
#: Formats a message may show as an example: serials, dates, months, ranges, codes of digits.
EXAMPLES = re.compile(r"XF-\d{4}-\d{6}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{4}(-\d{2}){0,2}(\.\.\d{4}(-\d{2}){0,2})?"
                      r"|[\w.+-]+@[\w-]+\.[\w.]+")
LATIN = re.compile(r"[A-Za-z][A-Za-z_']*")

#: Where a page shows what went wrong: flashes, a field's error, the error page.
_SHOWN = re.compile(
    r'<p class="flash flash-error"[^>]*>(.*?)</p>'
    r'|<p class="field-error"[^>]*>(.*?)</p>'
    r'|<ul class="errors">(.*?)</ul>'
    r'|<section class="panel narrow">\s*<h1>\d{3}</h1>(.*?)<p><a',
    re.DOTALL)


def shown_errors(page: str) -> list[str]:
    out = []
    for m in _SHOWN.finditer(page):
        text = next(g for g in m.groups() if g is not None)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        text = " ".join(text.split())
        if text:
            out.append(text)
    return out


def foreign_words(text: str) -> list[str]:
    """Latin words (and snake_case or key: identifiers) that are not allowed in Chinese text."""
    for typed in TYPED:
        text = text.replace(typed, "")
    text = EXAMPLES.sub("", SYNTAX.sub("", text))
    return [w for w in LATIN.findall(text) if w not in ALLOWED]


# -- the people and the matters of the module ---------------------------------------------
@pytest.fixture(scope="module")
def people(inst):
    return make_team(inst, {"clerk": (("clerk",), "XFB", ()), "handler": (("handler",), "LDJC", ()),
                            "leader": (("leader",), None, ("LDJC",)), "chief": (("chief",), None, ()),
                            "archivist": (("archivist",), None, ()), "inspector": (("inspector",), None, ()),
                            "admin": (("admin",), None, ())})


@pytest.fixture(scope="module")
def matters(inst, people):
    """A registered letter, and one under investigation by the handler's office."""
    from records.cases import operations
    from tests.conftest import letter_data

    def register():
        with inst.unit_of_work() as s:
            return operations.register(s, letter_data(), by=s.get(User, people["clerk"].id)).serial

    def step(serial, name, by, **given):
        with inst.unit_of_work() as s:
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            workflow.transition(s, record, name, by=s.get(User, people[by].id), **given)

    registered, working, stored = register(), register(), register()
    step(working, "accept", "leader")
    step(working, "assign", "leader", office="LDJC")
    step(working, "start", "handler")
    step(stored, "store", "leader", reason="no_reference_value", confirm_old_received_date=True)
    from retention.models import Batch, BatchLetter

    with inst.unit_of_work() as s:
        record_id = s.execute(select(Record.id).where(Record.serial == stored)).scalar_one()
        batch = s.execute(select(BatchLetter.batch_id).where(BatchLetter.record_id == record_id)).scalar_one()
        assert s.get(Batch, batch).state == "open"
    return {"registered": registered, "working": working, "batch": batch}


@pytest.fixture(autouse=True)
def quick_letters(monkeypatch):
    monkeypatch.setattr(notices, "render", lambda kind, context, settings=None: b"%PDF-1.4\n% stand-in\n%%EOF\n")


_CLIENTS: dict = {}


def client_for(app, people, role: str, locale: str):
    key = (id(app), role, locale)
    if key not in _CLIENTS:
        client = app.test_client()
        assert login(client, people[role].username).status_code == 302
        client.get(f"/lang/{locale}")
        _CLIENTS[key] = client
    return _CLIENTS[key]


# -- the cases: (name, role, method, path, data) --------------------------------------------
def cases(m: dict) -> list[tuple[str, str, str, str, dict]]:
    reg, work = m["registered"], m["working"]
    return [
        # registration and correction
        ("ledger.register", "clerk", "POST", "/records/new", {}),
        ("ledger.register", "clerk", "POST", "/records/new",
         {"channel": "letter", "received_at": "昨天", "region": "ZZZ", "people_count": "0",
          "petitioner_id_number": "123", "accused": "nosuchuser"}),
        ("ledger.edit", "clerk", "POST", f"/records/{reg}/edit", {"subject": "", "received_at": "2030-13-01"}),
        ("ledger.index", "clerk", "GET", "/ledger?date_from=2026-05-01&date_to=2026-04-01&page=2", None),
        ("ledger.index", "clerk", "GET", "/ledger?date_from=2026-13-01", None),
        ("ledger.index", "clerk", "GET", "/ledger?page=999999", None),
        # the workflow on the record page
        ("workflow.apply", "handler", "POST", f"/records/{reg}/transitions/start", {}),
        ("workflow.apply", "leader", "POST", f"/records/{work}/transitions/accept", {}),
        ("workflow.apply", "leader", "POST", f"/records/{reg}/transitions/store", {"store-confirm": "yes"}),
        ("workflow.apply", "leader", "POST", f"/records/{reg}/transitions/decline_outside_authority",
         {"decline_outside_authority-confirm": "yes"}),
        ("workflow.apply", "leader", "POST", f"/records/{reg}/transitions/answer_directly", {}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/reply", {"reply-confirm": "yes"}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/reply", {}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/reply",
         {"reply-confirm": "yes", "reply-text": "經查屬實。", "reply-finding_outcome": "substantiated",
          "reply-on": "2099-01-01"}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/reply",
         {"reply-confirm": "yes", "reply-text": "經查屬實。", "reply-on": "2026-03-05"}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/extend",
         {"extend-days": "45", "extend-reason": ""}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/request_extension", {}),
        ("workflow.apply", "handler", "POST", f"/records/{work}/transitions/record_finding",
         {"record_finding-finding_outcome": ""}),
        ("workflow.reply_preview", "handler", "POST", f"/records/{work}/reply/preview", {}),
        ("workflow.reply_draft", "handler", "POST", f"/records/{work}/reply/draft", {}),
        ("workflow.board", "leader", "GET", "/board?bucket=nope&office=ZZZ", None),
        ("workflow.board_csv", "leader", "GET", "/board.csv?bucket=nope", None),
        # search, look-ups, repeats
        ("search.index", "clerk", "GET", "/search?q=AND", None),
        ("search.index", "clerk", "GET", "/search?q=%E5%B7%A5%E8%B3%87+AND", None),
        ("search.index", "clerk", "GET", "/search?q=(%E5%B7%A5%E8%B3%87", None),
        ("search.index", "clerk", "GET", "/search?q=ghost:1", None),
        ("search.index", "clerk", "GET", "/search?q=%E5%B7%A5*", None),
        ("search.index", "clerk", "GET", "/search?q=%E5%B7%A5%E8%B3%87&date_from=2026-05-01&date_to=2026-04-01",
         None),
        ("search.index", "clerk", "GET", "/search?status=nope&year=20006", None),
        ("search.index", "clerk", "GET", "/search?date_from=2026-02-30", None),
        ("search.lookup", "leader", "POST", "/lookups", {"kind": "phone", "value": "13800000000", "reason": "查"}),
        ("search.lookup", "leader", "POST", "/lookups", {"kind": "phone", "value": "", "reason": ""}),
        ("search.mark_repeat", "clerk", "POST", f"/records/{reg}/repeat", {"repeat_of": "NOPE"}),
        # statistics, roster, audit
        ("stats.dashboard", "inspector", "GET", "/stats?from=2026-05-01&to=2026-04-01", None),
        ("stats.dashboard", "inspector", "GET", "/stats?from=2026-02-30&by=ghost", None),
        ("stats.inspection", "inspector", "GET", "/stats/inspection?month=2099-01", None),
        ("stats.inspection", "inspector", "GET", "/stats/inspection?month=2026-13", None),
        ("stats.monthly_report", "inspector", "GET", "/stats/report.pdf?month=2026-13", None),
        ("roster.page", "leader", "GET", "/roster?month=2026-13", None),
        ("roster.build", "chief", "POST", "/roster/build", {"month": "2026-13"}),
        ("roster.build", "chief", "POST", "/roster/build", {"month": "2026-11", "leaders": ["ghost"]}),
        ("roster.assign", "chief", "POST", "/roster/assign", {"on": "2026-02-30", "kind": "duty", "username": "ghost"}),
        ("audit.trail", "inspector", "GET", "/audit?date_from=2026-02-30&date_to=2026-01-01&page=0", None),
        ("audit.trail", "inspector", "GET", "/audit?date_from=2026-05-01&date_to=2026-04-01", None),
        ("audit.export", "inspector", "GET", "/audit.csv?date_from=2026-02-30", None),
        # accounts
        ("admin.new_user", "admin", "POST", "/admin/users/new", {}),
        ("admin.new_user", "admin", "POST", "/admin/users/new",
         {"username": "a b", "roles": ["ghost"], "office": "ZZZ"}),
        ("admin.edit_user", "admin", "POST", "/admin/users/{handler}", {"roles": []}),
        ("admin.edit_user", "admin", "POST", "/admin/users/nosuchuser", {"roles": ["clerk"]}),
        ("account.new_token", "leader", "POST", "/account/tokens", {"name": "令牌", "scopes": ["ghost"], "days": "999"}),
        ("auth.login", None, "POST", "/login", {"username": "nosuchuser", "password": "123"}),
        ("auth.login", None, "POST", "/login", {}),
        # reference data
        ("reference.add_category", "admin", "POST", "/admin/reference/categories", {}),
        ("reference.add_category", "admin", "POST", "/admin/reference/categories",
         {"code": "Bad Code", "name": "", "parent": "ghost"}),
        ("reference.add_unit", "admin", "POST", "/admin/reference/units", {}),
        ("reference.add_unit", "admin", "POST", "/admin/reference/units", {"code": "ZZZ", "name": "", "regions": "9"}),
        ("reference.set_jurisdiction", "admin", "POST", "/admin/reference/jurisdiction", {"jurisdiction": "999999"}),
        ("reference.edit_letterhead", "admin", "POST", "/admin/reference/letterhead", {"name": "名" * 500}),
        ("reference.import_calendar", "admin", "POST", "/admin/reference/calendar/import", {"text": "ghost line"}),
        ("reference.set_calendar_day", "admin", "POST", "/admin/reference/calendar/day",
         {"day": "2026-11-25", "kind": "workday"}),
        # retention
        ("retention.holds", "chief", "POST", "/retention/holds", {"serial": "NOPE", "reason": ""}),
        ("retention.holds", "chief", "POST", "/retention/holds", {"serial": "XF-2099-000001", "reason": "查核"}),
        ("retention.act", "archivist", "POST", "/retention/batches/999999/seal", {}),
        ("retention.act", "archivist", "POST", f"/retention/batches/{m['batch']}/seal", {}),
        ("retention.act", "chief", "POST", f"/retention/batches/{m['batch']}/approve", {"confirm": "x"}),
        ("retention.exclude", "archivist", "POST", f"/retention/batches/{m['batch']}/exclude",
         {"serial": m["registered"], "reason": "仍需保留"}),
        ("retention.exclude", "archivist", "POST", "/retention/batches/999999/exclude", {"serial": "", "reason": ""}),
        # intake
        ("intake.mail", "clerk", "POST", "/intake/mail", {}),
        ("intake.new_draft", "clerk", "POST", "/intake/drafts", {}),
        # pages that are not there
        ("ledger.show", "clerk", "GET", "/records/XF-2099-000001", None),
        ("ledger.show", "clerk", "GET", "/records/NOPE", None),
    ]


def _target(path: str, people) -> str:
    return path.replace("{handler}", people["handler"].username)


@pytest.mark.parametrize("locale", LOCALES)
def test_error_messages_are_in_chinese(app, people, matters, locale):
    problems, seen = [], 0
    for name, role, method, path, data in cases(matters):
        client = client_for(app, people, role, locale) if role else app.test_client()
        if role is None:
            client.get(f"/lang/{locale}")
        path = _target(path, people)
        if method == "GET":
            r = client.get(path, follow_redirects=True)
        else:
            r = client.post(path, data=data, follow_redirects=True)
        if r.mimetype != "text/html":
            continue  # a CSV or PDF answered: the page's filters were accepted
        page = r.get_data(as_text=True)
        errors = shown_errors(page)
        seen += bool(errors)
        for text in errors:
            bad = foreign_words(text)
            if bad:
                problems.append(f"{name} {method} {path} {data or ''}: {text!r} has {bad}")
    assert not problems, "\n".join(problems)
    assert seen >= 40, f"only {seen} cases showed an error: the cases no longer reach the error paths"


# -- every transition's input check -------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
def test_every_transition_says_what_is_missing_in_chinese(app, inst, locale):
    """Each transition submitted empty and with a field it does not take, as the record page's
    flash shows it: labels of the form, not the keys of the workflow."""
    from app.labels import TRANSITION_LABELS, label
    from app.messages import describe
    from app.workflow.forms import TransitionForm
    from flask_babel import gettext as _

    from werkzeug.datastructures import MultiDict

    problems = []
    with app.test_request_context("/", headers={"Accept-Language": locale.replace("_", "-")}):
        from flask import session as flask_session
        flask_session["lang"] = locale
        with inst.unit_of_work() as s:
            for name, spec in workflow.TRANSITIONS.items():
                for typed in ({}, {"ghost": True}):
                    blank = TransitionForm(prefix=name, formdata=None).prepare(spec, [], [])
                    posted = MultiDict({f"{name}-{f.short_name}": "ghost" for f in blank
                                        if typed and f.type != "FileField"})
                    form = TransitionForm(prefix=name, formdata=posted).prepare(spec, [], [])
                    try:
                        inputs.parse(s, spec, form.params(spec))
                    except ValidationError as exc:
                        text = _("“%(step)s” was not applied: %(why)s", step=label(TRANSITION_LABELS, name),
                                 why=describe(exc, form.labels(spec), brief=True))
                        bad = foreign_words(text)
                        if bad:
                            problems.append(f"{name} {'ghost' if typed else 'empty'}: {text!r} has {bad}")
    assert not problems, "\n".join(problems)


# -- coverage --------------------------------------------------------------------------------
#: Routes that take input but have no error path a person can reach: one-button actions whose
#: only check is CSRF (tested in tests/app/test_csrf.py), downloads, and look-ups of what exists.
NO_ERROR_PATH = {
    "auth.logout": "a button",
    "auth.second_factor": "the second factor's code: 'not right' (tests/security/test_totp.py); the test app asks none",
    "auth.enrol": "as auth.second_factor",
    "account.end_session": "a button", "account.end_others": "a button",
    "account.revoke_token": "a button; an unknown token flashes a Chinese 'no such token'",
    "admin.toggle_active": "a button", "admin.reset_password": "a button", "admin.reset_second_factor": "a button",
    "grants.confirm": "a button on a pending grant", "grants.refuse": "a button on a pending grant",
    "roster.remove": "a button",
    "retention.lift": "a button",
    "reference.change_category": "as reference.add_category (the same checks)",
    "reference.remove_category": "a button", "reference.change_unit": "as reference.add_unit (the same checks)",
    "reference.remove_unit": "a button",
    "intake.accept": "the recognised text as corrected: its only check is its length, as the ledger's body",
    "audit.verify": "a button; the chain check's result is data-chain-check",
}
#: Pages read with GET that take no filters (their links are generated by the app).
NO_FILTERS = {
    "core.home", "core.set_language", "core.healthz", "static", "desk.mine", "desk.decisions",
    "admin.users", "grants.index", "account.index", "ledger.attachment", "ledger.version",
    "intake.text", "retention.index", "retention.batch", "retention.certificates",
    "retention.certificate_file", "reference.index", "reference.category_list", "reference.unit_list",
    "reference.calendar_page", "exports.ledger", "intake.progress",
    # a scan being recognised on the registration form: its progress and its image
    "intake.draft_status", "intake.draft_scan",
    # the region finder and its suggestions: a name or code typed finds regions or none, no error
    "reference.find_regions", "reference.region_lookup",
}


def test_every_form_and_filter_page_is_covered(app):
    covered = {c[0] for c in cases({"registered": "XF-2026-000001", "working": "XF-2026-000002", "batch": 1})}
    uncovered = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue
        endpoint = rule.endpoint
        if "POST" in rule.methods:
            if endpoint not in covered and endpoint not in NO_ERROR_PATH:
                uncovered.append(f"POST {rule.rule} ({endpoint})")
        elif endpoint not in covered and endpoint not in NO_FILTERS and endpoint not in NO_ERROR_PATH:
            uncovered.append(f"GET {rule.rule} ({endpoint})")
    assert not uncovered, ("routes with no case in tests/app/test_untranslated.py (add their error cases, "
                           "or name them in NO_ERROR_PATH / NO_FILTERS with the reason):\n  "
                           + "\n  ".join(sorted(uncovered)))


# -- the office's words, the Chinese way of writing ------------------------------------------
@pytest.mark.parametrize("locale,words", [
    ("zh_Hant", ("自2026年3月2日收到之日起 15 日內，即 2026年3月17日前", "《群眾來信來訪接待規章制度》第十一條")),
    ("zh_Hans", ("自2026年3月2日收到之日起 15 日内，即 2026年3月17日前", "《群众来信来访接待规章制度》第十一条")),
])
def test_due_dates_in_plain_words_and_rules_by_name(app, people, matters, locale, words):
    """A due date is explained in words with the date written the Chinese way, and a rule of
    the bureau is cited by its title, not as a bare article number."""
    page = client_for(app, people, "leader", locale).get(f"/records/{matters['registered']}").get_data(as_text=True)
    for text in words:
        assert text in html.unescape(page), text
    assert "+ 15" not in page and "= 2026" not in page


def test_mainland_terms_in_both_scripts():
    """用戶名 and 身份 (證) everywhere: the catalogue, hence both scripts (the PDF documents use them too)."""
    from app.translations import build

    catalog = build.read_catalog(build._po_path("zh_Hant"), "zh_Hant")
    strings = [s for m in catalog if m.id for s in ((m.string,) if isinstance(m.string, str) else m.string)]
    for word in ("使用者名稱", "使用者", "身分"):
        assert not [s for s in strings if s and word in s], word


def test_form_library_messages_in_the_pages_script(app, people):
    """WTForms' own messages (a number out of range) in Traditional characters on 繁體中文 pages
    and Simplified on 简体中文 pages (its catalogue named "zh" is Simplified)."""
    import opencc

    for locale, converter in (("zh_Hant", "s2t"), ("zh_Hans", "t2s")):
        client = client_for(app, people, "leader", locale)
        page = client.post("/account/tokens", data={"name": "令牌", "scopes": ["read"], "days": "999"}).get_data(
            as_text=True)
        errors = [e for e in shown_errors(page) if "365" in e]
        assert errors, shown_errors(page)
        for text in errors:
            assert opencc.OpenCC(converter).convert(text) == text, (locale, text)
