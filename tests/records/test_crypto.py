"""Envelope encryption: round trips, and every way a ciphertext or key can go wrong fails
loudly (CryptoError), through the services and through the web, never with garbage."""
from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from sqlalchemy import select, text

from records import crypto
from records.cases import operations
from records.errors import ConfigurationError, CryptoError
from app.composition import build_instance
from records.models import Attachment, Record
from records.accounts.models import User
from records.cases.operations import Upload
from records.setup import init_instance
from tests.conftest import letter_data, login


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield

#: Fixed bytes (not random): pytest-xdist workers must collect identical parameters.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


# -- primitives ----------------------------------------------------------------------
def test_seal_open_round_trip():
    key = crypto.new_key()
    ad = crypto.aad("r1", "document", 1)
    for plaintext in (b"", b"x", "反映某公司拖欠工資問題".encode(), os.urandom(70_000)):
        sealed = crypto.seal(key, plaintext, ad)
        assert sealed[:1] == crypto.FORMAT_V1
        if len(plaintext) >= 8:  # a short plaintext can turn up in random bytes by chance
            assert plaintext not in sealed[13:]
        assert crypto.open_sealed(key, sealed, ad) == plaintext
    value = {"subject": "拖欠工資", "n": [1, 2]}
    assert crypto.open_json(key, crypto.seal_json(key, value, ad), ad) == value


def test_two_seals_of_the_same_plaintext_differ():
    key = crypto.new_key()
    ad = crypto.aad("r1", "document", 1)
    assert crypto.seal(key, b"same", ad) != crypto.seal(key, b"same", ad)


@pytest.mark.parametrize("other_ad", [
    crypto.aad("r2", "document", 1),      # another record
    crypto.aad("r1", "notes", 1),         # another field
    crypto.aad("r1", "document", 2),      # another version
])
def test_associated_data_binds_record_field_and_version(other_ad):
    key = crypto.new_key()
    sealed = crypto.seal(key, b"secret", crypto.aad("r1", "document", 1))
    with pytest.raises(CryptoError, match="altered|another record|key is wrong"):
        crypto.open_sealed(key, sealed, other_ad)


def test_wrong_key_fails():
    sealed = crypto.seal(crypto.new_key(), b"secret", b"ad")
    with pytest.raises(CryptoError):
        crypto.open_sealed(crypto.new_key(), sealed, b"ad")


_NOISE = bytes(range(7, 47))   # fixed bytes: parameters must be the same in every xdist worker


@pytest.mark.parametrize("bad", [
    b"",
    b"\x01",
    b"\x01" + b"\x00" * 12,                      # nonce but no tag
    b"\x01" + b"\x00" * 27,                      # one byte short of a tag
    b"\x02" + _NOISE,                             # unknown format version
    b"\x00" + _NOISE,
], ids=["empty", "format-only", "no-tag", "short-tag", "version-2", "version-0"])
def test_truncated_or_unknown_format_fails(bad):
    with pytest.raises(CryptoError, match="malformed|unknown format|altered"):
        crypto.open_sealed(crypto.new_key(), bad, b"ad")


def test_truncating_a_real_ciphertext_fails():
    key = crypto.new_key()
    sealed = crypto.seal(key, b"a fairly long plaintext " * 4, b"ad")
    for cut in (len(sealed) - 1, len(sealed) - 16, 29):
        with pytest.raises(CryptoError):
            crypto.open_sealed(key, sealed[:cut], b"ad")


def test_every_flipped_byte_is_detected():
    key = crypto.new_key()
    sealed = crypto.seal(key, b"0123456789abcdef", b"ad")
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 0x01
        with pytest.raises(CryptoError):
            crypto.open_sealed(key, bytes(tampered), b"ad")


# -- keyring ----------------------------------------------------------------------------
def test_keyring_json_round_trip_and_wrapping():
    ring = crypto.Keyring.generate()
    again = crypto.Keyring.from_json(ring.to_json())
    assert again.versions == ring.versions and again.current == ring.current and again.root == ring.root
    dek = crypto.new_key()
    ref, wrapped = crypto.wrap_data_key(ring, "uid1", dek)
    assert ref == "master:1" and dek not in wrapped
    assert crypto.unwrap_data_key(again, "uid1", ref, wrapped) == dek
    with pytest.raises(CryptoError):
        crypto.unwrap_data_key(again, "uid2", ref, wrapped)


def test_unknown_key_version_is_a_clear_error():
    ring = crypto.Keyring.generate()
    _ref, wrapped = ring.wrap(crypto.new_key(), b"ad")
    for bad_ref in ("master:2", "batch:1", "master:x", ""):
        with pytest.raises(CryptoError, match="not in this keyring"):
            ring.unwrap(bad_ref, wrapped, b"ad")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


GOOD_KEY = _b64(b"k" * 32)


@pytest.mark.parametrize("text_", [
    "",
    "not json",
    "null",
    "[]",
    '"a string"',
    "42",
    "{}",
    json.dumps({"current": 1, "root": GOOD_KEY}),                                   # no versions
    json.dumps({"versions": {"1": GOOD_KEY}, "root": GOOD_KEY}),                     # no current
    json.dumps({"versions": {"1": GOOD_KEY}, "current": 1}),                         # no root
    json.dumps({"versions": [], "current": 1, "root": GOOD_KEY}),                    # versions not a mapping
    json.dumps({"versions": None, "current": 1, "root": GOOD_KEY}),
    json.dumps({"versions": {"one": GOOD_KEY}, "current": 1, "root": GOOD_KEY}),     # version not a number
    json.dumps({"versions": {"1": "!!not base64!!"}, "current": 1, "root": GOOD_KEY}),
    json.dumps({"versions": {"1": 12345}, "current": 1, "root": GOOD_KEY}),
    json.dumps({"versions": {"1": _b64(b"short")}, "current": 1, "root": GOOD_KEY}),  # bad key length
    json.dumps({"versions": {"1": GOOD_KEY}, "current": 2, "root": GOOD_KEY}),        # current missing
    json.dumps({"versions": {"1": GOOD_KEY}, "current": "x", "root": GOOD_KEY}),
    json.dumps({"versions": {"1": GOOD_KEY}, "current": 1, "root": _b64(b"r" * 16)}),
    json.dumps({"versions": {"1": GOOD_KEY}, "current": 1, "root": "ключ"}),
])
def test_keyring_from_json_rejects_malformed_input(text_):
    with pytest.raises(ConfigurationError) as info:
        crypto.Keyring.from_json(text_)
    # the message never echoes key material
    assert GOOD_KEY not in str(info.value)


def test_load_keyring_errors_are_configuration_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="xinfang init"):
        crypto.load_keyring("file", tmp_path / "missing.key", "X")
    with pytest.raises(ConfigurationError, match="not set"):
        crypto.load_keyring("env", tmp_path / "k", "XF_TEST_KEY", environ={})
    with pytest.raises(ConfigurationError, match="Unknown master key source"):
        crypto.load_keyring("vault?", tmp_path / "k", "X")
    ring = crypto.Keyring.generate()
    loaded = crypto.load_keyring("env", tmp_path / "k", "XF_TEST_KEY", environ={"XF_TEST_KEY": ring.to_json()})
    assert loaded.versions == ring.versions


def test_purpose_keys_differ_per_purpose_and_from_master_keys():
    ring = crypto.Keyring.generate()
    keys = {p: ring.purpose_key(p) for p in crypto.PURPOSES}
    assert len(set(keys.values())) == len(crypto.PURPOSES)
    assert all(len(k) == crypto.KEY_BYTES for k in keys.values())
    assert not set(keys.values()) & (set(ring.versions.values()) | {ring.root})
    # deterministic for one keyring, different for another
    assert ring.purpose_key("audit") == keys["audit"]
    assert crypto.Keyring.generate().purpose_key("audit") != keys["audit"]
    with pytest.raises(ValueError):
        ring.purpose_key("something-else")


def test_key_file_is_created_mode_0600_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "master.key"
    crypto.write_key_file(path, crypto.Keyring.generate())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        crypto.write_key_file(path, crypto.Keyring.generate())
    assert path.read_bytes() == before


def test_instance_key_file_is_mode_0600(settings):
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.keystore_dir.stat().st_mode) == 0o700


# -- through the services ------------------------------------------------------------------
def _record_id(inst, serial: str) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(Record.id).where(Record.serial == serial)).scalar_one()


def _view(inst, serial: str, user):
    with inst.unit_of_work() as s:
        u = s.get(User, user.id)
        record = operations.get_record(s, serial, u)
        return operations.view(s, record, u)


def _sql(inst, statement: str, **params):
    with inst.db.engine.begin() as conn:
        return conn.execute(text(statement), params)


def _column(inst, table: str, column: str, where: str, **params) -> bytes:
    with inst.db.engine.connect() as conn:
        return bytes(conn.execute(text(f"SELECT {column} FROM {table} WHERE {where}"), params).scalar_one())


def test_registered_document_round_trips(inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, subject="密封測試", body="正文內容")
    view = _view(inst, serial, clerk)
    assert view.content["subject"] == "密封測試" and view.content["body"] == "正文內容"
    rid = _record_id(inst, serial)
    sealed = _column(inst, "records", "document_sealed", "id = :i", i=rid)
    assert "密封測試".encode() not in sealed and sealed[:1] == crypto.FORMAT_V1


def _flip_document_byte(inst, rid: int, at: int = -5) -> None:
    sealed = bytearray(_column(inst, "records", "document_sealed", "id = :i", i=rid))
    sealed[at] ^= 0x40
    _sql(inst, "UPDATE records SET document_sealed = :v WHERE id = :i", v=bytes(sealed), i=rid)


def test_tampered_document_fails_loudly(inst, make_user, make_record, app):
    clerk = make_user("clerk")
    serial = make_record(clerk)
    _flip_document_byte(inst, _record_id(inst, serial))
    with pytest.raises(CryptoError, match="Decryption failed"):
        _view(inst, serial, clerk)

    # through the web: a 500 page with a generic message, no garbage, no stack trace
    client = app.test_client()
    assert login(client, clerk.username).status_code == 302
    r = client.get(f"/records/{serial}", headers={"Accept-Language": "en"})
    page = r.get_data(as_text=True)
    assert r.status_code == 500
    assert "could not be decrypted" in page
    assert "Traceback" not in page and "CryptoError" not in page and "InvalidTag" not in page
    assert letter_data()["subject"] not in page

    # and through the API: JSON, same generic message
    from records.accounts import operations as accounts
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, s.get(User, clerk.id))
    r = client.get(f"/api/v1/records/{serial}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 500
    body = r.get_json()
    assert "could not be decrypted" in body["error"] and "Traceback" not in r.get_data(as_text=True)


def test_tampered_nonce_and_format_byte_fail(inst, make_user, make_record):
    clerk = make_user("clerk")
    for at in (0, 3):   # the format byte, a nonce byte
        serial = make_record(clerk)
        _flip_document_byte(inst, _record_id(inst, serial), at=at)
        with pytest.raises(CryptoError):
            _view(inst, serial, clerk)


def test_truncated_document_in_the_database_fails(inst, make_user, make_record):
    clerk = make_user("clerk")
    for value in (b"", b"\x01\x02\x03", b"garbage that is long enough to look like a ciphertext!!"):
        serial = make_record(clerk)
        _sql(inst, "UPDATE records SET document_sealed = :v WHERE id = :i", v=value, i=_record_id(inst, serial))
        with pytest.raises(CryptoError):
            _view(inst, serial, clerk)


def test_document_moved_to_another_record_fails(inst, make_user, make_record):
    clerk = make_user("clerk")
    a, b = make_record(clerk, subject="甲"), make_record(clerk, subject="乙")
    ia, ib = _record_id(inst, a), _record_id(inst, b)
    da = _column(inst, "records", "document_sealed", "id = :i", i=ia)
    db_ = _column(inst, "records", "document_sealed", "id = :i", i=ib)
    _sql(inst, "UPDATE records SET document_sealed = :v WHERE id = :i", v=db_, i=ia)
    _sql(inst, "UPDATE records SET document_sealed = :v WHERE id = :i", v=da, i=ib)
    for serial in (a, b):
        with pytest.raises(CryptoError):
            _view(inst, serial, clerk)


def test_swapped_wrapped_keys_fail(inst, make_user, make_record):
    clerk = make_user("clerk")
    a, b = make_record(clerk), make_record(clerk)
    ia, ib = _record_id(inst, a), _record_id(inst, b)
    ka = _column(inst, "record_keys", "wrapped_key", "record_id = :i", i=ia)
    kb = _column(inst, "record_keys", "wrapped_key", "record_id = :i", i=ib)
    _sql(inst, "UPDATE record_keys SET wrapped_key = :v WHERE record_id = :i", v=kb, i=ia)
    _sql(inst, "UPDATE record_keys SET wrapped_key = :v WHERE record_id = :i", v=ka, i=ib)
    for serial in (a, b):
        with pytest.raises(CryptoError):
            _view(inst, serial, clerk)


def test_missing_data_key_is_a_clear_error(inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk)
    _sql(inst, "DELETE FROM record_keys WHERE record_id = :i", i=_record_id(inst, serial))
    with pytest.raises(CryptoError, match="no data key"):
        _view(inst, serial, clerk)


def test_wrong_master_key_fails(settings, inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk)
    assert _view(inst, serial, clerk).content is not None
    other = build_instance(settings, keyring=crypto.Keyring.generate())
    try:
        with pytest.raises(CryptoError):
            _view(other, serial, clerk)
    finally:
        other.close()
    # the failed read left nothing behind: the right key still reads it, the chain still holds
    assert _view(inst, serial, clerk).content is not None
    from records import audit
    with inst.unit_of_work() as s:
        assert audit.verify(s).ok


def test_key_of_another_instance_fails(tmp_path, inst, make_user, make_record):
    """A keyring from a different instance (its own key file) cannot read these records."""
    from records.settings import Settings

    other_settings = Settings.from_env({}, home=str(tmp_path / "other"))
    init_instance(other_settings)
    ring = crypto.load_keyring("file", other_settings.key_file, "X")
    clerk = make_user("clerk")
    serial = make_record(clerk)
    other = build_instance(inst.settings, keyring=ring)
    try:
        with pytest.raises(CryptoError):
            _view(other, serial, clerk)
    finally:
        other.close()


def test_tampered_or_swapped_attachment_blob_fails(inst, make_user, make_record):
    clerk = make_user("clerk")
    a = make_record(clerk, uploads=[Upload("scan-a.png", PNG)])
    b = make_record(clerk, uploads=[Upload("scan-b.png", PNG + b"another scan")])
    with inst.unit_of_work() as s:
        uid_a = s.execute(select(Attachment.uid).join(Record).where(Record.serial == a)).scalar_one()
        uid_b = s.execute(select(Attachment.uid).join(Record).where(Record.serial == b)).scalar_one()

    def download(serial, uid):
        with inst.unit_of_work() as s:
            u = s.get(User, clerk.id)
            return operations.attachment_content(s, operations.get_record(s, serial, u), uid, u)

    meta, data = download(a, uid_a)
    assert data == PNG and meta["filename"] == "scan-a.png" and meta["content_type"] == "image/png"

    path_a, path_b = inst.blobs.path(uid_a), inst.blobs.path(uid_b)
    blob_a, blob_b = path_a.read_bytes(), path_b.read_bytes()
    assert PNG not in blob_a
    # swap the two files: each is sealed for its own record and attachment id
    path_a.write_bytes(blob_b)
    path_b.write_bytes(blob_a)
    with pytest.raises(CryptoError):
        download(a, uid_a)
    with pytest.raises(CryptoError):
        download(b, uid_b)
    # flip one byte
    tampered = bytearray(blob_a)
    tampered[len(tampered) // 2] ^= 1
    path_a.write_bytes(bytes(tampered))
    with pytest.raises(CryptoError):
        download(a, uid_a)
    path_a.write_bytes(blob_a)
    assert download(a, uid_a)[1] == PNG
