"""Messages as a person reads them: the domain core's English msgids (plain strings, or
``records.errors.Msg`` with placeholders filled after translation) in the request's language,
and bad fields named by their translated labels, never by their internal keys.

The API keeps its English machine-readable keys in JSON; its messages are translated the same
way when the client asks for a language (Accept-Language), as the pages are."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from records.errors import Codes, FieldName, Fields, Msg, Quoted, XinfangError

#: The labels of the field keys the domain core names in ``ValidationError.fields``, for pages
#: that have no form of their own to take the label from (the error page, flashes).
FIELD_NAMES: dict[str, object] = {
    "accused": _l("Accused officials"), "office": _l("Office"), "repeat_of": _l("Serial of the earlier matter"),
    "received_at": _l("Received at"), "page": _l("Page"), "attachments": _l("Attachments"),
    "value": _l("Identifier"), "roles": _l("Roles"), "parent": _l("Parent category"),
    "code": _l("Code (of a category, office or unit)"),
    "regions": _l("Regions"), "region": _l("Region"), "q": _l("Search"), "first_responder": _l("First responder"),
    "category": _l("Category"), "text": _l("Text"), "serial": _l("Serial"), "reason": _l("Reason"),
    "name": _l("Name (of a category, office or unit)"), "month": _l("Month"), "kind": _l("Kind"),
    "jurisdiction": _l("Jurisdiction"),
    "file": _l("File"), "complained_unit": _l("Unit complained about"), "year": _l("Year"),
    "transition": _l("Step"), "from": _l("From"), "to": _l("To"), "scopes": _l("Scopes"),
    "representatives": _l("Representatives"), "oversees": _l("Offices overseen"), "finding": _l("Finding"),
    "finding.outcome": _l("Finding"), "finding.action_due_on": _l("Corrective action due on"),
    "date_from": _l("From"), "date_to": _l("To"), "channel": _l("Channel"), "as_of": _l("As of"),
    "weekdays": _l("Weekdays"), "username": _l("User name"), "stored_reason": _l("Reason for storing"),
    "staff": _l("Staff"), "sort": _l("Sort"), "phone": _l("Phone"), "petitioner": _l("Petitioner"),
    "people_count": _l("Number of people"), "password": _l("Password"), "number_pattern": _l("Number pattern"),
    "leaders": _l("Leaders"), "leader": _l("Leader"), "id_number": _l("ID number"),
    "external": _l("External unit"), "display_name": _l("Display name"), "days": _l("Days"), "day": _l("Day"),
    "conduct": _l("Conduct during the visit"), "by": _l("Breakdown"), "bucket": _l("Column"), "body": _l("Body"),
    "on": _l("Date"), "unit": _l("External unit"), "outcome": _l("Decision"), "due_on": _l("Deadline"),
    "subject": _l("Subject"), "status": _l("Status"), "date": _l("Date"), "active": _l("Active"),
    "preset": _l("Preset"), "in": _l("In"),
}


def tr(text) -> str:
    """``text`` in the request's language: a ``Msg`` by its msgid, its params filled after
    (params that are ``Msg`` translated too); a plain string looked up as it is."""
    if text is None:
        return ""
    if isinstance(text, Msg):
        translated = get_translations().ugettext(text.msgid)
        if not text.params:
            return translated
        return translated % {k: _param(v) for k, v in text.params.items()}
    return get_translations().ugettext(str(text))


def _param(value):
    if isinstance(value, dt.date):
        return day(value)
    if isinstance(value, Msg):
        return tr(value)
    if isinstance(value, Codes):
        return _(", ").join(code_label(str(v), value.kind) for v in value)
    if isinstance(value, FieldName):
        return field_label(str(value)) or str(value)
    if isinstance(value, Quoted):
        return _("'%(value)s'", value=str(value))
    if isinstance(value, Fields):
        return _("; ").join(field_lines(value))
    if isinstance(value, (list, tuple)):
        return _("; ").join(tr(v) for v in value)
    return value


def code_label(code: str, kind: str | None = None) -> str:
    """A stored code named in a message (``Codes``): by its vocabulary's labels when the message
    names one (``kind``), else by the first label table that knows it."""
    from . import labels as t

    if kind is not None:
        from .retention import views as retention

        table = {"batch_state": retention.BATCH_STATE_LABELS, "letter_state": retention.LETTER_STATE_LABELS}[kind]
        return str(table.get(code, code))
    for table in (t.ROLE_LABELS, t.STATUS_LABELS, t.CHANNEL_LABELS, t.CONDUCT_KIND_LABELS, t.CONDUCT_ACTION_LABELS,
                  t.STORED_REASON_LABELS, t.LEGAL_CHANNEL_LABELS, t.FINDING_LABELS, t.REVIEW_OUTCOME_LABELS,
                  t.REMIT_LABELS, t.TRANSITION_LABELS, t.STAGE_LABELS, t.BOARD_BUCKET_LABELS):
        if code in table:
            return str(table[code])
    return code


def field_label(key: str, labels: Mapping | None = None) -> str | None:
    """The label a person knows a field by; None when there is none to show (the key itself is
    never shown). ``conduct.kinds`` falls back to ``conduct``."""
    for table in (labels or {}, FIELD_NAMES):
        if key in table:
            return str(table[key])
    head = key.split(".", 1)[0].split("[", 1)[0]
    if head != key:
        return field_label(head, labels)
    return None


def field_lines(fields: Mapping | None, labels: Mapping | None = None, skip: str = "") -> list[str]:
    """Each bad field as "label: message" (the message alone when the field has no label),
    translated; a message equal to ``skip`` (the error's own message) is left out."""
    out = []
    for key, message in (fields or {}).items():
        text = tr(message)
        if not text or text == skip or (skip and text in skip):
            continue
        name = field_label(str(key), labels)
        line = _("%(field)s: %(message)s", field=name, message=text) if name else text
        if line not in out and line != skip:
            out.append(line)
    return out


def describe(exc: XinfangError, labels: Mapping | None = None, *, brief: bool = False) -> str:
    """The error as one sentence for a flash: its message, then the bad fields in brackets.
    ``brief``: only the fields when there are some (the flash already says what failed)."""
    message = tr(exc.message)
    if isinstance(exc.message, Msg) and any(isinstance(v, Fields) for v in exc.message.params.values()):
        return message  # the message names the fields already
    lines = field_lines(exc.fields, labels, skip=message)
    if not lines:
        return message
    details = _("; ").join(lines)
    if brief:
        return details
    return _("%(message)s (%(details)s)", message=message, details=details)


def chinese_page() -> bool:
    from flask_babel import get_locale

    return str(get_locale() or "zh_Hant").startswith("zh")


def day(value) -> str:
    """A date as the page's language writes it: 2026年12月13日 on Chinese pages, ISO 8601
    (2026-12-13) in English. Inputs, URLs and the API keep ISO."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if chinese_page():
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def local_time(value, tz, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the office's time zone; the date part written as ``day`` writes it."""
    if value is None:
        return ""
    moment = value.astimezone(tz)
    if fmt.startswith("%Y-%m-%d") and chinese_page():
        rest = fmt[len("%Y-%m-%d"):]
        return day(moment.date()) + (moment.strftime(rest) if rest else "")
    return moment.strftime(fmt)


def form_labels(form) -> dict[str, str]:
    """A WTForms form's field labels by field name."""
    return {name: str(field.label.text) for name, field in form._fields.items()}


#: WTForms' own catalogues by our locale: its "zh" is Simplified, so 繁體中文 pages take "zh_TW".
WTFORMS_LOCALES = {"zh_Hant": "zh_TW", "zh_Hans": "zh", "en": "en"}


class WTFormsTranslations:
    """WTForms' built-in messages ("This field is required.", a number out of range) in the
    page's script: Flask-WTF asks Babel for the locale "zh_Hant", which WTForms' catalogues
    resolve to their Simplified "zh"; this picks "zh_TW" for Traditional pages."""

    def _catalog(self):
        from babel import support
        from flask import g, has_request_context
        from flask_babel import get_locale
        from wtforms.i18n import messages_path

        if not has_request_context():
            return None
        if "wtforms_catalog" not in g:
            locale = WTFORMS_LOCALES.get(str(get_locale() or "zh_Hant"), "zh_TW")
            g.wtforms_catalog = support.Translations.load(messages_path(), [locale], domain="wtforms")
        return g.wtforms_catalog

    def gettext(self, string):
        catalog = self._catalog()
        return string if catalog is None else catalog.ugettext(string)

    def ngettext(self, singular, plural, n):
        catalog = self._catalog()
        if catalog is None:
            return singular if n == 1 else plural
        return catalog.ungettext(singular, plural, n)


def init_messages(app) -> None:
    """Templates translate ``Msg`` too: ``{{ _(error) }}`` on a field error or the error page
    gives the catalogued wording with its placeholders filled."""
    from jinja2 import pass_context
    from markupsafe import escape

    env = app.jinja_env
    plain = env.globals["gettext"]

    @pass_context
    def _gettext(context, string, **variables):
        if isinstance(string, Msg):
            # filled in here, not by the i18n extension: a value may hold what a user typed
            text = tr(string)
            return escape(text) if context.eval_ctx.autoescape else text
        return plain(context, string, **variables)

    env.globals["gettext"] = env.globals["_"] = _gettext
    env.globals["field_lines"] = field_lines
    env.globals["tr"] = tr
    env.globals["local_time"] = local_time
    # Flask-WTF's forms take their built-in messages from this module-level object
    import flask_wtf.form

    flask_wtf.form.translations = WTFormsTranslations()
    app.add_template_filter(day, "day")
