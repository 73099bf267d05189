"""Translated labels for the stored codes (channels, categories, statuses, roles)."""
from flask_babel import lazy_gettext as _l

CHANNEL_LABELS = {
    "letter": _l("Letter"), "email": _l("E-mail"), "fax": _l("Fax"), "phone": _l("Phone"),
    "visit": _l("Visit"), "online": _l("Online"),
}
CATEGORY_LABELS = {
    "labour_wages": _l("Labour and wages"), "land_housing": _l("Land and housing"),
    "social_security": _l("Social security"), "environment": _l("Environment"),
    "law_enforcement": _l("Law enforcement"), "staff_conduct": _l("Staff conduct"),
    "policy_consultation": _l("Policy consultation"), "urban_management": _l("Urban management"),
    "other": _l("Other"),
}
STATUS_LABELS = {
    "registered": _l("Registered"),
}
ROLE_LABELS = {
    "clerk": _l("Clerk"), "handler": _l("Handler"), "leader": _l("Leader"), "chief": _l("Chief"),
    "archivist": _l("Archivist"), "inspector": _l("Inspector"), "admin": _l("Administrator"),
}
EVENT_LABELS = {
    "registered": _l("Registered"), "corrected": _l("Corrected"),
}


def label(table: dict, code: str | None) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def init_labels(app) -> None:
    @app.context_processor
    def _labels():
        return {
            "CHANNEL_LABELS": CHANNEL_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
            "STATUS_LABELS": STATUS_LABELS, "ROLE_LABELS": ROLE_LABELS, "EVENT_LABELS": EVENT_LABELS,
            "label": label,
        }
