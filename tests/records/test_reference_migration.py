"""An instance made before reference data was data (revision 20261125_0006) keeps working
after the upgrade: its region and category codes stay valid, it gets the labour vocabulary it
was using and Beijing as its area, and the national list is added around its own rows."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from records import crypto
from records.db import Database, upgrade
from records.reference import categories, regions
from records.reference.models import Region
from records.reference.seed import ensure_reference_data
from records.instance import Instance
from records.settings import Settings
from records.setup import init_instance
from tests.conftest import _create_pg_database, _drop_pg_database, _pg_admin_url


@pytest.fixture
def database_url(tmp_path):
    """SQLite in the folder, or a new PostgreSQL database when the suite runs on one."""
    admin = _pg_admin_url()
    if not admin:
        yield f"sqlite:///{tmp_path / 'old' / 'xinfang.sqlite3'}"
        return
    name, url = _create_pg_database(admin)
    yield url
    _drop_pg_database(admin, name)


def test_an_older_instance_keeps_its_codes(tmp_path, database_url):
    home = tmp_path / "old"
    settings = Settings.from_env({}, home=str(home), database_url=database_url)
    home.mkdir(mode=0o700)
    settings.keystore_dir.mkdir(mode=0o700)
    crypto.write_key_file(settings.key_file, crypto.Keyring.generate())
    db = Database(settings.database_url)
    try:
        upgrade(db, "20261125_0006")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO offices (code, name, is_intake, is_external) VALUES "
                              "('XFB', '信訪辦公室', TRUE, FALSE), ('EXT-HD', '海淀區人社局', FALSE, TRUE)"))
            conn.execute(text("INSERT INTO regions (code, name) VALUES ('110000', '北京市'), "
                              "('110108', '海澱區（本局寫法）')"))
        upgrade(db)
        with db.engine.connect() as conn:
            codes = [r[0] for r in conn.execute(text("SELECT code FROM categories ORDER BY sort_order"))]
            area = conn.execute(text("SELECT jurisdiction_code FROM bureau_profile")).scalar_one()
            active = conn.execute(text("SELECT active FROM offices WHERE code = 'EXT-HD'")).scalar_one()
    finally:
        db.dispose()
    assert codes[:2] == ["labour_wages", "land_housing"] and "other" in codes and len(codes) == 9
    assert area == "110000" and active
    init_instance(settings)          # what `xinfang init` does after an update
    inst = Instance(settings)
    try:
        with inst.unit_of_work() as s:
            own = s.get(Region, "110108")
            assert own.name == "海澱區（本局寫法）" and own.level == 3 and own.name_hans == "海淀区"
            assert s.get(Region, "440305") is not None
            assert categories.codes(s, active_only=True) == codes      # no preset added on top
            assert regions.jurisdiction(s).code == "110000"
            assert ensure_reference_data(s) == 0                     # nothing more to add
    finally:
        inst.close()
