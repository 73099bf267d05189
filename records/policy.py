"""The one access policy: who may do what, on which record.

Permissions are named apart from roles (as in Plone's ``permissions.py``); one table maps
each permission to the roles that hold it and the *scope* in which they hold it. The web
views, the API, the CLI and search all ask this module; nothing else tests a role.

A member of staff named as complained about (被反映人) on a record is refused everything
on it, whatever their roles.
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from records.errors import AccessDenied, NotFound
from records.accounts.models import LeaderOffice, User
from records.reference.models import Office
from records.models import Record, RecordExclusion

# -- permissions --------------------------------------------------------------
REGISTER = "register"
VIEW_LEDGER = "view_ledger"            # the ledger line: clear metadata only
VIEW_CONTENT = "view_content"          # subject, body, notes, attachments, history
VIEW_IDENTITY = "view_identity"        # petitioner identity unmasked
CORRECT_RECORD = "correct_record"      # correct the registered document (keeps history)
MANAGE_USERS = "manage_users"
VIEW_AUDIT = "view_audit"
USE_API = "use_api"
VIEW_RETENTION = "view_retention"          # batches, destruction lists, certificates: metadata only
MANAGE_RETENTION = "manage_retention"      # seal batches, propose destruction lists
APPROVE_DESTRUCTION = "approve_destruction"  # approve or exclude (never one's own proposal); run
PLACE_HOLD = "place_hold"                  # put or lift a hold on a letter or batch
EXCLUDE_STAFF = "exclude_staff"        # name staff a record complains about (被反映人), see the list
LIFT_EXCLUSION = "lift_exclusion"      # take a name off that list (with a reason)
# the life of a matter (records/workflow.py prints which transition needs which)
DECIDE = "decide"                      # accept, route, answer, decline, conclude (呈閱/批示)
STORE_LETTER = "store_letter"          # store a letter (存信) with an Art 11 reason
HANDLE = "handle"                      # investigate, record findings, reply, return a mis-sent matter
APPROVE_EXTENSION = "approve_extension"  # extend the time limit once, at most 30 days (Art 8)
REGISTER_REVIEW = "register_review"    # register the petitioner's request for review / re-review
VIEW_BOARD = "view_board"              # the supervision board (督辦) and its CSV export
SEARCH = "search"                      # full-text search (hits limited to VIEW_CONTENT, see principals)
IDENTITY_LOOKUP = "identity_lookup"    # look up letters by ID number, phone or name (with a reason)
# statistics, reports, exports and the duty roster (records/stats.py, reports.py, exports.py, roster.py)
VIEW_STATS = "view_stats"              # the dashboard, the monthly report: counts over the ledger scope
EXPORT_LEDGER = "export_ledger"        # ledger to XLSX/CSV (identity columns per VIEW_IDENTITY/VIEW_CONTENT)
VIEW_INSPECTION = "view_inspection"    # the reception-activity report of each leader (Art 18)
VIEW_ROSTER = "view_roster"            # the duty roster and who receives today
MANAGE_ROSTER = "manage_roster"        # build and change the duty roster (Art 20)
# separation of duties (MLPS 2.0 level 3, GB/T 22239-2019)
#: A finding's outcome (屬實/部分屬實/不屬實) on one record judges what the letter says: it
#: goes with the content, so not to the archivist or the inspector (issue 15 decided this;
#: the inspector still has outcome counts in the statistics).
VIEW_FINDINGS = "view_findings"
CONFIRM_GRANT = "confirm_grant"        # confirm or refuse a grant of a role that reads letters (second person)
USE_ACCOUNT = "use_account"            # one's own account page: sessions, API tokens
# reference data (records/reference/): regions, categories, units, calendar, letterhead
VIEW_REFERENCE = "view_reference"      # look up regions, categories, units, the calendar
MANAGE_REFERENCE = "manage_reference"  # change them, the jurisdiction and the letterhead
# about people rather than records: who may be put on a list (ask ``holders``), which rule binds whom
BE_FIRST_RESPONDER = "be_first_responder"  # be named first responder (首問責任人) of a letter or visit
RECEIVE_VISITORS = "receive_visitors"  # hold a reception day of the duty roster (接待日, Art 18/20)
BE_ON_DUTY = "be_on_duty"              # be staff on duty (值班) on the roster
SECOND_FACTOR = "second_factor"        # a rule, not a right: must sign in with a second factor

# -- scopes -------------------------------------------------------------------
ALL = "all"
OWN = "own"
OFFICE = "office"
OVERSEEN = "overseen"
GLOBAL = "global"
#: What each scope means (the legend of ``xinfang access table``).
SCOPES: dict[str, str] = {
    ALL: "every record",
    OWN: "records the user registered or is first responder of",
    OFFICE: "records held by the user's office",
    OVERSEEN: "records held by an office the user oversees (always including intake)",
    GLOBAL: "not about a record",
}

#: permission -> role -> scope. Print it with ``xinfang access table``.
PERMISSIONS: dict[str, dict[str, str]] = {
    REGISTER:       {"clerk": GLOBAL, "leader": GLOBAL, "chief": GLOBAL},
    VIEW_LEDGER:    {"clerk": ALL, "handler": OFFICE, "leader": OVERSEEN, "chief": ALL,
                     "archivist": ALL, "inspector": ALL},
    VIEW_CONTENT:   {"clerk": OWN, "handler": OFFICE, "leader": OVERSEEN, "chief": ALL},
    VIEW_IDENTITY:  {"clerk": OWN, "leader": OVERSEEN, "chief": ALL},
    CORRECT_RECORD: {"clerk": OWN, "leader": OVERSEEN, "chief": ALL},
    MANAGE_USERS:   {"admin": GLOBAL},
    VIEW_AUDIT:     {"inspector": GLOBAL, "chief": GLOBAL},
    EXCLUDE_STAFF:  {"clerk": OWN, "leader": OVERSEEN, "chief": ALL},
    LIFT_EXCLUSION: {"leader": OVERSEEN, "chief": ALL},
    DECIDE:         {"leader": OVERSEEN, "chief": ALL},
    STORE_LETTER:   {"clerk": OWN, "leader": OVERSEEN, "chief": ALL},
    HANDLE:         {"handler": OFFICE, "leader": OVERSEEN, "chief": ALL},
    APPROVE_EXTENSION: {"leader": OVERSEEN, "chief": ALL},
    REGISTER_REVIEW: {"clerk": ALL, "leader": OVERSEEN, "chief": ALL},
    VIEW_BOARD:     {"leader": GLOBAL, "chief": GLOBAL, "inspector": GLOBAL},
    VIEW_RETENTION: {"archivist": GLOBAL, "leader": GLOBAL, "chief": GLOBAL, "inspector": GLOBAL},
    MANAGE_RETENTION: {"archivist": GLOBAL},
    APPROVE_DESTRUCTION: {"leader": GLOBAL, "chief": GLOBAL},
    PLACE_HOLD:     {"leader": GLOBAL, "chief": GLOBAL},
    SEARCH:         {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL},
    IDENTITY_LOOKUP: {"leader": GLOBAL, "chief": GLOBAL},
    VIEW_STATS:     {"leader": GLOBAL, "chief": GLOBAL, "inspector": GLOBAL},
    EXPORT_LEDGER:  {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL, "inspector": GLOBAL},
    VIEW_INSPECTION: {"chief": GLOBAL, "inspector": GLOBAL},
    VIEW_ROSTER:    {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL, "inspector": GLOBAL},
    MANAGE_ROSTER:  {"leader": GLOBAL, "chief": GLOBAL},
    VIEW_FINDINGS:  {"clerk": OWN, "handler": OFFICE, "leader": OVERSEEN, "chief": ALL},
    CONFIRM_GRANT:  {"admin": GLOBAL, "chief": GLOBAL},
    USE_ACCOUNT:    {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL,
                     "archivist": GLOBAL, "inspector": GLOBAL, "admin": GLOBAL},
    VIEW_REFERENCE: {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL,
                     "archivist": GLOBAL, "inspector": GLOBAL, "admin": GLOBAL},
    MANAGE_REFERENCE: {"admin": GLOBAL},
    BE_FIRST_RESPONDER: {"leader": GLOBAL, "chief": GLOBAL},
    RECEIVE_VISITORS: {"leader": GLOBAL, "chief": GLOBAL},
    BE_ON_DUTY:     {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL},
    SECOND_FACTOR:  {"leader": GLOBAL, "chief": GLOBAL},
    USE_API:        {"clerk": GLOBAL, "handler": GLOBAL, "leader": GLOBAL, "chief": GLOBAL,
                     "archivist": GLOBAL, "inspector": GLOBAL, "admin": GLOBAL},
}


#: 首問責任制 (Art 17): the first leader who receives a petitioner stays responsible until the
#: petitioner stops petitioning (息訪). Only these roles can be named first responder, and a
#: first responder of these roles keeps these permissions on the matter wherever it is routed,
#: until ``petitioning_ceased_on`` is recorded.
FIRST_RESPONDER_ROLES = tuple(PERMISSIONS[BE_FIRST_RESPONDER])
FIRST_RESPONDER_KEEPS = (VIEW_LEDGER, VIEW_CONTENT)


def may_be_first_responder(user: User | None) -> bool:
    """Can ``user`` be named first responder (Art 17: the first leader who receives the visit)?"""
    return user is not None and user.active and any(r in FIRST_RESPONDER_ROLES for r in user.role_set)


def _follows(user: User, record: Record, permission: str) -> bool:
    """``user`` is the matter's first responder and still follows it (no 息訪 yet)."""
    return (permission in FIRST_RESPONDER_KEEPS and record.first_responder_id == user.id
            and record.petitioning_ceased_on is None and may_be_first_responder(user))


#: What an API token's scope lets it do: the permissions it carries (a token never does more
#: than its user may; a token without the scope is refused the request).
TOKEN_SCOPES: dict[str, frozenset[str]] = {
    "read": frozenset({VIEW_LEDGER, VIEW_CONTENT, VIEW_IDENTITY, VIEW_BOARD, VIEW_RETENTION, SEARCH,
                       VIEW_STATS, EXPORT_LEDGER, VIEW_INSPECTION, VIEW_ROSTER, VIEW_AUDIT, VIEW_REFERENCE,
                       VIEW_FINDINGS}),
    "register": frozenset({REGISTER, CORRECT_RECORD, EXCLUDE_STAFF}),
    "workflow": frozenset({DECIDE, STORE_LETTER, HANDLE, APPROVE_EXTENSION, REGISTER_REVIEW, LIFT_EXCLUSION}),
    "lookup": frozenset({IDENTITY_LOOKUP}),
    "retention": frozenset({MANAGE_RETENTION, APPROVE_DESTRUCTION, PLACE_HOLD}),
    "reference": frozenset({MANAGE_REFERENCE}),
}
#: Scopes a token may only carry once its user has a second factor set up.
SECOND_FACTOR_SCOPES = frozenset({"lookup"})


def token_scopes_for(user: User | None) -> list[str]:
    """The token scopes ``user``'s roles give any use to, in table order."""
    return [scope for scope, perms in TOKEN_SCOPES.items() if any(holds(user, p) for p in perms)]


def content_roles() -> frozenset[str]:
    """The roles that read letters: granting one needs a second person's confirmation, and
    none may be held together with ``admin`` (MLPS 2.0: no administrator reads petitions)."""
    return frozenset(PERMISSIONS[VIEW_CONTENT]) | frozenset(PERMISSIONS[VIEW_IDENTITY])


def role_conflict(roles) -> str | None:
    """Why this set of roles may not be held by one account, else None."""
    roles = set(roles)
    if "admin" in roles and roles & (content_roles() | set(PERMISSIONS[VIEW_AUDIT])):
        return ("An administrator cannot also hold a role that reads letters or the audit trail "
                "(clerk, handler, leader, chief, inspector): separation of duties.")
    return None


def _overseen_ids(user: User) -> set[int]:
    ids = {o.id for o in user.overseen}
    return ids


def _in_scope(user: User, scope: str, record: Record | None) -> bool:
    if scope in (ALL, GLOBAL):
        return True
    if record is None:
        return False
    if scope == OWN:
        return user.id in (record.registered_by_id, record.first_responder_id)
    if scope == OFFICE:
        return user.office_id is not None and record.office_id == user.office_id
    if scope == OVERSEEN:
        return record.office_id in _overseen_ids(user) or bool(record.office and record.office.is_intake)
    raise ValueError(scope)


def is_excluded(user: User, record: Record) -> bool:
    return any(x.user_id == user.id for x in record.excluded_users)


def can(user: User | None, permission: str, record: Record | None = None) -> bool:
    """May ``user`` exercise ``permission`` (on ``record`` when the permission is per record)?"""
    if user is None or not user.active:
        return False
    if record is not None and is_excluded(user, record):
        return False
    grants = PERMISSIONS[permission]
    if record is not None and _follows(user, record, permission):
        return True
    return any(_in_scope(user, grants[r], record) for r in user.role_set if r in grants)


def holds(user: User | None, permission: str, *, even_inactive: bool = False) -> bool:
    """Does ``user`` hold ``permission`` in any scope (on some record, or globally)?
    ``even_inactive``: would their roles give it them, were the account active?"""
    if user is None or not (user.active or even_inactive):
        return False
    return any(r in PERMISSIONS[permission] for r in user.role_set)


def holders(session: Session, permission: str, *, record: Record | None = None,
            office: Office | None = None, include_inactive: bool = False) -> list[User]:
    """The active accounts that hold ``permission`` (on ``record`` when given; in ``office``
    when given), by display name: the candidate lists ("who may be first responder", "who
    may receive visitors", "who may approve") asked of the policy, never of the roles.
    ``include_inactive``: deactivated accounts too, as roles gave it them (past activity)."""
    query = select(User).order_by(User.display_name, User.username)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    if office is not None:
        query = query.where(User.office_id == office.id)
    users = session.execute(query).scalars().all()
    if record is not None:
        return [u for u in users if can(u, permission, record)]
    return [u for u in users if holds(u, permission, even_inactive=include_inactive)]


def second_factor_roles() -> tuple[str, ...]:
    """The roles that must sign in with a second factor (the ``SECOND_FACTOR`` rule)."""
    return tuple(PERMISSIONS[SECOND_FACTOR])


def requires_second_factor(user: User | None, roles: tuple[str, ...] | None = None) -> bool:
    """Must ``user`` sign in with a second factor? ``roles``: the roles the instance enforces
    the rule for (None: the policy's; an empty tuple switches it off, as the test app does)."""
    if user is None:
        return False
    bound = second_factor_roles() if roles is None else tuple(roles)
    return any(r in bound for r in user.role_set)


def require_own_draft(user: User | None, uploaded_by_id: int | None) -> None:
    """A scan recognised on the registration form before its letter exists (a draft, records.intake)
    is its uploader's alone, while they may register letters; to anyone else it does not exist."""
    if user is None or uploaded_by_id is None or user.id != uploaded_by_id or not holds(user, REGISTER):
        raise NotFound("No such scan draft.")


def require(user: User | None, permission: str, record: Record | None = None) -> None:
    """Raise if not allowed. A record whose ledger line the user may not see is 'not found',
    so guessing serials tells nothing."""
    if can(user, permission, record):
        return
    if record is not None and not can(user, VIEW_LEDGER, record):
        raise NotFound("No such record.")
    raise AccessDenied("You are not allowed to do this.")


def scope_clause(user: User, permission: str = VIEW_LEDGER) -> ColumnElement[bool]:
    """A SQL condition selecting exactly the records on which ``user`` holds ``permission``."""
    if not user.active:
        return false()
    grants = PERMISSIONS[permission]
    scopes = {grants[r] for r in user.role_set if r in grants}
    parts: list[ColumnElement[bool]] = []
    if ALL in scopes:
        parts.append(true())
    if OWN in scopes:
        parts.append(or_(Record.registered_by_id == user.id, Record.first_responder_id == user.id))
    if OFFICE in scopes and user.office_id is not None:
        parts.append(Record.office_id == user.office_id)
    if OVERSEEN in scopes:
        intake = select(Office.id).where(Office.is_intake.is_(True))
        overseen = select(LeaderOffice.office_id).where(LeaderOffice.user_id == user.id)
        parts.append(or_(Record.office_id.in_(intake), Record.office_id.in_(overseen)))
    if permission in FIRST_RESPONDER_KEEPS and may_be_first_responder(user):
        parts.append(and_(Record.first_responder_id == user.id, Record.petitioning_ceased_on.is_(None)))
    if not parts:
        return false()
    excluded = select(RecordExclusion.record_id).where(RecordExclusion.user_id == user.id)
    return or_(*parts) & Record.id.not_in(excluded)


# -- search principals (as Plone's allowedRolesAndUsers) ------------------------------
def _principal(role: str, scope: str, *parts: object) -> str:
    return ":".join([role, scope, *map(str, parts)])


def record_principals(record: Record, permission: str = VIEW_CONTENT) -> set[str]:
    """The principals that hold ``permission`` on ``record``, derived from PERMISSIONS.

    A user may see a record in the search index when ``user_principals`` shares one of
    these and the user is not on ``record_denied``; the same table, so the same answer as
    ``can``."""
    out: set[str] = set()
    for role, scope in PERMISSIONS[permission].items():
        if scope in (ALL, GLOBAL):
            out.add(_principal(role, ALL))
        elif scope == OWN:
            for uid in {record.registered_by_id, record.first_responder_id} - {None}:
                out.add(_principal(role, "user", uid))
        elif scope == OFFICE:
            out.add(_principal(role, OFFICE, record.office_id))
        elif scope == OVERSEEN:
            # every leader oversees the intake, whichever office id it has
            intake = bool(record.office and record.office.is_intake)
            out.add(_principal(role, OVERSEEN, "intake" if intake else record.office_id))
        else:  # pragma: no cover - a new scope must be taught here
            raise ValueError(scope)
    if permission in FIRST_RESPONDER_KEEPS and record.first_responder_id and record.petitioning_ceased_on is None:
        out.add(f"first_responder:{record.first_responder_id}")
    return out


def record_denied(record: Record) -> set[str]:
    """The staff a record complains about, as principals refused it whatever their roles."""
    return {f"user:{x.user_id}" for x in record.excluded_users}


def user_principals(user: User | None, permission: str = VIEW_CONTENT) -> set[str]:
    """The principals ``user`` holds for ``permission`` (empty for inactive users)."""
    if user is None or not user.active:
        return set()
    out: set[str] = set()
    grants = PERMISSIONS[permission]
    for role in user.role_set:
        scope = grants.get(role)
        if scope in (ALL, GLOBAL):
            out.add(_principal(role, ALL))
        elif scope == OWN:
            out.add(_principal(role, "user", user.id))
        elif scope == OFFICE and user.office_id is not None:
            out.add(_principal(role, OFFICE, user.office_id))
        elif scope == OVERSEEN:
            out.add(_principal(role, OVERSEEN, "intake"))
            out.update(_principal(role, OVERSEEN, oid) for oid in sorted(_overseen_ids(user)))
    if permission in FIRST_RESPONDER_KEEPS and may_be_first_responder(user):
        out.add(f"first_responder:{user.id}")
    return out


def user_denial(user: User) -> str:
    """The principal under which ``record_denied`` names ``user``."""
    return f"user:{user.id}"


def table() -> list[tuple[str, dict[str, str]]]:
    """The permission table as rows (permission, {role: scope}), for docs and ``xinfang access table``."""
    return [(p, dict(g)) for p, g in PERMISSIONS.items()]


# -- identity masking ---------------------------------------------------------
def _mask_keep(value: str, head: int, tail: int) -> str:
    chars = list(value)
    if len(chars) <= head + tail:
        return (chars[0] if chars else "") + "*" * max(len(chars) - 1, 0)
    return "".join(chars[:head]) + "*" * (len(chars) - head - tail) + "".join(chars[len(chars) - tail:])


def mask_name(name: str) -> str:
    """王小明 → 王**; John Smith → J*********."""
    name = name.strip()
    return (name[:1] + "*" * (len(name) - 1)) if name else ""


def mask_id_number(value: str) -> str:
    """110101199001011234 → 1101**********1234."""
    return _mask_keep(value.strip(), 4, 4) if value else ""


def mask_phone(value: str) -> str:
    """13812345678 → 138****5678."""
    return _mask_keep(value.strip(), 3, 4) if value else ""


def mask_address(value: str) -> str:
    """Keep the first few characters (province/city), hide the rest."""
    value = value.strip()
    if not value:
        return ""
    keep = 3 if any(unicodedata.east_asian_width(c) in "WF" for c in value) else 6
    return value[:keep] + "****"


def petitioner_view(petitioner: dict, unmasked: bool) -> dict:
    """The petitioner block as a viewer may see it."""
    if unmasked:
        return dict(petitioner, masked=False)
    return {
        "name": mask_name(petitioner.get("name", "")),
        "id_number": mask_id_number(petitioner.get("id_number", "")),
        "phone": mask_phone(petitioner.get("phone", "")),
        "address": mask_address(petitioner.get("address", "")),
        "masked": True,
    }
