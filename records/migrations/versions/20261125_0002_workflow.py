"""workflow: the life of a matter (decision, routing, deadlines, replies, review) and findings

Revision ID: 20261125_0002
Revises: 20261125_0001
Create Date: 2026-11-25 20:00:00

On SQLite the new columns are added with plain ``ALTER TABLE … ADD COLUMN`` (a foreign key
may be declared inline there). Batch mode would copy the table and drop the original, and
with ``foreign_keys=ON`` dropping ``records`` deletes every attachment, event and key row
that cascades from it.
"""
import sqlalchemy as sa
from alembic import op

revision = "20261125_0002"
down_revision = "20261125_0001"
branch_labels = None
depends_on = None

#: (column, type, referenced table or None)
COLUMNS = (
    ("decided_at", sa.DateTime(), None),
    ("decided_by_id", sa.Integer(), "users"),
    ("decision_reason", sa.String(length=32), None),
    ("accepted_on", sa.Date(), None),
    ("approved_by_id", sa.Integer(), "users"),
    ("approved_at", sa.DateTime(), None),
    ("routed_on", sa.Date(), None),
    ("transferred_unit", sa.String(length=32), None),
    ("due_on", sa.Date(), None),
    ("extended_days", sa.Integer(), None),
    ("extended_on", sa.Date(), None),
    ("extension_approved_by_id", sa.Integer(), "users"),
    ("replied_on", sa.Date(), None),
    ("reply_received_on", sa.Date(), None),
    ("review_requested_on", sa.Date(), None),
    ("review_due_on", sa.Date(), None),
    ("review_replied_on", sa.Date(), None),
    ("review_reply_received_on", sa.Date(), None),
    ("rereview_requested_on", sa.Date(), None),
    ("rereview_due_on", sa.Date(), None),
    ("rereview_replied_on", sa.Date(), None),
    ("rereview_reply_received_on", sa.Date(), None),
    ("concluded_at", sa.DateTime(), None),
)
INDEXES = (("ix_records_approved_by_id", "approved_by_id"), ("ix_records_due_on", "due_on"))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    sqlite = _sqlite()
    for name, type_, ref in COLUMNS:
        fk_name = f"fk_records_{name}_{ref}" if ref else None
        if sqlite:
            ddl = f"ALTER TABLE records ADD COLUMN {name} {type_.compile(dialect=op.get_bind().dialect)}"
            if ref:
                ddl += f" CONSTRAINT {fk_name} REFERENCES {ref} (id)"
            op.execute(ddl)
        else:
            args = (sa.ForeignKey(f"{ref}.id", name=fk_name),) if ref else ()
            op.add_column("records", sa.Column(name, type_, *args, nullable=True))
    for index, column in INDEXES:
        op.create_index(index, "records", [column], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("corrective_action_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_findings_created_by_id_users")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name=op.f("fk_findings_record_id_records"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_outcome"), "findings", ["outcome"], unique=False)
    op.create_index(op.f("ix_findings_record_id"), "findings", ["record_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_findings_record_id"), table_name="findings")
    op.drop_index(op.f("ix_findings_outcome"), table_name="findings")
    op.drop_table("findings")
    for index, _column in INDEXES:
        op.drop_index(index, table_name="records")
    sqlite = _sqlite()
    for name, _type, ref in reversed(COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE records DROP COLUMN {name}")
        else:
            if ref:
                op.drop_constraint(f"fk_records_{name}_{ref}", "records", type_="foreignkey")
            op.drop_column("records", name)
