"""Blob download with path tricks: refused (404), nothing outside the blob store is read."""
from __future__ import annotations

import pytest

from records.blobs import BlobStore
from records.errors import NotFound
from records.cases.operations import Upload
from tests.conftest import login

TRICKS = ["../../keys/master.key", "..%2F..%2Fkeys%2Fmaster.key", "%2e%2e%2f%2e%2e%2fxinfang.sqlite3",
          "....//....//etc/passwd", "/etc/passwd", "..\\..\\keys\\master.key", "0" * 31 + "/", "A" * 32,
          "%00" + "0" * 29, "../" + "0" * 29]


@pytest.mark.parametrize("trick", TRICKS)
def test_web_and_api_refuse(client, make_user, make_record, api_token, trick):
    clerk = make_user("clerk")
    serial = make_record(by=clerk, uploads=[Upload("a.txt", "內容".encode())])
    login(client, clerk.username)
    r = client.get(f"/records/{serial}/attachments/{trick}")
    assert r.status_code == 404 and b"BEGIN" not in r.get_data() and b"root:" not in r.get_data()
    h = {"Authorization": f"Bearer {api_token(clerk)}"}
    r = client.get(f"/api/v1/records/{serial}/attachments/{trick}", headers=h)
    assert r.status_code == 404 and "versions" not in r.get_data(as_text=True)


@pytest.mark.parametrize("trick", TRICKS + ["", None, "0" * 32 + "\n"])
def test_blob_store_names_are_hex_ids_only(tmp_path, trick):
    with pytest.raises(NotFound):
        BlobStore(tmp_path).path(trick)
