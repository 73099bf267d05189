"""Every route × every role: who is let in and who is kept out.

HOW TO ADD A ROUTE
------------------
Add one entry to ROUTES below, keyed by the Flask endpoint name (``app.url_map``), holding a
list of cases ``(method, path_template, expectations)`` or, for requests that need a body,
``(method, path_template, expectations, body)``. Give every HTTP method of the route at
least one case. ``test_every_route_has_an_entry`` fails, naming the route, until you do.

* ``expectations`` maps every role in ROLES to "allow" or "deny"; write it with
  ``allow("clerk", "chief", ...)`` (every role not named is "deny").
* Placeholders in the path (and in string values of the body):
    {serial}      a record registered by 'registrar' (a clerk of the intake), then moved to
                  office LDJC; it has one attachment and one correction (so version 1 exists)
    {attachment}  that record's attachment id
    {version}     1 (the version kept by that correction)
    {new_serial}  a fresh record like {serial}, made for this one request: use it for
                  requests that change the record
    {username}    the requesting role's user name ("nobody" for anonymous)
    {target}      a clerk account that administrators act on (not one of the roles)
* ``body``: for /api paths a dict sent as JSON, elsewhere form data (CSRF is off in the
  test app); a dict holding an ``UploadFile`` value is sent as multipart/form-data.
* "allow" = a 2xx, or a redirect anywhere but the sign-in bounce; "deny" = 401, 403 or 404,
  or the sign-in bounce (a redirect to /login?next=…). Any other status fails the case,
  so send valid bodies.

The roles: a clerk who did not register the record ("clerk") and the clerk who did
("registrar"); a handler of LDJC ("handler") and one of SHBX ("other_handler"); a leader
overseeing LDJC ("leader") and one overseeing only SHBX ("other_leader"; every leader also
oversees the intake); the chief, an archivist, an inspector and an administrator. Web
routes are requested with the role's signed-in session, /api routes with the role's
bearer token; "anonymous" has neither.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from records.accounts import operations as accounts
from records.cases import operations
from records.reference.models import Office
from records.models import Record
from records.accounts.models import User
from records.cases.operations import Upload
from records.intake import drafts
from tests.conftest import TEST_PASSWORD, api_letter, letter_data, unique

ROLES = ("anonymous", "clerk", "registrar", "handler", "other_handler", "leader", "other_leader", "chief",
         "archivist", "inspector", "admin")


def allow(*roles: str) -> dict[str, str]:
    """Expectations: the named roles are allowed, every other role is denied."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: "allow" if role in roles else "deny" for role in ROLES}


@dataclass(frozen=True)
class UploadFile:
    """A file field of a multipart body (a fresh stream is made for every request)."""

    filename: str
    data: bytes


EVERYONE = ROLES
SIGNED_IN = tuple(r for r in ROLES if r != "anonymous")
#: Roles holding REGISTER.
REGISTRARS = ("clerk", "registrar", "leader", "other_leader", "chief")
#: Roles that see the ledger line of {serial} (records held by LDJC).
LEDGER_OF_SERIAL = ("clerk", "registrar", "handler", "leader", "chief", "archivist", "inspector")
#: Roles that see the ledger at all.
LEDGER_READERS = ("clerk", "registrar", "handler", "other_handler", "leader", "other_leader", "chief",
                  "archivist", "inspector")
#: Roles that read the content of {serial}.
CONTENT_OF_SERIAL = ("registrar", "handler", "leader", "chief")
#: Roles that may correct {serial}.
CORRECTORS_OF_SERIAL = ("registrar", "leader", "chief")

WEB_RECORD_FORM = {
    "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
    "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
    "people_count": "1", "subject": "拖欠工資", "body": "公司拖欠工資三個月。",
    "petitioner_name": "王小明", "petitioner_id_number": "110108199001011231",
    "petitioner_phone": "13812345678", "petitioner_address": "北京市海淀區",
}
WEB_CORRECTION_FORM = {**WEB_RECORD_FORM, "subject": "拖欠工資（更正）", "reason": "typo"}
LOGIN_FORM = {"username": "{username}", "password": TEST_PASSWORD}
API_RECORD = api_letter()
API_ATTACHMENT = {"file": UploadFile("later-scan.txt", "補充材料：工資條。".encode())}
#: A small PNG (a scan for the registration form's recognition).
SCAN_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"
            b"\x00\x00\x00\nIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00\x18\xdd\x8d\xb4\x00\x00\x00\x00IEND\xaeB`\x82")

#: Roles that see retention batches, holds and certificates (metadata only).
RETENTION_VIEWERS = ("leader", "other_leader", "chief", "archivist", "inspector")
#: Roles that place and lift holds.
HOLDERS = ("leader", "other_leader", "chief")

#: Roles holding SEARCH (results are limited to what each may read).
SEARCHERS = ("clerk", "registrar", "handler", "other_handler", "leader", "other_leader", "chief")
#: Roles holding IDENTITY_LOOKUP.
LOOKUP_ROLES = ("leader", "other_leader", "chief")
LOOKUP_BODY = {"kind": "phone", "value": "13812345678", "reason": "核查重複信訪情況，準備約談"}

#: Roles holding VIEW_STATS, EXPORT_LEDGER, VIEW_ROSTER and MANAGE_ROSTER.
STATS_VIEWERS = ("leader", "other_leader", "chief", "inspector")
EXPORTERS = ("clerk", "registrar", "handler", "other_handler", "leader", "other_leader", "chief", "inspector")
ROSTER_VIEWERS = ("clerk", "registrar", "handler", "other_handler", "leader", "other_leader", "chief", "inspector")
ROSTER_MANAGERS = ("leader", "other_leader", "chief")

ADMINS = ("admin",)
REFERENCE_LETTERHEAD = {"bureau_name": "某市科學技術局", "issuing_office": "某市科學技術局信訪辦公室",
                        "superior_body": "某省科學技術廳", "number_pattern": "X科信〔{{year}}〕{{seq}}號",
                        "seal_line": "（蓋章）", "signature_block": "某市科學技術局信訪辦公室"}
ACCOUNT_FORM = {"display_name": "新同事", "roles": "clerk", "office": "XFB"}

ROUTES: dict[str, list[tuple]] = {
    # -- account management (administrators only; never any letter) ------------------
    "admin.users": [("GET", "/admin/users", allow(*ADMINS))],
    "admin.new_user": [
        ("GET", "/admin/users/new", allow(*ADMINS)),
        ("POST", "/admin/users/new", allow(*ADMINS), {**ACCOUNT_FORM, "username": "newcomer-{username}"}),
    ],
    "admin.edit_user": [
        ("GET", "/admin/users/{target}", allow(*ADMINS)),
        ("POST", "/admin/users/{target}", allow(*ADMINS), ACCOUNT_FORM),
    ],
    "admin.toggle_active": [("POST", "/admin/users/{target}/active", allow(*ADMINS), {})],
    "admin.reset_password": [("POST", "/admin/users/{target}/password", allow(*ADMINS), {})],
    "admin.reset_second_factor": [("POST", "/admin/users/{target}/second-factor", allow(*ADMINS), {})],
    # -- role grants waiting for a second person (issue 15): the chief or an administrator;
    #    a missing grant is denied to everyone, the permission wall is checked first
    "grants.index": [("GET", "/grants", allow("chief", "admin"))],
    "grants.confirm": [("POST", "/grants/999999/confirm", allow(), {})],
    "grants.refuse": [("POST", "/grants/999999/refuse", allow(), {})],
    # -- the audit trail (issue 15: sealed look-up reasons opened for its readers)
    "audit.trail": [("GET", "/audit", allow("chief", "inspector")),
                    ("GET", "/audit?action=identity.lookup&before=999999", allow("chief", "inspector")),
                    ("GET", "/audit?actor=x&target=1&date_from=2026-01-01&date_to=2026-12-31&page=2",
                     allow("chief", "inspector"))],
    # -- each role's starting page (issue 18)
    "desk.mine": [("GET", "/desk/mine", allow("handler", "other_handler", "leader", "other_leader", "chief"))],
    "desk.decisions": [("GET", "/desk/decisions", allow("leader", "other_leader", "chief"))],
    "audit.verify": [("POST", "/audit/verify", allow("chief", "inspector"), {})],
    "audit.export": [("GET", "/audit.csv?action=identity.lookup", allow("chief", "inspector"))],
    # -- one's own account: sessions and API tokens (every signed-in user; a missing session
    #    of one's own is denied to everyone)
    "account.index": [("GET", "/account", allow(*SIGNED_IN))],
    "account.end_session": [("POST", "/account/sessions/999999/end", allow(), {})],
    "account.end_others": [("POST", "/account/sessions/end-others", allow(*SIGNED_IN), {})],
    "account.new_token": [("POST", "/account/tokens", allow(*SIGNED_IN), {"name": "access", "scopes": "read",
                                                                          "days": "30"})],
    "account.revoke_token": [("POST", "/account/tokens/xf_nothing/revoke", allow(*SIGNED_IN), {})],
    # -- core ---------------------------------------------------------------
    "core.home": [("GET", "/", allow(*EVERYONE))],   # anonymous: a plain redirect to /login, no bounce
    "core.set_language": [("GET", "/lang/en", allow(*EVERYONE))],
    "core.healthz": [("GET", "/healthz", allow(*EVERYONE))],
    # -- sign in / out ---------------------------------------------------------
    "auth.login": [
        ("GET", "/login", allow(*EVERYONE)),
        ("POST", "/login", allow(*SIGNED_IN), LOGIN_FORM),   # anonymous = a user name that does not exist
    ],
    "auth.logout": [("POST", "/logout", allow(*SIGNED_IN))],
    # the second-factor steps: without a pending password step, everyone is sent back to /login
    # (a plain redirect); the steps themselves are tested in tests/security/test_totp.py
    "auth.second_factor": [
        ("GET", "/login/code", allow(*EVERYONE)),
        ("POST", "/login/code", allow(*EVERYONE), {"code": "123456"}),
    ],
    "auth.enrol": [
        ("GET", "/login/enrol", allow(*EVERYONE)),
        ("POST", "/login/enrol", allow(*EVERYONE), {"code": "123456"}),
    ],
    # -- the ledger and record pages -----------------------------------------------
    "ledger.index": [
        ("GET", "/ledger", allow(*LEDGER_READERS)),
        ("GET", "/ledger?channel=letter&date_from=2026-01-01&page=2", allow(*LEDGER_READERS)),
    ],
    "ledger.register": [
        ("GET", "/records/new", allow(*REGISTRARS)),
        ("GET", "/records/new?channel=visit", allow(*REGISTRARS)),
        ("POST", "/records/new", allow(*REGISTRARS), WEB_RECORD_FORM),
    ],
    "ledger.show": [("GET", "/records/{serial}", allow(*LEDGER_OF_SERIAL))],
    "ledger.edit": [
        ("GET", "/records/{serial}/edit", allow(*CORRECTORS_OF_SERIAL)),
        ("POST", "/records/{new_serial}/edit", allow(*CORRECTORS_OF_SERIAL), WEB_CORRECTION_FORM),
    ],
    "ledger.attachment": [("GET", "/records/{serial}/attachments/{attachment}", allow(*CONTENT_OF_SERIAL))],
    # -- intake (issue 20): an attachment's extracted text; taking it as the body (the text of
    #    {attachment} is not extracted yet: an allowed role is sent back to the text with a message)
    "intake.text": [("GET", "/records/{serial}/attachments/{attachment}/text", allow(*CONTENT_OF_SERIAL))],
    "intake.accept": [("POST", "/records/{serial}/attachments/{attachment}/accept", allow(*CORRECTORS_OF_SERIAL),
                       {"body": "公司拖欠工資三個月。"})],
    "intake.mail": [
        ("GET", "/intake/mail", allow(*REGISTRARS)),
        ("POST", "/intake/mail", allow(*REGISTRARS), {"message": UploadFile("m.eml", (
            "From: =?utf-8?B?5byg5LiJ?= <a@example.cn>\r\nSubject: =?utf-8?B?5ouW5qyg5bel6LOH?=\r\n"
            "Message-ID: <access-test@example.cn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "公司拖欠工資。\r\n").encode()), "region": "110108", "category": "other"}),
    ],
    "ledger.version": [("GET", "/records/{serial}/versions/{version}", allow(*CONTENT_OF_SERIAL))],
    # -- intake (issue 20): the record page's polling of its extraction status; a scan recognised
    #    on the registration form ({draft}: one uploaded by 'registrar', seen by its uploader only)
    "intake.progress": [("GET", "/records/{serial}/intake/status", allow(*CONTENT_OF_SERIAL))],
    "intake.new_draft": [("POST", "/intake/drafts", allow(*REGISTRARS), {"scan": UploadFile("scan.png", SCAN_PNG)})],
    "intake.draft_status": [("GET", "/intake/drafts/{draft}", allow("registrar"))],
    "intake.draft_scan": [("GET", "/intake/drafts/{draft}/scan", allow("registrar"))],
    # -- JSON API ---------------------------------------------------------------------
    "api.openapi": [("GET", "/api/v1/openapi.json", allow(*EVERYONE))],
    "api.create_record": [("POST", "/api/v1/records", allow(*REGISTRARS), API_RECORD)],
    "api.list_records": [
        ("GET", "/api/v1/records", allow(*LEDGER_READERS)),
        ("GET", "/api/v1/records?channel=letter&per_page=5", allow(*LEDGER_READERS)),
    ],
    "api.get_record": [("GET", "/api/v1/records/{serial}", allow(*LEDGER_OF_SERIAL))],
    "api.add_attachment": [
        ("POST", "/api/v1/records/{new_serial}/attachments", allow(*CORRECTORS_OF_SERIAL), API_ATTACHMENT),
    ],
    "api.get_attachment": [
        ("GET", "/api/v1/records/{serial}/attachments/{attachment}", allow(*CONTENT_OF_SERIAL)),
    ],
    # -- the life of a matter (app/workflow, records/workflow.py): {new_serial} is registered and
    #    held by LDJC, so deciding is for the leader overseeing LDJC and the chief, handling also
    #    for LDJC's handler (a step refused by the state comes back as a 303 with a message)
    "workflow.apply": [
        ("POST", "/records/{new_serial}/transitions/accept", allow("leader", "chief"), {"accept-note": "同意受理"}),
        ("POST", "/records/{new_serial}/transitions/record_finding", allow("handler", "leader", "chief"),
         {"record_finding-finding_outcome": "substantiated"}),
        ("POST", "/records/{new_serial}/transitions/store", allow("registrar", "leader", "chief"),
         {"store-reason_code": "unclear_content", "store-confirm": "yes", "store-confirm_old_received_date": "y"}),
    ],
    # the written reply composed with a preview and drafts (records/cases/drafts.py): HANDLE
    "workflow.reply_preview": [
        ("POST", "/records/{serial}/reply/preview", allow("handler", "leader", "chief"), {"reply-text": "經查屬實。"}),
    ],
    "workflow.reply_draft": [
        ("POST", "/records/{new_serial}/reply/draft", allow("handler", "leader", "chief"), {"reply-text": "草稿"}),
    ],
    "api.reply_preview": [
        ("POST", "/api/v1/records/{serial}/reply/preview", allow("handler", "leader", "chief"), {"text": "經查屬實。"}),
    ],
    "api.get_reply_draft": [
        ("GET", "/api/v1/records/{serial}/reply/draft", allow("handler", "leader", "chief")),
    ],
    "api.put_reply_draft": [
        ("PUT", "/api/v1/records/{new_serial}/reply/draft", allow("handler", "leader", "chief"), {"text": "草稿"}),
    ],
    "workflow.board": [
        ("GET", "/board", allow("leader", "other_leader", "chief", "inspector")),
        ("GET", "/board?bucket=open&office=LDJC", allow("leader", "other_leader", "chief", "inspector")),
    ],
    "workflow.board_csv": [("GET", "/board.csv?bucket=overdue", allow("leader", "other_leader", "chief", "inspector"))],
    "api.apply_transition": [
        ("POST", "/api/v1/records/{new_serial}/transitions", allow("leader", "chief"),
         {"transition": "accept", "note": "同意受理"}),
        ("POST", "/api/v1/records/{new_serial}/transitions", allow("registrar", "leader", "chief"),
         {"transition": "store", "reason": "no_reference_value", "confirm_old_received_date": True}),
    ],
    "api.board": [
        ("GET", "/api/v1/board", allow("leader", "other_leader", "chief", "inspector")),
        ("GET", "/api/v1/board?bucket=overdue&office=LDJC", allow("leader", "other_leader", "chief", "inspector")),
    ],
    # -- retention (tests/retention covers the allowed paths on real batches; here a missing
    #    batch or certificate is denied to everyone, the permission wall is checked first)
    "retention.index": [("GET", "/retention", allow(*RETENTION_VIEWERS))],
    "retention.batch": [("GET", "/retention/batches/999999", allow())],
    "retention.act": [("POST", "/retention/batches/999999/seal", allow()),
                      ("POST", "/retention/batches/999999/approve", allow())],
    "retention.exclude": [("POST", "/retention/batches/999999/exclude", allow(),
                           {"serial": "{serial}", "reason": "keep"})],
    "retention.holds": [
        ("GET", "/retention/holds", allow(*RETENTION_VIEWERS)),
        ("POST", "/retention/holds", allow(*HOLDERS), {"serial": "{serial}", "reason": "court request"}),
    ],
    "retention.lift": [("POST", "/retention/holds/999999/lift", allow(*HOLDERS), {"reason": "done"})],
    "retention.certificates": [("GET", "/retention/certificates", allow(*RETENTION_VIEWERS))],
    "retention.certificate_file": [("GET", "/retention/certificates/DC-0000-00000.pdf", allow())],
    "api.retention_batches": [("GET", "/api/v1/retention/batches", allow(*RETENTION_VIEWERS))],
    "api.retention_batch": [("GET", "/api/v1/retention/batches/999999", allow())],
    "api.retention_seal": [("POST", "/api/v1/retention/batches/999999/seal", allow())],
    "api.retention_propose": [("POST", "/api/v1/retention/batches/999999/propose", allow())],
    "api.retention_approve": [("POST", "/api/v1/retention/batches/999999/approve", allow())],
    "api.retention_exclude": [("POST", "/api/v1/retention/batches/999999/exclude", allow(),
                               {"serial": "{serial}", "reason": "keep"})],
    "api.retention_run": [("POST", "/api/v1/retention/batches/999999/runs", allow())],
    "api.retention_holds": [("GET", "/api/v1/retention/holds?active=1", allow(*RETENTION_VIEWERS))],
    "api.retention_add_hold": [("POST", "/api/v1/retention/holds", allow(*HOLDERS),
                                {"serial": "{serial}", "reason": "court request"})],
    "api.retention_lift_hold": [("POST", "/api/v1/retention/holds/999999/lift", allow(), {"reason": "done"})],
    "api.retention_certificates": [("GET", "/api/v1/retention/certificates", allow(*RETENTION_VIEWERS))],
    "api.retention_certificate": [("GET", "/api/v1/retention/certificates/DC-0000-00000", allow())],
    # -- search (app/search, search/): hits are filtered per record inside the search itself
    #    (tests/search/test_access.py); here the permission walls
    "search.index": [
        ("GET", "/search", allow(*SEARCHERS)),
        ("GET", "/search?q=拖欠工資&status=registered&year=2026&page=2", allow(*SEARCHERS)),
    ],
    "search.lookup": [
        ("GET", "/lookups", allow(*LOOKUP_ROLES)),
        ("POST", "/lookups", allow(*LOOKUP_ROLES), LOOKUP_BODY),
    ],
    "search.mark_repeat": [
        ("POST", "/records/{new_serial}/repeat", allow(*CORRECTORS_OF_SERIAL), {"repeat_of": "{serial}"}),
    ],
    "api.search": [("GET", "/api/v1/search?q=拖欠工資&region=110108", allow(*SEARCHERS))],
    "api.lookup": [("POST", "/api/v1/lookups", allow(*LOOKUP_ROLES), LOOKUP_BODY)],
    # -- statistics, reports, exports, duty roster (app/stats, records/stats.py …)
    "stats.dashboard": [
        ("GET", "/stats", allow(*STATS_VIEWERS)),
        ("GET", "/stats?from=2026-01-01&to=2026-12-31&office=LDJC", allow(*STATS_VIEWERS)),
    ],
    "stats.monthly_report": [("GET", "/stats/report.pdf?month=2026-03", allow(*STATS_VIEWERS))],
    "stats.inspection": [("GET", "/stats/inspection?from=2026-01-01&to=2026-12-31", allow("chief", "inspector"))],
    "exports.ledger": [
        ("GET", "/exports/ledger.xlsx", allow(*EXPORTERS)),
        ("GET", "/exports/ledger.csv?date_from=2026-01-01&channel=letter", allow(*EXPORTERS)),
    ],
    "roster.page": [("GET", "/roster?month=2026-10", allow(*ROSTER_VIEWERS))],
    "roster.build": [("POST", "/roster/build", allow(*ROSTER_MANAGERS),
                            {"month": "2026-10", "leaders": "{username}", "staff": "{username}", "weekdays": "1",
                             "replace": "yes"})],
    "roster.assign": [("POST", "/roster/assign", allow(*ROSTER_MANAGERS),
                             {"on": "2026-10-12", "kind": "reception", "username": "{username}"})],
    "roster.remove": [("POST", "/roster/999999/remove", allow(*ROSTER_MANAGERS))],
    "api.statistics": [
        ("GET", "/api/v1/stats", allow(*STATS_VIEWERS)),
        ("GET", "/api/v1/stats?from=2026-03-01&to=2026-03-31&by=channel,office", allow(*STATS_VIEWERS)),
    ],
    # -- reference data (issue 14): every signed-in user looks regions up; the administrator keeps them
    "reference.find_regions": [("GET", "/reference/regions?q=南山&id_number=440305199001011234", allow(*SIGNED_IN))],
    "reference.region_lookup": [("GET", "/reference/regions.json?q=4403", allow(*SIGNED_IN))],
    "reference.index": [("GET", "/admin/reference", allow(*ADMINS))],
    "reference.set_jurisdiction": [("POST", "/admin/reference/jurisdiction", allow(*ADMINS), {"code": "110000"})],
    "reference.edit_letterhead": [
        ("GET", "/admin/reference/letterhead", allow(*ADMINS)),
        ("POST", "/admin/reference/letterhead", allow(*ADMINS), REFERENCE_LETTERHEAD),
    ],
    "reference.category_list": [("GET", "/admin/reference/categories", allow(*ADMINS))],
    "reference.add_category": [("POST", "/admin/reference/categories", allow(*ADMINS),
                                {"code": "access_{username}", "name": "測試類別"})],
    "reference.change_category": [("POST", "/admin/reference/categories/other", allow(*ADMINS), {"name": "其他"})],
    "reference.remove_category": [("POST", "/admin/reference/categories/no_such_code/remove", allow(*ADMINS), {})],
    "reference.unit_list": [("GET", "/admin/reference/units", allow(*ADMINS))],
    "reference.add_unit": [("POST", "/admin/reference/units", allow(*ADMINS),
                            {"code": "EXT-ACCESS", "name": "測試單位", "external": "1", "regions": "110108"})],
    "reference.change_unit": [("POST", "/admin/reference/units/EXT-HD", allow(*ADMINS), {"regions": "110108"})],
    "reference.remove_unit": [("POST", "/admin/reference/units/NO-SUCH/remove", allow(*ADMINS), {})],
    "reference.calendar_page": [("GET", "/admin/reference/calendar?year=2026", allow(*ADMINS))],
    "reference.import_calendar": [("POST", "/admin/reference/calendar/import", allow(*ADMINS),
                                   {"text": "2035-01-01 holiday 元旦\n"})],
    "reference.set_calendar_day": [("POST", "/admin/reference/calendar/day", allow(*ADMINS),
                                    {"day": "2036-01-01", "kind": "holiday", "name": "元旦"})],
    "api.api_regions": [("GET", "/api/v1/regions?q=南山", allow(*SIGNED_IN))],
    "api.api_region": [("GET", "/api/v1/regions/440305", allow(*SIGNED_IN))],
    "api.api_jurisdiction": [("GET", "/api/v1/jurisdiction", allow(*SIGNED_IN))],
    "api.api_set_jurisdiction": [("PUT", "/api/v1/jurisdiction", allow(*ADMINS), {"code": "110000"})],
    "api.api_categories": [("GET", "/api/v1/categories", allow(*SIGNED_IN))],
    "api.api_add_category": [("POST", "/api/v1/categories", allow(*ADMINS), {"code": "api_access", "name": "接口測試"})],
    "api.api_change_category": [("PATCH", "/api/v1/categories/other", allow(*ADMINS), {"name_en": "Other"})],
    "api.api_remove_category": [("DELETE", "/api/v1/categories/api_access", allow(*ADMINS))],
    "api.api_units": [("GET", "/api/v1/units", allow(*SIGNED_IN))],
    "api.api_add_unit": [("POST", "/api/v1/units", allow(*ADMINS), {"code": "API-UNIT", "name": "接口單位"})],
    "api.api_change_unit": [("PATCH", "/api/v1/units/EXT-CY", allow(*ADMINS), {"regions": ["110105"]})],
    "api.api_remove_unit": [("DELETE", "/api/v1/units/API-UNIT", allow(*ADMINS))],
    "api.api_calendar": [("GET", "/api/v1/calendar/2026", allow(*SIGNED_IN))],
    "api.api_import_calendar": [("POST", "/api/v1/calendar", allow(*ADMINS), {"text": "2037-01-01 holiday 元旦"})],
    "api.api_letterhead": [("GET", "/api/v1/letterhead", allow(*SIGNED_IN))],
    "api.api_update_letterhead": [("PUT", "/api/v1/letterhead", allow(*ADMINS), {"seal_line": "（蓋章）"})],
}


# -- the world the table is checked against ---------------------------------------------
@dataclass
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    cookies: dict[str, str]
    values: dict[str, str]


def _new_record(inst, registrar: User, uploads=()) -> str:
    """A record registered by ``registrar``, then moved (by SQL) to office LDJC."""
    with inst.unit_of_work() as s:
        record = operations.register(s, letter_data(), by=s.get(User, registrar.id), uploads=list(uploads))
        ldjc = s.execute(select(Office.id).where(Office.code == "LDJC")).scalar_one()
        s.execute(update(Record).where(Record.id == record.id).values(office_id=ldjc))
        return record.serial


@pytest.fixture(scope="module")
def world(inst, app) -> World:
    specs = {
        "clerk": (("clerk",), "XFB", ()),
        "registrar": (("clerk",), "XFB", ()),
        "handler": (("handler",), "LDJC", ()),
        "other_handler": (("handler",), "SHBX", ()),
        "leader": (("leader",), None, ("LDJC",)),
        "other_leader": (("leader",), None, ("SHBX",)),
        "chief": (("chief",), None, ()),
        "archivist": (("archivist",), None, ()),
        "inspector": (("inspector",), None, ()),
        "admin": (("admin",), None, ()),
    }
    users, tokens = {}, {}
    with inst.unit_of_work() as s:
        for role, (roles, office, oversees) in specs.items():
            user = accounts.create_user(s, unique(role.replace("_", "-")), TEST_PASSWORD, list(roles),
                                        office=office, oversees=list(oversees))
            # the test app asks no second factor (XINFANG_SECOND_FACTOR_ROLES = ()), nor does its tokens' issue
            tokens[role] = accounts.issue_token(s, user, label="access test", second_factor_roles=())
            users[role] = user
        s.flush()
        ids = {role: u.id for role, u in users.items()}
    with inst.unit_of_work() as s:
        users = {role: s.get(User, uid) for role, uid in ids.items()}
        for u in users.values():
            _ = u.overseen, u.office
        s.expunge_all()

    with inst.unit_of_work() as s:
        registrar = s.get(User, users["registrar"].id)
        record = operations.register(s, letter_data(), by=registrar,
                                     uploads=[Upload("scan.txt", "掃描件：工資欠條。".encode())])
        operations.correct(s, record, {"subject": "反映某公司拖欠工資問題（更正）"}, by=registrar, reason="typo")
        attachment = record.attachments[0].uid
        serial = record.serial
        ldjc = s.execute(select(Office.id).where(Office.code == "LDJC")).scalar_one()
        s.execute(update(Record).where(Record.id == record.id).values(office_id=ldjc))
        target = accounts.create_user(s, unique("target"), TEST_PASSWORD, ["clerk"], office="XFB").username
        draft = drafts.create(s, Upload("scan.png", SCAN_PNG), by=registrar).payload["draft"]

    cookies = {}
    for role, user in users.items():
        client = app.test_client()
        r = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
        assert r.status_code == 302, f"{role} could not sign in"
        cookies[role] = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return World(users=users, tokens=tokens, cookies=cookies,
                 values={"serial": serial, "attachment": attachment, "version": "1", "target": target,
                         "draft": draft})


def _cases():
    for endpoint, cases in ROUTES.items():
        for case in cases:
            method, path = case[0], case[1]
            for role in ROLES:
                yield pytest.param(endpoint, case, role, id=f"{endpoint}:{method} {path}:{role}")


def outcome(response) -> str | None:
    """'allow', 'deny', or None for a status that is neither (a broken case or a broken route)."""
    status = response.status_code
    if 200 <= status < 300:
        return "allow"
    if status in (401, 403, 404):
        return "deny"
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))
        if target.path == "/login" and "next" in parse_qs(target.query):
            return "deny"   # Flask-Login's bounce to the sign-in page
        return "allow"
    return None


def _fill(value, values: dict):
    if isinstance(value, str):
        return value.format_map(values)
    return value


# -- the tests ------------------------------------------------------------------------------
def test_every_route_has_an_entry(app):
    missing, methods_missing = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        cases = ROUTES.get(rule.endpoint)
        if not cases:
            missing.append(f"{rule.endpoint} ({rule.rule})")
            continue
        covered = {c[0] for c in cases}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"} - covered):
            methods_missing.append(f"{rule.endpoint}: {method} {rule.rule}")
    assert not missing, ("routes without an entry in tests/app/test_access.py ROUTES (add one; see the "
                         "comment at the top of that file): " + ", ".join(sorted(missing)))
    assert not methods_missing, "methods without a case in ROUTES: " + ", ".join(methods_missing)
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    stale = sorted(set(ROUTES) - endpoints)
    assert not stale, f"ROUTES names endpoints the app does not have: {stale}"


def test_every_case_names_every_role():
    for endpoint, cases in ROUTES.items():
        for case in cases:
            assert len(case) in (3, 4), f"{endpoint}: a case is (method, path, expectations[, body])"
            expectations = case[2]
            assert set(expectations) == set(ROLES), f"{endpoint} {case[0]} {case[1]}: roles must be exactly {ROLES}"
            assert set(expectations.values()) <= {"allow", "deny"}, f"{endpoint} {case[1]}: allow or deny only"


@pytest.mark.parametrize("endpoint,case,role", list(_cases()))
def test_access(app, inst, world, endpoint, case, role):
    method, template, expected = case[0], case[1], case[2][role]
    body = case[3] if len(case) > 3 else None
    values = dict(world.values, username=world.users[role].username if role != "anonymous" else "nobody")
    if "{new_serial}" in template:
        values["new_serial"] = _new_record(inst, world.users["registrar"])
    path = _fill(template, values)

    bare = path.split("?", 1)[0]
    matched, _ = app.url_map.bind("localhost").match(bare, method=method)
    assert matched == endpoint, f"{method} {path} is served by {matched}, not {endpoint}"

    client = app.test_client()
    headers = {}
    is_api = bare.startswith("/api/")
    if is_api:
        if role != "anonymous":
            headers["Authorization"] = f"Bearer {world.tokens[role]}"
    elif role != "anonymous" and endpoint == "auth.logout":
        # sessions are server-side (issue 15): signing out ends the session, so not the shared one
        assert client.post("/login", data={"username": world.users[role].username,
                                           "password": TEST_PASSWORD}).status_code == 302
    elif role != "anonymous":
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], world.cookies[role])

    kwargs = {}
    if body is not None:
        has_file = any(isinstance(v, UploadFile) for v in body.values())
        data = {k: (io.BytesIO(v.data), v.filename) if isinstance(v, UploadFile) else _fill(v, values)
                for k, v in body.items()}
        if is_api and not has_file:
            kwargs["json"] = {k: _fill(v, values) for k, v in body.items()}
        else:
            kwargs["data"] = data
            if has_file:
                kwargs["content_type"] = "multipart/form-data"
    response = client.open(path, method=method, headers=headers, **kwargs)
    got = outcome(response)
    assert got is not None, (f"{role}: {method} {path} answered {response.status_code}, neither allow nor deny: "
                             f"{response.get_data(as_text=True)[:300]}")
    assert got == expected, (f"{role}: {method} {path} was {got} ({response.status_code}"
                             f" {response.headers.get('Location', '')}), expected {expected}")
