"""reviews by the superior body, handed-down matters, notices (issue 16)

Revision ID: 20261203_0011
Revises: 20261203_0010
Create Date: 2026-12-03 09:00:00

Columns on ``records`` for the superior body's review and re-review, the remit (Art 4), the
extension a handling office asks for (Art 15), matters handed down (交辦件), major cases
(Art 5), a collective visit's representatives (sealed), the day the petitioner stopped
petitioning (息訪), the unit a letter complains about and the reply's sealed draft; on
``findings`` the corrective action's due date and confirmation.

On SQLite the columns are added with plain ``ALTER TABLE … ADD COLUMN`` (see 0002: batch mode
would copy and drop ``records``, cascading deletes).
"""
import sqlalchemy as sa
from alembic import op

revision = '20261203_0011'
down_revision = '20261203_0010'
branch_labels = None
depends_on = None

#: (table, column, type, referenced table or None, server default or None)
COLUMNS = (
    ("records", "review_body", sa.String(length=200), None, None),
    ("records", "review_outcome", sa.String(length=16), None, None),
    ("records", "review_document_number", sa.String(length=64), None, None),
    ("records", "rereview_body", sa.String(length=200), None, None),
    ("records", "rereview_outcome", sa.String(length=16), None, None),
    ("records", "rereview_document_number", sa.String(length=64), None, None),
    ("records", "review_of_unit", sa.String(length=32), None, None),
    ("records", "remit", sa.String(length=32), None, None),
    ("records", "extension_requested_days", sa.Integer(), None, None),
    ("records", "extension_requested_on", sa.Date(), None, None),
    ("records", "extension_requested_by_id", sa.Integer(), "users", None),
    ("records", "handed_down_by", sa.String(length=200), None, None),
    ("records", "handed_down_number", sa.String(length=64), None, None),
    ("records", "handed_down_due_on", sa.Date(), None, None),
    ("records", "report_back_required", sa.Boolean(), None, sa.false()),
    ("records", "reported_back_on", sa.Date(), None, None),
    ("records", "major_at", sa.DateTime(), None, None),
    ("records", "major_by_id", sa.Integer(), "users", None),
    ("records", "representatives_sealed", sa.LargeBinary(), None, None),
    ("records", "petitioning_ceased_on", sa.Date(), None, None),
    ("records", "complained_unit", sa.String(length=32), None, None),
    ("records", "reply_draft_sealed", sa.LargeBinary(), None, None),
    ("records", "reply_draft_at", sa.DateTime(), None, None),
    ("records", "reply_draft_by_id", sa.Integer(), "users", None),
    ("findings", "action_due_on", sa.Date(), None, None),
    ("findings", "action_confirmed_on", sa.Date(), None, None),
    ("findings", "action_confirmed_by_id", sa.Integer(), "users", None),
)
INDEXES = (("ix_records_handed_down_due_on", "handed_down_due_on"), ("ix_records_major_at", "major_at"),
           ("ix_records_complained_unit", "complained_unit"))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    dialect = op.get_bind().dialect
    for table, name, type_, ref, default in COLUMNS:
        fk_name = f"fk_{table}_{name}_{ref}" if ref else None
        if _sqlite():
            ddl = f"ALTER TABLE {table} ADD COLUMN {name} {type_.compile(dialect=dialect)}"
            if default is not None:
                ddl += " NOT NULL DEFAULT 0"
            if ref:
                ddl += f" CONSTRAINT {fk_name} REFERENCES {ref} (id)"
            op.execute(ddl)
        else:
            args = (sa.ForeignKey(f"{ref}.id", name=fk_name),) if ref else ()
            op.add_column(table, sa.Column(name, type_, *args, nullable=default is None, server_default=default))
    for index, column in INDEXES:
        op.create_index(index, "records", [column], unique=False)


def downgrade() -> None:
    for index, _column in INDEXES:
        op.drop_index(index, table_name="records")
    for table, name, _type, ref, _default in reversed(COLUMNS):
        if _sqlite():
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        else:
            if ref:
                op.drop_constraint(f"fk_{table}_{name}_{ref}", table, type_="foreignkey")
            op.drop_column(table, name)
