"""Canary scan of the index folder (Whoosh) or of the search table's relation files
(PostgreSQL): no plaintext of a letter (UTF-8, UTF-16, GB18030, Big5) and no key bytes,
after indexing, correcting, a multi-process rebuild and a removal."""
import base64

from sqlalchemy import select

from records.cases import operations
from records import sealing
from records.models import OutboxEntry, Record
from records.accounts.models import User
from search import analysis, indexer

from .conftest import index_bytes, index_files, uses_database

CANARY_TRAD = "雞蛋糕攤販遭城管沒收三輪車"
CANARY_LATIN = "Canaryzebraquokka"
CANARY_DIGITS = "8675309421"
ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "gb18030", "big5")


def forms(text: str) -> set[str]:
    """The text as written and as the analyser folds it (Simplified, lower case)."""
    return {text, analysis.normalise(text)}


def encoded(text: str) -> list[bytes]:
    out = []
    for enc in ENCODINGS:
        try:
            out.append(text.encode(enc))
        except UnicodeEncodeError:
            pass   # e.g. Simplified characters Big5 cannot write
    return out


def key_forms(key: bytes) -> list[bytes]:
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key),
            base64.urlsafe_b64encode(key), base64.b64encode(key).rstrip(b"=")]


def test_no_plaintext_and_no_key_in_the_index(inst, make_user, make_record, drain, svc):
    clerk = make_user("clerk")
    body = f"我在市場擺{CANARY_TRAD}，{CANARY_LATIN} 號碼 {CANARY_DIGITS}。"
    serial = make_record(by=clerk, subject=f"關於{CANARY_TRAD}", body=body, notes=f"備註 {CANARY_LATIN}")
    drain()
    with inst.unit_of_work() as s:   # a correction: the old version becomes a deleted document
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.correct(s, record, {"body": body + "（補充）"}, by=s.get(User, clerk.id))
    drain()
    indexer.reindex(inst, procs=2)   # job files of sub-processes are written in the index folder too
    assert indexer.check(inst).ok
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        data_key = sealing.data_key(s, record)
    ring = inst.keyring

    data = index_bytes(inst)
    assert len(index_files(inst)) > 3 and len(data) > 1000
    # the scan can see a token: the blind token of the canary's first pair is there
    assert svc.blinder.text_one(analysis.normalise(CANARY_TRAD[:2])).encode() in data
    # token scheme 2: pairs of digits and across scripts are indexed too (blind, like the rest)
    for pair in (CANARY_DIGITS[3:5], "码" + CANARY_DIGITS[0], CANARY_LATIN[4:6].lower()):
        assert svc.blinder.text_one(pair).encode() in data, pair

    needles = {}
    for text in (CANARY_TRAD, CANARY_LATIN, CANARY_DIGITS):
        for form in forms(text):
            for b in encoded(form):
                needles[f"{form!r}"] = needles.get(f"{form!r}", []) + [b]
            # every pair of characters of the Chinese canary, in UTF-8 and GB18030
            if not form.isascii():
                for i in range(len(form) - 1):
                    for enc in ("utf-8", "gb18030"):
                        needles.setdefault(f"pair {form[i:i + 2]!r} {enc}", []).append(form[i:i + 2].encode(enc))
    keys = {f"master v{v}": k for v, k in ring.versions.items()}
    keys["root"] = ring.root
    keys.update({f"purpose {p}": inst.purpose_key(p) for p in ("blind-token", "identity", "audit", "token-hash")})
    keys["data key"] = data_key
    for name, key in keys.items():
        needles[name] = key_forms(key)

    leaks = sorted(name for name, variants in needles.items() if any(v in data for v in variants))
    assert leaks == []
    if uses_database(inst):
        # the table names the key by its id only
        assert svc.backend.describe()["key_id"] == svc.blinder.key_id
        assert svc.blinder.key_id.encode() in data
    else:
        # the pickled schema names the key by its id only
        tocs = [p for p in index_files(inst) if p.suffix == ".toc"]
        assert tocs and all(svc.blinder.key_id.encode() in p.read_bytes() for p in tocs)


def test_removal_leaves_no_plaintext_or_token_of_the_letter(inst, make_user, make_record, drain, svc):
    clerk = make_user("clerk")
    secret = "鸚鵡螺號潛艇的秘密航線"
    serial = make_record(by=clerk, body=f"{secret} Nautilusvesselroute")
    drain()
    # the secret's pairs (pairs of Latin letters are shared with other letters' words)
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    assert any(t.encode() in index_bytes(inst) for t in tokens)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        uid = record.uid
        s.delete(record)
        s.add(OutboxEntry(record_uid=uid, op="delete"))
    drain()
    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == []
    assert uid.encode() not in data and serial.encode() not in data
