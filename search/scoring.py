"""The one relevance score of both backends: BM25 over the blind tokens.

Whoosh (``search.whoosh``'s array search) and PostgreSQL (``search.postgres``) compute
exactly this, from the same integers, in the same order of floating-point operations, so a
query ranks its hits the same on both (the tests compare first pages):

* a text token ``t`` of a letter scores ``idf(t) · tf·(K1+1) / (tf + K1·(1−B + B·dl/avgdl))``
  with ``tf`` its occurrences in the letter (at most ``MAX_TF``: PostgreSQL keeps 256
  positions of a term), ``dl`` the letter's number of tokens as Whoosh stores it (one byte,
  ``quantised_length``), ``avgdl`` the mean ``dl`` of the live letters;
* ``idf(t) = ln(N / (df + 1)) + 1`` (Whoosh's formula) with ``N`` the live letters and ``df``
  the live letters holding ``t`` — computed in Python for both backends;
* a phrase scores the sum of its tokens; a one-character term the ``idf`` of the character;
  AND adds its parts, OR the parts that match; a filter, ``NOT`` or "everything" scores 1;
* ties: the letter received later first, then the one registered later (higher record id).
"""
from __future__ import annotations

import math

from whoosh.util.numeric import byte_to_length, length_to_byte

K1 = 1.2
B = 0.75
#: K1 + 1 and 1 − B, computed once so both backends use the very same doubles.
K1_PLUS_1 = K1 + 1
ONE_MINUS_B = 1 - B
#: Occurrences of a token counted per letter (PostgreSQL's positions per term).
MAX_TF = 256


def quantised_length(tokens: int) -> int:
    """A letter's length as Whoosh keeps it (one byte, coarser for long letters)."""
    return int(byte_to_length(length_to_byte(tokens)))


def idf(documents: int, df: int) -> float:
    """Inverse document frequency of a token held by ``df`` of ``documents`` live letters."""
    if documents <= 0:
        return 1.0
    return math.log(documents / (df + 1)) + 1


def average_length(length_sum: int, documents: int) -> float:
    """The mean quantised length of the live letters (1.0 for an empty index)."""
    return (length_sum / documents) if documents > 0 and length_sum > 0 else 1.0
