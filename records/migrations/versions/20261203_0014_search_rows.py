"""search on PostgreSQL: a letter's repeated tokens and its pairs of tokens in its row (issue 19)

Three columns of ``search_documents``, filled here for the rows of a populated table from
their ``tsvector`` (the values ``search.postgres.schema.row_of`` writes for the same letter):

* ``repeated_tokens`` / ``repeated_counts``: the blind tokens the letter holds more than once
  (each as the first 8 bytes of its SHA-256, a signed 64-bit number, ascending) and how many
  times (the positions its ``tsvector`` keeps). A hit is scored from them (a token not among
  them occurs once), not from the whole ``tsvector`` read out of line in TOAST for every
  scored token of every hit.
* ``pairs``: every two tokens at consecutive positions (the first 8 bytes of the SHA-256 of
  ``first || ' ' || second``), with a GIN index: a phrase of two tokens (three characters)
  is answered by that index alone, and a longer phrase has its candidates narrowed to the
  letters holding all its pairs before their positions are confirmed.

Nothing to do on SQLite (Whoosh keeps its own postings). Written out here, not imported, so
this revision never changes.

Revision ID: 20261203_0014
Revises: 20261203_0013
Create Date: 2026-12-03 21:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261203_0014'
down_revision = '20261203_0013'
branch_labels = None
depends_on = None


def _number(text_sql: str) -> str:
    return f"CAST(CAST(('x' || encode(substr(sha256(convert_to({text_sql}, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint)"


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def upgrade() -> None:
    if not _has_search_table():
        return
    op.execute("ALTER TABLE search_documents ADD COLUMN repeated_tokens bigint[] NOT NULL DEFAULT '{}', "
               "ADD COLUMN repeated_counts smallint[] NOT NULL DEFAULT '{}', "
               "ADD COLUMN pairs bigint[] NOT NULL DEFAULT '{}'")
    positions = 'SELECT u.lexeme, p FROM unnest(s."text") u, unnest(u.positions) p'
    token = _number("u.lexeme")
    pair = _number("x.lexeme || ' ' || y.lexeme")
    repeated = 'FROM unnest(s."text") u WHERE cardinality(u.positions) > 1'
    op.execute(
        "UPDATE search_documents d SET repeated_tokens = r.numbers, repeated_counts = r.counts, pairs = r.pairs "
        "FROM (SELECT s.uid, s.year, "
        f"COALESCE((SELECT array_agg({token} ORDER BY {token}) {repeated}), '{{}}') AS numbers, "
        f"COALESCE((SELECT array_agg(CAST(cardinality(u.positions) AS smallint) ORDER BY {token}) {repeated}), "
        "'{}') AS counts, "
        f"COALESCE((SELECT array_agg(DISTINCT {pair} ORDER BY {pair}) FROM ({positions}) x "
        f"JOIN ({positions}) y ON y.p = x.p + 1), '{{}}') AS pairs "
        "FROM search_documents s) r WHERE d.uid = r.uid AND d.year = r.year")
    op.execute("CREATE INDEX ix_search_documents_pairs ON search_documents USING gin (pairs)")
    op.execute("ANALYZE search_documents")


def downgrade() -> None:
    if not _has_search_table():
        return
    op.execute("DROP INDEX ix_search_documents_pairs")
    op.execute("ALTER TABLE search_documents DROP COLUMN repeated_tokens, DROP COLUMN repeated_counts, "
               "DROP COLUMN pairs")
