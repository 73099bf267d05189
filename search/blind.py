"""Blind tokens: every term is replaced by a truncated keyed hash before it reaches the index.

A blind token is ``base64url(HMAC-SHA256(key, field_tag + token))[:TOKEN_BYTES]``. The key is
the instance's ``blind-token`` purpose key (HKDF from the master keyring, used for nothing
else). It lives in this object's memory only: a ``Blinder`` refuses to be pickled, and what
the index keeps about the key is its *id* (an HMAC of a fixed label), which says which key
built an index without revealing it.

The field tag keeps the same text in two fields (a lone character in the positional field
and in the character field) from producing the same token.
"""
from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable

#: Bytes of HMAC kept per token: 64 bits, so the bigrams of a large archive (a few million
#: distinct terms at most) practically never collide; a collision could only add a hit that
#: the phrase positions and the access re-check then see.
TOKEN_BYTES = 8
#: Memoised tokens per field before the memo is cleared (plaintext terms held in memory only).
MEMO_LIMIT = 400_000

TEXT = b"t\x00"
CHARS = b"c\x00"


def key_id(key: bytes) -> str:
    """A public name for a key: HMAC of a fixed label, so it identifies but does not reveal."""
    return hmac.digest(key, b"xinfang/blind-token/key-id", "sha256")[:6].hex()


class Blinder:
    """Turns analysed tokens into blind tokens with one key, memoising repeated terms."""

    __slots__ = ("_key", "key_id", "_memo")

    def __init__(self, key: bytes):
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("a blind-token key of at least 16 bytes is required")
        self._key = key
        self.key_id = key_id(key)
        self._memo: dict[bytes, dict[str, str]] = {TEXT: {}, CHARS: {}}

    def __reduce__(self):
        raise TypeError("a Blinder holds a key and is never pickled (the index keeps only its key id)")

    def __repr__(self) -> str:
        return f"<Blinder key_id={self.key_id}>"

    def _hash(self, tag: bytes, token: str) -> str:
        digest = hmac.digest(self._key, tag + token.encode("utf-8"), "sha256")
        return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).rstrip(b"=").decode("ascii")

    def _many(self, tag: bytes, tokens: Iterable[str]) -> list[str]:
        memo = self._memo[tag]
        if not isinstance(tokens, (list, tuple)):
            tokens = list(tokens)
        try:
            return [memo[t] for t in tokens]
        except KeyError:
            pass
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        out = []
        for t in tokens:
            b = memo.get(t)
            if b is None:
                b = memo[t] = self._hash(tag, t)
            out.append(b)
        return out

    def text(self, tokens: Iterable[str]) -> list[str]:
        """Blind tokens of the positional text field, in order."""
        return self._many(TEXT, tokens)

    def chars(self, chars: Iterable[str]) -> list[str]:
        """Blind tokens of the character field (one-character queries)."""
        return self._many(CHARS, chars)

    def text_one(self, token: str) -> str:
        return self.text((token,))[0]

    def char_one(self, ch: str) -> str:
        return self.chars((ch,))[0]

    def forget(self) -> None:
        """Drop the memo (the plaintext terms it holds), e.g. after a bulk reindex."""
        for memo in self._memo.values():
            memo.clear()
