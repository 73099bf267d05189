"""search on PostgreSQL: the letters-per-term counts in a table of their own (issue 19)

``search_terms`` (year, term, documents), partitioned by year like ``search_documents``: how
many live letters of each year hold each term (a blind text token, or a blind character),
the term as a signed 64-bit number (the first 8 bytes of the SHA-256 of the token, or of
``'char '`` and the character's token). BM25's document frequencies are read from it with
one index probe per term and year, instead of counted over the text index's bitmap of every
letter holding the term (about 25 ms for a term half the letters hold, at 100,000 letters),
which a search had to do again after every write. The one index writer keeps it in step
with the letters; a purge rewrites its partitions with theirs. Filled here from the rows of
a populated table (what ``search.postgres.schema.FILL_TERMS`` computes).

Nothing to do on SQLite (Whoosh keeps its own postings). Written out here, not imported, so
this revision never changes.

Revision ID: 20261204_0017
Revises: 20261204_0016
Create Date: 2026-12-04 22:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261204_0017'
down_revision = '20261204_0016'
branch_labels = None
depends_on = None


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def upgrade() -> None:
    if not _has_search_table():
        return
    op.execute("CREATE TABLE search_terms (year integer NOT NULL, term bigint NOT NULL, documents integer NOT NULL, "
               "CONSTRAINT pk_search_terms PRIMARY KEY (term, year)) PARTITION BY LIST (year)")
    years = op.get_bind().execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST('search_documents' AS regclass)")).scalars().all()
    for name in years:
        suffix = name[len("search_documents_y"):]
        if name.startswith("search_documents_y") and suffix.lstrip("-").isdigit():
            op.execute(f"CREATE TABLE search_terms_y{int(suffix)} PARTITION OF search_terms "
                       f"FOR VALUES IN ({int(suffix)})")
    op.execute(
        "INSERT INTO search_terms (year, term, documents) SELECT x.year, "
        "CAST(CAST(('x' || encode(substr(sha256(convert_to(x.tok, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint), x.n "
        "FROM (SELECT d.year, l.tok, count(*) AS n FROM search_documents d, "
        "unnest(tsvector_to_array(d.\"text\")) AS l(tok) GROUP BY d.year, l.tok UNION ALL "
        "SELECT d.year, 'char ' || c.tok, count(*) FROM search_documents d, unnest(d.chars) AS c(tok) "
        "GROUP BY d.year, c.tok) x")
    op.execute("ANALYZE search_terms")


def downgrade() -> None:
    if not _has_search_table():
        return
    op.execute("DROP TABLE search_terms")
