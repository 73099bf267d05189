"""The schema of a shard: clear metadata fields and the two blind fields, and how a document
of the backend interface becomes a Whoosh document.

Only lists of blind tokens are ever given to Whoosh; the blind fields' analyzer refuses a
string, so no plaintext can reach the index, its temporary posting runs, or the job files
of a multi-process writer. The analyzer keeps the key *id*, so an index built with another
key is detected instead of silently finding nothing.

Whoosh pickles the schema into every table of contents, naming these classes by module
path: moving them makes the indexes already on disk unreadable (``storage.FORMAT`` says
when that happened, so such an index is refused with "rebuild it" instead).
"""
from __future__ import annotations

from whoosh import fields
from whoosh.analysis import Token, Tokenizer

from ..interface import IndexDocument
from . import handoff
from .codec import BlindExistence, BlindPositions


class BlindTokensOnly(Tokenizer):
    """The analyzer of the blind fields: holds the key id, never a key. It accepts the lists
    of blind tokens built by ``search.blind`` (Whoosh indexes lists without calling it) and,
    inside a multi-process rebuild, a hand-off value it decrypts, analyses and blinds in the
    sub-writer's memory (``handoff``). Anything else, plain text above all, is refused."""

    def __init__(self, key_id: str, field: str = "text"):
        self.key_id = key_id
        self.field = field

    def __eq__(self, other):
        return isinstance(other, BlindTokensOnly) and other.key_id == self.key_id \
            and getattr(other, "field", "text") == getattr(self, "field", "text")

    def blind_tokens(self, value) -> list[str]:
        """The blind tokens of a field value: the list itself, or those of a hand-off value."""
        if isinstance(value, (list, tuple)):
            return value
        if not handoff.is_sealed(self.key_id, value):
            raise TypeError("the search index accepts lists of blind tokens only, never text")
        return handoff.blind_tokens(self.key_id, value, getattr(self, "field", "text"))

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        if isinstance(value, (list, tuple)):   # Whoosh tokenises lists itself; never asked
            raise TypeError("the search index accepts lists of blind tokens only, never text")
        tokens = self.blind_tokens(value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for i, tok in enumerate(tokens):
            t.text, t.boost = tok, 1.0
            if positions:
                t.pos = start_pos + i
            yield t


def _text_field(key_id: str) -> fields.TEXT:
    field = fields.TEXT(analyzer=BlindTokensOnly(key_id, "text"), phrase=True)
    field.format = BlindPositions(field_boost=field.format.field_boost)
    return field


def make_schema(key_id: str) -> fields.Schema:
    """The schema of every shard of an index built with the blind-token key ``key_id``."""
    return fields.Schema(
        uid=fields.ID(stored=True, unique=True),
        record_id=fields.NUMERIC(int, bits=64, stored=True, sortable=True),   # ties of the ranking
        serial=fields.STORED(),
        doc_version=fields.STORED(),
        status=fields.ID(stored=True, sortable=True),
        channel=fields.ID(stored=True, sortable=True),
        region=fields.ID(stored=True, sortable=True),
        category=fields.ID(stored=True, sortable=True),
        office=fields.ID(stored=True, sortable=True),
        year=fields.NUMERIC(int, stored=True, sortable=True),
        received=fields.NUMERIC(int, bits=64, stored=True, sortable=True),
        allowed=fields.KEYWORD(stored=True),
        denied=fields.KEYWORD(stored=True),
        text=_text_field(key_id),
        chars=fields.FieldType(BlindExistence(), BlindTokensOnly(key_id, "chars"), scorable=True),
    )


def key_id_of(schema) -> str | None:
    """The blind-token key id a shard's schema was built with."""
    return getattr(schema["text"].analyzer, "key_id", None)


def fields_of(doc: IndexDocument) -> dict:
    """The Whoosh fields of a document."""
    out = {
        "uid": doc.uid, "record_id": doc.record_id, "serial": doc.serial, "doc_version": doc.doc_version,
        "status": doc.status, "channel": doc.channel, "region": doc.region, "category": doc.category,
        "office": doc.office, "year": doc.year, "received": doc.received,
        "allowed": " ".join(sorted(doc.allowed)), "denied": " ".join(sorted(doc.denied)),
    }
    # Whoosh indexes a list without calling the analyzer; an empty list is simply left out.
    if doc.text:
        out["text"] = doc.text
    if doc.chars:
        out["chars"] = doc.chars
    return out
