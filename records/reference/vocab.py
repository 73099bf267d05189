"""Fixed vocabularies: channels, categories, roles. Codes are stored; labels are translated
by the web layer (``app/labels.py``)."""
from __future__ import annotations

CHANNELS = ("letter", "email", "fax", "phone", "visit", "online")

#: Issue areas a petition office keeps statistics on (codes are stable, labels translated).
CATEGORIES = (
    "labour_wages",
    "land_housing",
    "social_security",
    "environment",
    "law_enforcement",
    "staff_conduct",
    "policy_consultation",
    "urban_management",
    "other",
)

ROLES = ("clerk", "handler", "leader", "chief", "archivist", "inspector", "admin")
