"""The attachments' extracted text in the index, on every backend: found by a plain search,
alone by ``in=attachments`` (with its facet count), after a reindex too; a letter saying the
same thing in its own body is not "in attachments"."""
from __future__ import annotations

from records.accounts.models import User
from records.cases.operations import Upload
from records.intake import operations as intake
from records.jobs import runner as jobs
from search import indexer, query

PHRASE = "鐵礦渣堆放"


def _search(inst, user, q, **params):
    with inst.unit_of_work() as s:
        result = query.search(s, s.get(User, user.id), q, params=params)
        return {h.record.serial for h in result.hits}, result.facets.get("in", {}).get("attachments")


def test_attachment_text_is_searchable_alone(inst, make_user, make_record):
    clerk = make_user("clerk")
    in_attachment = make_record(clerk, uploads=[Upload("情況說明.txt", f"村口{PHRASE}污染河道，附照片".encode())],
                                body="見附件。")
    in_body = make_record(clerk, body=f"反映{PHRASE}問題。")
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    indexer.drain(inst)

    found, in_att = _search(inst, clerk, "铁矿渣堆放")   # Simplified finds the Traditional attachment
    assert {in_attachment, in_body} <= found and in_att == 1
    assert _search(inst, clerk, "铁矿渣堆放", **{"in": "attachments"})[0] == {in_attachment}
    assert _search(inst, clerk, "礦", **{"in": "attachments"})[0] == {in_attachment}   # one character
    assert _search(inst, clerk, "見附件", **{"in": "attachments"})[0] == set()

    indexer.reindex(inst)
    assert _search(inst, clerk, PHRASE, **{"in": "attachments"})[0] == {in_attachment}
