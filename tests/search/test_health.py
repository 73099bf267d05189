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
        assert r.get_json() == {"status": "error", "checks": {"database": "ok", "keys": "ok", "index": "error",
                                                              "indexing": "ok"}}
        assert not index_dir.exists()   # not silently created afresh
    finally:
        shutil.move(moved, index_dir)


def test_healthz_says_when_indexing_is_behind(client, inst, make_user, make_record):
    """A change waiting longer than ``indexer.LAG_LIMIT`` (no indexer running where the app
    processes leave indexing to it): "behind", for monitoring, while the process still counts
    as healthy (a load balancer must not stop sending it users); once drained, "ok" again."""
    import datetime as dt

    from sqlalchemy import update

    from records.models import OutboxEntry
    from search import indexer

    make_record(by=make_user("clerk"))
    assert client.get("/healthz").get_json()["checks"]["indexing"] == "ok"   # waiting, but not long
    with inst.unit_of_work() as s:
        s.execute(update(OutboxEntry).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=indexer.LAG_LIMIT + 60)))
    assert indexer.lag(inst) > indexer.LAG_LIMIT and indexer.behind(inst)
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {
        "status": "ok", "checks": {"database": "ok", "keys": "ok", "index": "ok", "indexing": "behind"}}
    indexer.drain(inst)
    assert indexer.lag(inst) == 0.0 and not indexer.behind(inst)
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["checks"]["indexing"] == "ok"
