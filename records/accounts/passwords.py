"""Password strength: a length floor and a maintained estimator (zxcvbn, Dropbox's, as
packaged on PyPI) that refuses common passwords, keyboard walks, repeats, dates and
passwords built from the account's own names; the refusal says why."""
from __future__ import annotations

from zxcvbn import zxcvbn

from records.errors import Msg, ValidationError

MIN_PASSWORD = 10
MAX_PASSWORD = 256
#: zxcvbn's score (0 too guessable … 4 very unguessable) a password must reach.
MIN_SCORE = 3
#: zxcvbn looks at this many characters (its limit); the rest only adds strength.
_ESTIMATE_CHARS = 72


def _refuse(problem: Msg) -> None:
    raise ValidationError(Msg("The password is too weak: %(why)s", why=problem), fields={"password": problem})


def check(password, *, user_inputs: tuple[str, ...] | list[str] = ()) -> None:
    """Raise ``ValidationError`` naming the reason when ``password`` is too weak.

    ``user_inputs``: words of the account (user name, display name, office) a password must
    not be built from."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        _refuse(Msg("use at least %(n)s characters.", n=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        _refuse(Msg("use at most %(n)s characters.", n=MAX_PASSWORD))
    if len(set(password)) < 4:
        _refuse(Msg("use at least 4 different characters."))
    words = [w for w in user_inputs if isinstance(w, str) and w.strip()]
    words += [part for w in words for part in w.replace(".", " ").replace("_", " ").replace("-", " ").split()]
    folded = password.casefold()
    for word in words:
        w = word.casefold()
        if len(w) >= 3 and w in folded and len(folded.replace(w, "")) < MIN_PASSWORD:
            _refuse(Msg("it is built from the account's own name; choose words that have nothing to do with it."))
    result = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return
    # zxcvbn's own feedback is English only: the refusal says it in the catalogue's words
    _refuse(Msg("it is too easy to guess (a common password, a pattern, a date or a repeat). "
                "A few unrelated words make a strong password."))
