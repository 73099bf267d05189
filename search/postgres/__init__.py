"""The search backend for several machines: the blind tokens in the instance's PostgreSQL database.

Chosen with ``XINFANG_SEARCH_BACKEND=postgresql`` (see ``search.factory``). It holds exactly
what the Whoosh index holds — blind tokens with their positions, blind CJK characters, clear
metadata and principals — in one table of the instance's own database, so every application
machine searches the same index and the indexer can run anywhere. The table and its indexes
are created by the migrations ``20261125_0006_search_pg``, ``20261203_0012_search``,
``20261203_0013_search_partitions``, ``20261203_0014_search_rows``,
``20261204_0015_search_triples``, ``20261204_0016_search_runs`` and
``20261204_0017_search_terms``, ``20261206_0018_search_parts`` and
``20261206_0019_search_changes`` (PostgreSQL only)::

    search_documents   one row per record, partitioned by ``part`` (``schema.part_of``):
                       ``search_documents_s2024_<region hash>`` the stored letters of one
                       destruction batch, ``…_i2024`` a year's letters awaiting their first
                       decision (the only ones that may still be stored), ``…_y2024`` the
                       others; the key is (uid, part), a letter moves when it is decided or
                       stored, or its year or region is corrected
      uid, part, record_id, serial, year, status, channel, region, category, office,
      received (seconds, UTC), doc_version                  clear metadata, as in the ledger
      allowed text[]   principals that may read it  (GIN; a search asks ``allowed && :mine``)
      denied  text[]   users refused it             (a search asks ``NOT denied && :mine``)
      text    tsvector blind tokens of subject, body and notes, with positions (GIN)
      chars   text[]   blind tokens of the distinct characters (GIN; one-character queries)
      length  integer  the letter's number of tokens, as Whoosh quantises it (for BM25)
      repeated_tokens bigint[], repeated_counts smallint[]
                       the tokens it holds more than once (as numbers) and how often: a hit
                       is scored from its row, not from its ``tsvector`` in TOAST
      pairs, triples bigint[]
                       every two and three tokens at consecutive positions, as numbers
                       (GIN): a phrase of two or three tokens is answered by an index alone
      runs    bigint[] every four and five tokens at consecutive positions (GIN): a phrase
                       of four or five tokens (five or six characters) likewise
    search_terms       (part, term) -> documents, partitioned like search_documents: how
                       many live letters of the part hold each blind text token and each
                       blind character (as numbers, ``schema.term_number``): BM25's
                       document frequencies, read with an index probe per term and part.
                       The one writer keeps it in step with the letters in the same
                       transaction (a term no letter of a part holds leaves it); a rebuild
                       counts it afresh (``schema.FILL_TERMS``)
    search_meta        name -> value: the id (never the value) of the blind-token key, the
                       token scheme (``format``), the live letters' count and length sum,
                       the change log's last number and floor
    search_changes     (seq, uid): the letters each writing transaction wrote, numbered in
                       commit order (``schema.log_changes``); trimmed by its writers, a
                       deleted letter never listed

How the query tree maps to SQL: a blind token is ``'tok'`` in a ``tsquery``, a phrase is
``'t1' <-> 't2' <-> 't3'`` (the tokens at consecutive positions: an exact substring; of two
to five tokens, the number of the pair, triple or run in ``pairs``, ``triples`` or ``runs``;
of more, the letters holding all its runs of five, their positions confirmed from the
``tsvector``), a CJK
character is ``chars @> ARRAY['c']``, metadata are columns, AND/OR/NOT are SQL's. Nothing of
a query is interpolated into SQL unchecked: every token is matched against the blind-token
alphabet (base64url, ``[A-Za-z0-9_-]``) before it is quoted into a ``tsquery`` literal, and
every value travels as a bound parameter. The ``tsvector`` is built the same way from the
document's token list (``'tok':1,7 'tok2':2 …``), so PostgreSQL's text-search parser and
dictionaries never see a letter: there is no text to see.

Access is filtered in SQL (principals, refusals, the uids the database refuses right now),
and facet counts are computed in the same SQL over every hit the access allows (a
``GROUPING SETS`` per facet, in the statement of the page), so a user of another office
gets zero hits and zero counts. A query of many hits is read and scored by PostgreSQL's
parallel workers where the planner finds it worth it (``max_parallel_workers_per_gather``,
2 by default; the statement keeps nothing that holds it to one process); a query with
facets that can match very many letters (``compile.SPLIT_FROM``) does not hand every hit to
their leader: ranked by relevance, each hit is read once and counted by the workers, which
hand on only the hits ranked at or before a bound read from a sample of the hits
(``compile.leading_pass``); sorted by date, or for a deep page, the workers make the page
and the counts as two parts (``compile.two_parts``). A search is
never compiled to machine code (``jit``: among 1,000,000 letters that took most of its time).
Relevance is ``search.scoring``'s BM25, the Whoosh backend's too, computed from the same
integers in the same order (a token's occurrences in a letter are read from its row, see
``compile._TF``; the statistics are kept in ``search_meta`` and ``search_terms``), so both
backends give a query the same first page. An index built with an older token scheme is
refused with a message asking for ``xinfang search reindex``.

A query asked again need not be read again (``hitcache``): the second time a query of
many hits is asked (its condition and access alike), the process reads what scoring and
counting need of each hit into arrays and keeps them; later askings read the letters
changed since (``search_changes``) and re-read only those, then score, order and count in
memory with the same operations as the SQL. The answers are the SQL's exactly; OR and NOT
are asked of the SQL every time. Memory per process: ``XINFANG_SEARCH_CACHE_MB``.

Limits of ``tsvector`` (PostgreSQL's, not ours), and what they mean here:

* **Positions are capped at 16383.** A letter's tokens are numbered from 1; tokens after
  position 16383 are kept as terms (a search for one of them alone finds the letter) but
  without their real positions, so **a phrase that lies beyond position 16383 of a very long
  letter is not found** (about 16,000 characters of CJK text: a body near the 20,000
  character limit, or body plus notes). Whoosh has no such limit: when both must give the
  same answers for such letters, keep Whoosh.
* **At most 256 positions per term and letter.** A term occurring more often keeps its first
  256 positions: a phrase through its 257th and later occurrences is not found (the letter
  is still found through the earlier ones, or by any other phrase).
* A ``tsvector`` is at most 1 MB: far above what a letter of the size limits produces
  (about 20 bytes per distinct token).

The one writer: on PostgreSQL several machines share the index, so ``indexer.writer_lock``
takes a PostgreSQL advisory lock (``schema.writer_lock``) instead of a lock file.

Removal: ``delete`` deletes rows and marks the partitions they were in (``schema.MOVED``,
as a writer marks a partition a letter's row left); with ``purge`` (and ``purge(years)``,
which a destruction run calls after its deletions) the marked partitions are rewritten with
``VACUUM FULL`` — new files for the partition, its TOAST table and its indexes (a GIN index
never forgets a token on its own, even after a plain ``VACUUM``), and the same parts'
partitions of ``search_terms`` (where a term only the removed letters held was deleted with
them) — so none of a removed letter's tokens that no other letter has remains in the
tables' files. After a destruction those are the batch's partition and the partitions of
letters awaiting a decision its letters left when they were stored, so the cost follows the
batch, not the year or the table. It holds an exclusive lock on each partition (searches
wait) while it runs: about as long as a rebuild of its indexes.
The WAL, archives and replicas keep what was written to them; see
docs/search-threat-model.md.
"""
from .backend import PostgresBackend
from .schema import (
    FORMAT, MAX_POSITION, MAX_POSITIONS_PER_TERM, META, NEW_TABLE, TABLE, TERMS, UPSERT, create_schema, ensure_partitions,
    index_ddl, index_names, partition_name, partitions, row_of, table_ddl, tsquery_literal, tsvector_literal,
    writer_lock,
)

__all__ = [
    "FORMAT", "MAX_POSITION", "MAX_POSITIONS_PER_TERM", "META", "NEW_TABLE", "TABLE", "TERMS", "UPSERT", "PostgresBackend",
    "create_schema", "ensure_partitions", "index_ddl", "index_names", "partition_name", "partitions", "row_of",
    "table_ddl", "tsquery_literal", "tsvector_literal", "writer_lock",
]
