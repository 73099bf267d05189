"""/healthz asks the configured search backend, whichever it is."""
import shutil

from .conftest import whoosh_only


def test_healthz_reports_the_index_of_the_configured_backend(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json()["checks"]["index"] == "ok"


@whoosh_only("the embedded index lives in the instance folder")
def test_healthz_fails_when_the_index_folder_is_gone(client, inst):
    index_dir = inst.settings.index_dir
    moved = index_dir.with_name("index-moved")
    shutil.move(index_dir, moved)
    try:
        r = client.get("/healthz")
        assert r.status_code == 503
        assert r.get_json() == {"status": "error", "checks": {"database": "ok", "keys": "ok", "index": "error"}}
        assert not index_dir.exists()   # not silently created afresh
    finally:
        shutil.move(moved, index_dir)
