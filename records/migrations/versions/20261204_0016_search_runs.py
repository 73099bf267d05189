"""search on PostgreSQL: a letter's runs of four and five tokens in its row (issue 19)

``search_documents.runs``: every four and every five tokens at consecutive positions (the
first 8 bytes of the SHA-256 of the tokens joined by single spaces, a signed 64-bit number,
ascending, once each), with a GIN index. A phrase of four or five tokens (a substring of
five or six characters) is answered by that index alone, with no ``tsvector`` read from
TOAST; a longer phrase's candidates are the letters holding all its runs of five. Filled
here for the rows of a populated table from their ``tsvector`` (the values
``search.postgres.schema.row_of`` writes for the same letter).

Nothing to do on SQLite (Whoosh keeps its own postings). Written out here, not imported, so
this revision never changes.

Revision ID: 20261204_0016
Revises: 20261204_0015
Create Date: 2026-12-04 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261204_0016'
down_revision = '20261204_0015'
branch_labels = None
depends_on = None


def _number(text_sql: str) -> str:
    return f"CAST(CAST(('x' || encode(substr(sha256(convert_to({text_sql}, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint)"


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def _runs_of(length: int) -> str:
    """The numbers of a row's runs of ``length`` tokens, from its ``tsvector`` (``s``)."""
    positions = 'SELECT u.lexeme, p FROM unnest(s."text") u, unnest(u.positions) p'
    names = [f"t{i}" for i in range(length)]
    joined = f"({positions}) t0 " + " ".join(
        f"JOIN ({positions}) {n} ON {n}.p = t0.p + {i}" for i, n in enumerate(names) if i)
    tokens = " || ' ' || ".join(f"{n}.lexeme" for n in names)
    return f"SELECT {_number(tokens)} AS n FROM {joined}"


def upgrade() -> None:
    if not _has_search_table():
        return
    op.execute("ALTER TABLE search_documents ADD COLUMN runs bigint[] NOT NULL DEFAULT '{}'")
    op.execute(
        "UPDATE search_documents d SET runs = r.runs "
        "FROM (SELECT s.uid, s.year, "
        f"COALESCE((SELECT array_agg(DISTINCT w.n ORDER BY w.n) FROM ({_runs_of(4)} UNION ALL {_runs_of(5)}) w), "
        "'{}') AS runs FROM search_documents s) r WHERE d.uid = r.uid AND d.year = r.year")
    op.execute("CREATE INDEX ix_search_documents_runs ON search_documents USING gin (runs)")
    op.execute("ANALYZE search_documents")


def downgrade() -> None:
    if not _has_search_table():
        return
    op.execute("DROP INDEX ix_search_documents_runs")
    op.execute("ALTER TABLE search_documents DROP COLUMN runs")
