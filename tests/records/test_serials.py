"""Serial numbers XF-<year>-<6 digits>: unique and gap-free per year, also under concurrent
registration, and a registration that fails after its number was drawn leaves no gap."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from records.cases import operations
from records.models import Attachment, Record, SerialCounter
from records.accounts.models import User
from records.cases.operations import SERIAL_RE, Upload
from tests.conftest import letter_data


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def _register(inst, user_id: int, **overrides) -> str:
    with inst.unit_of_work() as s:
        return operations.register(s, letter_data(**overrides), by=s.get(User, user_id)).serial


def _serials(inst, year: int) -> list[str]:
    with inst.unit_of_work() as s:
        return list(s.execute(select(Record.serial).where(Record.year == year).order_by(Record.seq)).scalars())


def _seqs(inst, year: int) -> list[int]:
    with inst.unit_of_work() as s:
        return list(s.execute(select(Record.seq).where(Record.year == year).order_by(Record.seq)).scalars())


def test_serial_format(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk.id, received_at="2011-05-04T09:00")
    m = SERIAL_RE.match(serial)
    assert m and m.group(1) == "2011" and len(m.group(2)) == 6
    assert serial == "XF-2011-000001"
    assert _register(inst, clerk.id, received_at="2011-06-04T09:00") == "XF-2011-000002"


def test_concurrent_registrations_are_unique_and_gap_free(inst, make_user):
    clerk = make_user("clerk")
    threads_n, per_thread = 8, 10
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            for j in range(per_thread):
                # two years interleaved, so both counters are contended at once
                year = 2012 if (i + j) % 2 else 2013
                serial = _register(inst, clerk.id, received_at=f"{year}-0{1 + j % 9}-1{i}T10:00",
                                   channel=("letter", "visit", "phone", "email")[j % 4])
                with lock:
                    results.append(serial)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    assert len(results) == threads_n * per_thread
    assert len(set(results)) == len(results), "duplicate serials"
    for year in (2012, 2013):
        mine = sorted(s for s in results if s.startswith(f"XF-{year}-"))
        assert len(mine) == threads_n * per_thread // 2
        assert _seqs(inst, year) == list(range(1, len(mine) + 1)), "gap or duplicate in the sequence"
        assert _serials(inst, year) == [f"XF-{year}-{n:06d}" for n in range(1, len(mine) + 1)]
        with inst.unit_of_work() as s:
            assert s.get(SerialCounter, year).last == len(mine)


def test_a_registration_failing_after_allocation_leaves_no_gap(inst, make_user, monkeypatch):
    clerk = make_user("clerk")
    assert _register(inst, clerk.id, received_at="2014-02-01T09:00") == "XF-2014-000001"
    blobs_before = {p for p in inst.settings.blob_dir.rglob("*") if p.is_file()}

    calls = {"n": 0}
    real_put = inst.blobs.put

    def put_then_fail(uid, sealed):
        calls["n"] += 1
        if calls["n"] == 2:   # the first attachment is written, the second fails (disk full)
            raise OSError(28, "No space left on device")
        return real_put(uid, sealed)

    monkeypatch.setattr(inst.blobs, "put", put_then_fail)
    scan = b"%PDF-1.4\n" + b"0" * 100
    with pytest.raises(OSError), inst.unit_of_work() as s:
        operations.register(s, letter_data(received_at="2014-02-02T09:00"), by=s.get(User, clerk.id),
                            uploads=[Upload("a.pdf", scan), Upload("b.pdf", scan)])
    monkeypatch.undo()
    assert calls["n"] == 2   # blobs are written after the number is drawn: XF-2014-000002 was taken

    # nothing of it stayed: no record, no attachment row, no blob file, the counter unchanged
    assert _serials(inst, 2014) == ["XF-2014-000001"]
    with inst.unit_of_work() as s:
        assert s.get(SerialCounter, 2014).last == 1
        assert s.execute(select(func.count()).select_from(Attachment).join(Record)
                         .where(Record.year == 2014)).scalar_one() == 0
    assert {p for p in inst.settings.blob_dir.rglob("*") if p.is_file()} == blobs_before

    # the next registration takes the number the failed one had drawn
    assert _register(inst, clerk.id, received_at="2014-02-03T09:00") == "XF-2014-000002"


def test_a_validation_error_draws_no_number(inst, make_user):
    clerk = make_user("clerk")
    assert _register(inst, clerk.id, received_at="2015-02-01T09:00") == "XF-2015-000001"
    for bad in ({"region": "999999"}, {"subject": ""}, {"people_count": 0}):
        with pytest.raises(operations.ValidationError):
            _register(inst, clerk.id, received_at="2015-02-02T09:00", **bad)
    # an unsupported attachment is checked before the number is drawn
    with pytest.raises(operations.ValidationError), inst.unit_of_work() as s:
        operations.register(s, letter_data(received_at="2015-02-02T09:00"), by=s.get(User, clerk.id),
                            uploads=[Upload("x.zip", b"PK\x03\x04" + bytes(range(256)))])
    assert _register(inst, clerk.id, received_at="2015-02-03T09:00") == "XF-2015-000002"


def test_years_count_separately_in_local_time(inst, make_user):
    clerk = make_user("clerk")
    assert _register(inst, clerk.id, received_at="2016-06-01T09:00") == "XF-2016-000001"
    assert _register(inst, clerk.id, received_at="2017-06-01T09:00") == "XF-2017-000001"
    assert _register(inst, clerk.id, received_at="2016-07-01T09:00") == "XF-2016-000002"
    # 2017-12-31 23:30 in Beijing is still 2017; 2018-01-01 00:30 in Beijing is 2017 in UTC
    assert _register(inst, clerk.id, received_at="2017-12-31T23:30") == "XF-2017-000002"
    assert _register(inst, clerk.id, received_at="2018-01-01T00:30+08:00") == "XF-2018-000001"
    assert _register(inst, clerk.id, received_at="2017-12-31T16:30Z") == "XF-2018-000002"
    with inst.unit_of_work() as s:
        r = s.execute(select(Record).where(Record.serial == "XF-2018-000002")).scalar_one()
        assert r.year == 2018 and r.received_at.year == 2017


def test_serials_are_unique_in_the_schema(inst, make_user):
    """A second row with the same (year, seq) or serial is refused by the database itself."""
    from sqlalchemy.exc import IntegrityError

    clerk = make_user("clerk")
    serial = _register(inst, clerk.id, received_at="2019-03-03T09:00")
    with pytest.raises(IntegrityError), inst.unit_of_work() as s:
        r = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        s.add(Record(serial=f"XF-{r.year}-9{r.seq:05d}", year=r.year, seq=r.seq, channel="letter",
                     received_at=r.received_at, region_code=r.region_code, category=r.category,
                     office_id=r.office_id, registered_by_id=clerk.id, document_sealed=b""))
        s.flush()
