"""The bureau's letterhead (bureau name, issuing office, superior body, document-number
pattern, seal line, signature block) and the per-year document numbers (文號) every notice,
reply and certificate carries.

``current(session)`` is what the renderers read; ``update`` is the administrator's edit (audited);
``next_document_number`` allocates in the caller's unit of work, gap-free per year, like the
record serials (``records.cases.operations.allocate_serial``): the counter row is locked by
the UPDATE until commit and rolls back with a failed issue, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import string
from dataclasses import asdict, dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from records import audit
from records.reference import require_manager
from records.errors import Msg, ValidationError, details as _details
from records.reference.models import BureauProfile, DocumentCounter

#: The letterhead of a new instance until the administrator enters the bureau's own.
DEFAULT = {
    "bureau_name": "某市科學技術局",
    "issuing_office": "某市科學技術局信訪辦公室",
    "superior_body": "某省科學技術廳",
    "number_pattern": "X科信〔{year}〕{seq}號",
    "seal_line": "（蓋章）",
    "signature_block": "某市科學技術局信訪辦公室",
}

FIELDS = tuple(DEFAULT)
#: The placeholder of the number within the year (kept out of message literals: they are msgids).
SEQ = "{seq}"
#: Longest accepted value per field (the columns' sizes).
MAX_LENGTH = {"bureau_name": 200, "issuing_office": 200, "superior_body": 200, "number_pattern": 100,
              "seal_line": 200, "signature_block": 2000}


@dataclass(frozen=True)
class Letterhead:
    bureau_name: str
    issuing_office: str
    superior_body: str
    #: e.g. "X科信〔{year}〕{seq}號"; ``{seq}`` may carry a width: ``{seq:03d}``.
    number_pattern: str
    seal_line: str
    signature_block: str

    def number(self, year: int, seq: int) -> str:
        """The document number ``seq`` of ``year`` written with the pattern."""
        return self.number_pattern.format(year=year, seq=seq)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _profile(session: Session) -> BureauProfile | None:
    return session.execute(select(BureauProfile).order_by(BureauProfile.id).limit(1)).scalar_one_or_none()


def ensure_profile(session: Session, defaults: dict | None = None) -> BureauProfile:
    """The bureau's profile row, created with ``defaults`` (else ``DEFAULT``) when missing (flushes)."""
    row = _profile(session)
    if row is None:
        row = BureauProfile(id=1, **{**DEFAULT, **(defaults or {})})
        session.add(row)
        session.flush()
    return row


def current(session: Session) -> Letterhead:
    """The letterhead in force (the defaults when no administrator has entered one yet)."""
    row = _profile(session)
    if row is None:
        return Letterhead(**DEFAULT)
    return Letterhead(**{name: getattr(row, name) for name in FIELDS})


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot number documents, or None."""
    try:
        names = {f[1] for f in string.Formatter().parse(pattern) if f[1] is not None}
    except ValueError as exc:
        return f"The pattern is not well formed ({exc}); write braces as {{year}} and {{seq}}."
    if "seq" not in names:
        return f"The pattern must contain {SEQ}, the number within the year."
    unknown = names - {"year", "seq"}
    if unknown:
        return f"Unknown placeholder(s): {', '.join(sorted(unknown))}; use {{year}} and {{seq}}."
    try:
        pattern.format(year=2026, seq=1)
    except (ValueError, IndexError, KeyError) as exc:
        return f"The pattern cannot be filled in ({exc})."
    return None


def validate(values: dict) -> dict[str, str]:
    """The letterhead fields given, checked; a ValidationError names every bad field."""
    unknown = sorted(set(values) - set(FIELDS))
    errors: dict[str, str] = {name: "Unknown field." for name in unknown}
    clean: dict[str, str] = {}
    for name in FIELDS:
        if name not in values:
            continue
        value = values[name]
        if not isinstance(value, str) or not value.strip():
            errors[name] = "Required."
            continue
        value = value.strip()
        if len(value) > MAX_LENGTH[name]:
            errors[name] = Msg("At most %(n)s characters.", n=MAX_LENGTH[name])
            continue
        if "\x00" in value:
            errors[name] = "Contains a NUL character."
            continue
        clean[name] = value
    if "number_pattern" in clean:
        problem = pattern_problem(clean["number_pattern"])
        if problem:
            errors["number_pattern"] = problem
    if errors:
        raise ValidationError(Msg("The letterhead was not saved: %(why)s", why=_details(dict(sorted(errors.items())))),
                              fields=errors)
    return clean


def update_letterhead(session: Session, values: dict, *, by=None, address: str = "") -> Letterhead:
    """Change some or all letterhead fields (the administrator's edit; audited)."""
    require_manager(by)
    clean = validate(values)
    row = ensure_profile(session)
    changed = sorted(name for name, value in clean.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, clean[name])
    session.flush()
    if changed:
        audit.record(session, "reference.letterhead", actor=by, address=address, detail={"fields": changed})
    return current(session)


def next_document_number(session: Session, year: int) -> str:
    """The next document number of ``year`` (e.g. "X科信〔2026〕12號"), in the caller's unit of
    work: unique and gap-free, as the counter row stays locked until commit and rolls back
    with the document that failed."""
    stmt = (update(DocumentCounter).where(DocumentCounter.year == year)
            .values(last=DocumentCounter.last + 1).returning(DocumentCounter.last))
    seq = session.execute(stmt).scalar_one_or_none()
    if seq is None:
        try:
            with session.begin_nested():
                session.execute(insert(DocumentCounter).values(year=year, last=1))
            seq = 1
        except IntegrityError:  # another transaction created the year's counter first
            seq = session.execute(stmt).scalar_one()
    return current(session).number(year, seq)
