"""regions, categories, units, calendar and letterhead as data (issue 14)

Revision ID: 20261203_0007
Revises: 20261125_0006
Create Date: 2026-12-03 09:00:00

Existing instances keep every region and category code their letters carry: the regions
table only gains columns (the national list itself is loaded by ``xinfang init`` /
``records.reference.seed``), and an instance that already has offices gets the categories
it was using (the former fixed list, the "labour" preset) as its vocabulary, plus any other
code found on its records, and Beijing (110000, the only area it knew) as its jurisdiction.
"""
import sqlalchemy as sa
from alembic import op

revision = '20261203_0007'
down_revision = '20261125_0006'
branch_labels = None
depends_on = None

#: The former fixed vocabulary (records/reference/vocab.py before issue 14), Traditional names.
LEGACY_CATEGORIES = (
    ("labour_wages", "勞動工資", "劳动工资", "Labour and wages"),
    ("land_housing", "土地房屋", "土地房屋", "Land and housing"),
    ("social_security", "社會保障", "社会保障", "Social security"),
    ("environment", "環境保護", "环境保护", "Environment"),
    ("law_enforcement", "執法監督", "执法监督", "Law enforcement"),
    ("staff_conduct", "幹部作風", "干部作风", "Staff conduct"),
    ("policy_consultation", "政策諮詢", "政策咨询", "Policy consultation"),
    ("urban_management", "城市管理", "城市管理", "Urban management"),
    ("other", "其他", "其他", "Other"),
)


def upgrade() -> None:
    with op.batch_alter_table('offices') as batch:
        batch.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('regions') as batch:
        batch.add_column(sa.Column('name_hans', sa.String(length=200), server_default='', nullable=False))
        batch.add_column(sa.Column('level', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('parent_code', sa.String(length=12), nullable=True))
        batch.add_column(sa.Column('successor_code', sa.String(length=12), nullable=True))
        batch.add_column(sa.Column('retired_in', sa.String(length=8), nullable=True))
        batch.create_index(batch.f('ix_regions_parent_code'), ['parent_code'], unique=False)
    op.create_table('unit_regions',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_unit_regions_office_id_offices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_unit_regions_region_code_regions')),
    sa.PrimaryKeyConstraint('office_id', 'region_code', name=op.f('pk_unit_regions'))
    )
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_hans', sa.String(length=200), server_default='', nullable=False),
    sa.Column('name_en', sa.String(length=200), server_default='', nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['categories.id'], name=op.f('fk_categories_parent_id_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_categories_code'))
    )
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('bureau_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bureau_name', sa.String(length=200), nullable=False),
    sa.Column('issuing_office', sa.String(length=200), nullable=False),
    sa.Column('superior_body', sa.String(length=200), nullable=False),
    sa.Column('number_pattern', sa.String(length=100), nullable=False),
    sa.Column('seal_line', sa.String(length=200), nullable=False),
    sa.Column('signature_block', sa.Text(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['regions.code'], name=op.f('fk_bureau_profile_jurisdiction_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bureau_profile'))
    )
    op.create_table('document_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_document_counters'))
    )
    _migrate_existing_instance()


def _migrate_existing_instance() -> None:
    """An instance made before this revision keeps its category codes and gets Beijing as its area."""
    conn = op.get_bind()
    if not conn.execute(sa.text("SELECT 1 FROM offices LIMIT 1")).first():
        return  # a new database: ``xinfang init`` seeds the chosen preset
    categories = sa.table('categories', sa.column('code'), sa.column('name'), sa.column('name_hans'),
                          sa.column('name_en'), sa.column('sort_order'), sa.column('active'))
    rows = [{"code": c, "name": n, "name_hans": h, "name_en": e, "sort_order": i, "active": True}
            for i, (c, n, h, e) in enumerate(LEGACY_CATEGORIES)]
    known = {r["code"] for r in rows}
    for (code,) in conn.execute(sa.text("SELECT DISTINCT category FROM records")):
        if code and code not in known:
            rows.append({"code": code, "name": code, "name_hans": code, "name_en": code,
                         "sort_order": len(rows), "active": True})
            known.add(code)
    op.bulk_insert(categories, rows)
    if conn.execute(sa.text("SELECT 1 FROM regions WHERE code = '110000'")).first():
        conn.execute(sa.text(
            "INSERT INTO bureau_profile (id, bureau_name, issuing_office, superior_body, number_pattern, "
            "seal_line, signature_block, jurisdiction_code, updated_at) VALUES (1, :b, :o, :s, :p, :l, :g, "
            "'110000', CURRENT_TIMESTAMP)"),
            {"b": "市人力資源和社會保障局", "o": "市人力資源和社會保障局信訪辦公室", "s": "省人力資源和社會保障廳",
             "p": "X人社信〔{year}〕{seq}號", "l": "（蓋章）", "g": "市人力資源和社會保障局信訪辦公室"})


def downgrade() -> None:
    op.drop_table('document_counters')
    op.drop_table('bureau_profile')
    op.drop_table('calendar_days')
    op.drop_table('calendar_years')
    op.drop_table('categories')
    op.drop_table('unit_regions')
    with op.batch_alter_table('regions') as batch:
        batch.drop_index(batch.f('ix_regions_parent_code'))
        batch.drop_column('retired_in')
        batch.drop_column('successor_code')
        batch.drop_column('parent_code')
        batch.drop_column('level')
        batch.drop_column('name_hans')
    with op.batch_alter_table('offices') as batch:
        batch.drop_column('active')

