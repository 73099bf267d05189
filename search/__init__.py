"""Encrypted full-text search, identity look-ups and repeat-letter detection.

``analysis`` normalises and cuts text into bigrams and words; ``blind`` turns each term into
a keyed hash; ``whoosh_backend`` keeps the blind index on disk behind the small interface of
``interface``; ``indexer`` feeds it from the transactional outbox (one writer), rebuilds and
checks it; ``query`` parses the query language and runs searches under the access policy;
``lookups`` and ``repeats`` work on the identity blind index of ``records``. Never imports
Flask. What the index leaks is written down in ``docs/search-threat-model.md``.
"""
