"""Second factor: TOTP (RFC 6238, pyotp) with one-time recovery codes.

The secret is sealed with the ``totp`` purpose key and bound to the user (associated data);
a code is accepted within one 30-second step either side of now, and never twice (the last
accepted step is kept). Ten recovery codes are shown once at enrolment; only keyed hashes
(``recovery-code`` purpose key) are stored, and each works once.
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from records import audit, crypto, policy
from records.errors import ValidationError
from records.instance import instance_of
from records.accounts.models import RecoveryCode, TotpSecret, User
from records.db import utcnow

ISSUER = "Xinfang Records"
STEP = 30
#: Steps accepted either side of now (clock drift of the phone).
WINDOW = 1
RECOVERY_CODES = 10
#: Roles that must sign in with a second factor: the policy's ``SECOND_FACTOR`` rule (the leaders).
DEFAULT_REQUIRED_ROLES = policy.second_factor_roles()
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _aad(user: User) -> bytes:
    return crypto.aad(f"user-{user.id}", "totp-secret")


def _secret(session: Session, row: TotpSecret, user: User) -> str:
    key = instance_of(session).purpose_key("totp")
    return crypto.open_sealed(key, row.secret_sealed, _aad(user)).decode()


def _hash_code(session: Session, code: str) -> bytes:
    key = instance_of(session).purpose_key("recovery-code")
    return crypto.keyed_hash(key, code.encode())


def _normalise(code) -> str:
    if not isinstance(code, str) or len(code) > 64:
        return ""
    return "".join(ch for ch in code if ch.isascii() and ch.isalnum()).lower()


def required_for(user: User, roles=None) -> bool:
    """Must ``user`` sign in with a second factor (``roles``: as ``policy.requires_second_factor``)?"""
    return policy.requires_second_factor(user, roles)


def is_enrolled(session: Session, user: User) -> bool:
    row = session.get(TotpSecret, user.id)
    return row is not None and row.confirmed_at is not None


def begin_enrolment(session: Session, user: User) -> tuple[str, str]:
    """A fresh secret (replacing an unconfirmed one); returns (secret, otpauth URI) to show once."""
    row = session.get(TotpSecret, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ValidationError("A second factor is already set up for this account.")
    secret = pyotp.random_base32(32)
    sealed = crypto.seal(instance_of(session).purpose_key("totp"), secret.encode(), _aad(user))
    if row is None:
        session.add(TotpSecret(user_id=user.id, secret_sealed=sealed, last_step=0))
    else:
        row.secret_sealed, row.created_at, row.last_step = sealed, utcnow(), 0
    session.flush()
    return secret, provisioning_uri(user, secret)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=user.username, issuer_name=ISSUER)


def pending_uri(session: Session, user: User) -> str | None:
    """The otpauth URI of an enrolment in progress (to show the QR code again)."""
    row = session.get(TotpSecret, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    return provisioning_uri(user, _secret(session, row, user))


def _match_step(secret: str, code: str, now: float) -> int | None:
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int(now // STEP)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            found = step
    return found


def _check(session: Session, user: User, code, *, confirmed: bool, now: float | None) -> bool:
    row = session.get(TotpSecret, user.id)
    if row is None or (row.confirmed_at is not None) != confirmed:
        return False
    code = "".join(ch for ch in code if not ch.isspace()) if isinstance(code, str) and len(code) <= 32 else ""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    step = _match_step(_secret(session, row, user), code, time.time() if now is None else now)
    if step is None or step <= row.last_step:
        return False   # wrong, or replayed
    row.last_step = step
    session.flush()
    return True


def confirm_enrolment(session: Session, user: User, code, *, now: float | None = None) -> list[str]:
    """Finish enrolment with the first code from the app; returns the recovery codes (shown once)."""
    if not _check(session, user, code, confirmed=False, now=now):
        raise ValidationError("The code is not right. Check the phone's clock and enter the current code.",
                              fields={"code": "Wrong code."})
    session.get(TotpSecret, user.id).confirmed_at = utcnow()
    codes = new_recovery_codes(session, user)
    audit.record(session, "totp.enrol", actor=user, target=user.username)
    return codes


def verify(session: Session, user: User, code, *, now: float | None = None) -> bool:
    """A code from the enrolled authenticator; each step's code works once."""
    return _check(session, user, code, confirmed=True, now=now)


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with ten fresh ones (returned once, stored hashed)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(session, raw)))
    session.flush()
    return codes


def use_recovery_code(session: Session, user: User, code) -> bool:
    """Accept an unused recovery code once; audited."""
    norm = _normalise(code)
    if len(norm) != 10:
        return False
    digest = _hash_code(session, norm)
    rows = session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                      RecoveryCode.used_at.is_(None))).scalars().all()
    row = next((r for r in rows if hmac.compare_digest(r.code_hash, digest)), None)
    if row is None:
        return False
    row.used_at = utcnow()
    session.flush()
    audit.record(session, "totp.recovery_code", actor=user, target=user.username,
                 detail={"left": len(rows) - 1})
    return True


def recovery_codes_left(session: Session, user: User) -> int:
    return len(session.execute(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                             RecoveryCode.used_at.is_(None))).all())


def reset(session: Session, user: User, *, by: User | None = None) -> None:
    """Remove the second factor (lost phone, no codes left): the user enrols again at next sign-in."""
    session.execute(delete(TotpSecret).where(TotpSecret.user_id == user.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_epoch += 1
    # every session and API token ends: they were opened with the factor now withdrawn
    from records.accounts import sessions, tokens

    ended = sessions.end_all(session, user, "second_factor")
    revoked = tokens.revoke_all(session, user)
    session.flush()
    audit.record(session, "totp.reset", actor=by, actor_name=None if by else "system", target=user.username,
                 detail={"sessions_ended": ended, "tokens_revoked": revoked})


def current_code(secret: str, at: dt.datetime | float | None = None) -> str:
    """The code an authenticator shows (for operators' diagnostics and tests)."""
    return pyotp.TOTP(secret, interval=STEP).at(time.time() if at is None else at)
