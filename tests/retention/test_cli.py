"""``xinfang retention …`` end to end through the Flask CLI runner."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.retention.cli import retention_group
from retention.models import Certificate


def test_cli_flow_dry_run_run_verify(app, inst, make_user, store_letters, tmp_path):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 4, region="110114", year=2020)
    runner = app.test_cli_runner()

    def go(*args, code=0):
        result = runner.invoke(retention_group, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    out = go("plan", "--today", "2029-06-01")
    assert "110114/2020" in out and "open" in out
    go("seal", "110114/2020", "--as", archivist.username, "--today", "2029-06-01")
    go("propose", "110114/2020", "--as", archivist.username)
    out = go("approve", "110114/2020", "--as", archivist.username, code=1)
    assert "not allowed" in out or "other than" in out
    go("approve", "110114/2020", "--as", leader.username)
    out = go("run", "--dry-run", "--batch", "110114/2020", "--today", "2029-06-01")
    assert all(s in out for s in serials)
    out = go("run", "--dry-run", "--batch", "110114/2020", "--today", "2021-06-01")
    assert "not due" in out
    out = go("run", "--batch", "110114/2020", "--as", leader.username, "--today", "2029-06-01")
    assert "destroyed 4 letter(s)" in out and "residue check clean" in out
    with inst.unit_of_work() as s:
        number = s.execute(select(Certificate.number).order_by(Certificate.id.desc())).scalars().first()
    out = go("verify", number)
    assert "verifies: 4 letters" in out
    body = json.loads(go("certificate", number))
    path = tmp_path / "cert.json"
    body["manifest"][1]["serial"] = "XF-2020-999999"
    path.write_text(json.dumps(body, ensure_ascii=False))
    out = go("verify", str(path), code=2)
    assert "does NOT verify" in out
    pdf = tmp_path / "cert.pdf"
    go("certificate", number, "--pdf", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
