"""Encrypted full-text search, identity look-ups and repeat-letter detection.

``analysis`` normalises (``variants``: one class per variant character) and cuts text into
pairs of adjacent characters; ``blind`` turns each term into a keyed hash; ``scoring`` is the
BM25 both backends rank by; ``interface`` is the small interface every index backend offers (documents of
blind tokens, a neutral query tree, access); ``whoosh`` keeps the blind index on disk and
``postgres`` in the database, and ``factory`` builds the one configured; ``indexer`` feeds it
from the transactional outbox (one writer), rebuilds and checks it; ``query`` parses the
query language and runs searches under the access policy; ``lookups`` and ``repeats`` work
on the identity blind index of ``records``. Never imports
Flask. What the index leaks is written down in ``docs/search-threat-model.md``.
"""
