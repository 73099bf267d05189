"""The retention pages and API: archivist proposes, another leader approves and runs; the
archivist never sees letter content or identities anywhere."""
from __future__ import annotations

from sqlalchemy import select

from records.jobs import runner
from retention.models import Batch, Certificate
from tests.conftest import login

from .conftest import TODAY

SECRET = "保密內容XYZ"


def test_web_flow_and_archivist_sees_no_content(app, inst, make_user, store_letters, api_token, monkeypatch):
    import retention.operations as ret_ops
    import retention.destroy as ret_destroy
    from retention import schedules as ret_policy

    monkeypatch.setattr(ret_ops, "today_in", lambda settings: TODAY)
    monkeypatch.setattr(ret_destroy, "today_in", lambda settings: TODAY)
    monkeypatch.setattr(ret_policy, "today_in", lambda settings: TODAY)
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 3, region="110115", year=2020, canary=SECRET)
    with inst.unit_of_work() as s:
        batch_id = s.execute(select(Batch.id).where(Batch.region_code == "110115", Batch.year == 2020)).scalar_one()

    arch = app.test_client()
    assert login(arch, archivist.username).status_code == 302
    pages = [arch.get("/retention"), arch.get(f"/retention/batches/{batch_id}"), arch.get("/retention/holds"),
             arch.get(f"/records/{serials[0]}")]
    r = arch.post(f"/retention/batches/{batch_id}/seal")
    assert r.status_code == 302
    r = arch.post(f"/retention/batches/{batch_id}/propose")
    assert r.status_code == 302
    page = arch.get(f"/retention/batches/{batch_id}", follow_redirects=True)
    assert serials[0] in page.get_data(as_text=True)
    assert arch.post(f"/retention/batches/{batch_id}/approve").status_code == 403
    pages.append(page)

    token = api_token(archivist)
    api = app.test_client()
    hdr = {"Authorization": f"Bearer {token}"}
    pages += [api.get("/api/v1/retention/batches", headers=hdr), api.get(f"/api/v1/retention/batches/{batch_id}", headers=hdr),
              api.get(f"/api/v1/records/{serials[0]}", headers=hdr)]
    assert pages[-2].get_json()["state"] == "proposed" and len(pages[-2].get_json()["letters_list"]) == 3
    assert pages[-1].get_json()["content"] is None

    lead = app.test_client()
    login(lead, leader.username)
    ltoken = api_token(leader)
    lh = {"Authorization": f"Bearer {ltoken}"}
    r = lead.post(f"/api/v1/retention/batches/{batch_id}/exclude", headers=lh,
                  json={"serial": serials[2], "reason": "kept for a study"})
    assert r.status_code == 200, r.get_data(as_text=True)
    r = lead.post("/api/v1/retention/holds", headers=lh, json={"serial": serials[1], "reason": "inquiry"})
    assert r.status_code == 201
    hold_id = r.get_json()["id"]
    assert lead.post(f"/api/v1/retention/batches/{batch_id}/approve", headers=lh).status_code == 200
    assert lead.post(f"/retention/holds/{hold_id}/lift", data={"reason": "inquiry closed"}).status_code == 302
    refused = lead.post(f"/retention/batches/{batch_id}/run", follow_redirects=True)  # not confirmed
    assert "id=\"destruction-run\"" not in refused.get_data(as_text=True)
    r = lead.post(f"/retention/batches/{batch_id}/run", data={"confirm": "110115/2020"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert 'id="destruction-run"' in html and "certificate" not in html.lower(), "queued, not run in the request"
    assert runner.run_pending(inst) == 1     # the worker
    with inst.unit_of_work() as s:
        cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
        assert cert.letters == 2 and cert.residue_clean
        number = cert.number
    html = lead.get(f"/retention/batches/{batch_id}").get_data(as_text=True)
    assert 'id="destruction-run"' in html and number in html
    pages += [arch.get("/retention/certificates"), arch.get(f"/retention/certificates/{number}.json"),
              api.get(f"/api/v1/retention/certificates/{number}", headers=hdr)]
    pdf = arch.get(f"/retention/certificates/{number}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    for p in pages:
        assert p.status_code == 200 or p.request.path == f"/records/{serials[0]}", p.request.path
        text = p.get_data(as_text=True)
        assert SECRET not in text and "測試" not in text and "13900000" not in text, p.request.path
    assert api.get(f"/api/v1/retention/certificates/{number}", headers=hdr).get_json()["total"] == 2
    # the record page of a stored letter: the ledger line only, for an archivist
    assert pages[3].status_code == 200, "the record page failed (see the workflow templates)"
