"""Fixed vocabularies: channels and roles. Codes are stored; labels are translated by the web
layer (``app/labels.py``). Categories are the bureau's own, kept as data
(``records.reference.categories``)."""
from __future__ import annotations

CHANNELS = ("letter", "email", "fax", "phone", "visit", "online")
ROLES = ("clerk", "handler", "leader", "chief", "archivist", "inspector", "admin")
