"""Destruction certificates: the residue check at the end of a run, the certificate JSON
(kept permanently, its digest in the audit trail), its PDF, and ``verify``.

The manifest (serial, reason, dates of each destroyed letter) is hashed canonically, so
anyone holding the JSON can recompute its digest; with access to the instance, ``verify``
also checks that the certificate is the one issued (its SHA-256 in the database and in the
hash-chained audit trail), that every listed letter is gone and that the batch key is gone."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from records import audit
from records.errors import ValidationError
from records.models import AuditEntry, IdentityToken, Record
from records.reference.models import Region
from records.reference.scripts import to_hant
from records.db import in_steps, utcnow

from . import keystore, residue
from .compaction import affected_tables, compact, keyed_tables
from .models import Batch, Certificate, DestroyedLetter, DestructionRun, RunStep
from .operations import CHUNK
from retention.schedules import REASONS

FORMAT = "xinfang-destruction-certificate-1"

METHOD = [
    "Data keys of the letters were wrapped under the batch key, kept outside the database; "
    "the batch key generation was overwritten and unlinked (crypto-shredding).",
    "Rows holding ciphertext, history, attachments' names and identity blind indexes deleted "
    "(SQLite secure_delete on; PostgreSQL VACUUM FULL).",
    "SQLite: WAL checkpointed with TRUNCATE, then VACUUM.",
    "Attachment blob files unlinked.",
    "Search index documents deleted and their year shard merged.",
    "Residue scan of the database files, WAL, index, blob and key folders for fingerprints of "
    "every ciphertext, blind token and id of the destroyed letters (PostgreSQL: rows and values "
    "of every table queried, and the relation files of the affected tables when readable; see "
    "verification.method).",
]


def canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def manifest_digest(manifest: list[dict]) -> str:
    return hashlib.sha256(canonical(manifest)).hexdigest()


def body_digest(body: dict) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def _person(user) -> dict | None:
    return {"username": user.username, "display_name": user.display_name} if user else None


def _surviving_tokens(session: Session, digests: set[str]) -> set[str]:
    """Of ``digests`` (``residue.token_digest`` of the destroyed letters' identity tokens),
    those a kept letter still holds (the same petitioner's other letters): not residue.
    PostgreSQL digests every token itself and returns the matches only (1 to 3 s among
    1,000,000 letters, where reading and digesting them all here took 4 to 5 s); elsewhere
    every token is read and digested here."""
    if not digests:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return set(session.execute(text(
            "SELECT DISTINCT encode(sha256(token), 'hex') FROM identity_tokens "
            "WHERE encode(sha256(token), 'hex') = ANY (CAST(:d AS text[]))"), {"d": sorted(digests)}).scalars())
    return {d for (t,) in session.execute(select(IdentityToken.token)) if (d := residue.token_digest(t)) in digests}


def residue_check(inst, session: Session, run_id: int) -> residue.ScanResult:
    """Scan the instance's files for the run's fingerprints."""
    needles = residue.Needles()
    steps = [(serial, json.loads(fps)) for serial, fps in session.execute(
        select(RunStep.serial, RunStep.fingerprints).where(RunStep.run_id == run_id))]
    survivors = _surviving_tokens(session, {fp[3] for _, fps in steps for fp in fps if fp[0] == "t"})
    shared = 0
    for serial, fps in steps:
        shared += needles.add(serial, fps, survivors)
    s = inst.settings
    paths = [s.blob_dir, s.index_dir, s.keystore_dir]
    engine = inst.db.engine
    if engine.dialect.name == "sqlite" and engine.url.database:
        db = Path(engine.url.database)
        paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")]
    result = residue.scan(paths, needles, root=s.home,
                          result=residue.ScanResult(method="database files" if engine.dialect.name == "sqlite"
                                                    else "files"))
    if engine.dialect.name != "sqlite":
        # the database is on the server: ask it, and scan its relation files when readable here
        ids = session.execute(select(RunStep.record_id).where(RunStep.run_id == run_id)).scalars().all()
        batch = session.get(Batch, session.get(DestructionRun, run_id).batch_id)
        residue.scan_postgresql(engine, needles, record_ids=[i for i in ids if i is not None], keyed_tables=keyed_tables(),
                                affected=affected_tables(batch.year, batch.region_code), result=result)
    result.shared = shared
    return result


def issue(inst, run_id: int, progress=None) -> Certificate:
    """Phase 6: residue check, certificate, batch certified (one transaction)."""
    tz = inst.settings.tz
    with inst.unit_of_work() as s:
        run = s.get(DestructionRun, run_id)
        batch = s.get(Batch, run.batch_id)
        if progress:
            progress("verify", 0, 1)
        scan = residue_check(inst, s, run_id)
        if progress:
            progress("verify", 1, 1)
        store = keystore.keystore_for(inst)
        keys_left = [k for k in store.key_ids() if k.startswith(f"{batch.id}.")
                     and int(k.split(".")[1]) <= run.old_key_generation]
        rows_left = s.execute(select(Record.serial).where(Record.serial.in_(
            select(RunStep.serial).where(RunStep.run_id == run_id)))).scalars().all()
        letters = s.execute(select(DestroyedLetter).where(DestroyedLetter.run_id == run_id)
                            .order_by(DestroyedLetter.serial)).scalars().all()
        manifest = [{"serial": d.serial, "reason": d.stored_reason, "received_on": d.received_on.isoformat(),
                     "stored_on": d.stored_on.isoformat(),
                     "destroyed_on": d.destroyed_at.astimezone(tz).date().isoformat()} for d in letters]
        counts = Counter(m["reason"] for m in manifest)
        now = utcnow()
        number = f"DC-{now.astimezone(tz).year}-{run.id:05d}"
        region = s.get(Region, batch.region_code)
        verification = scan.as_dict()
        verification.update({"batch_key_destroyed": not keys_left, "rows_absent": not rows_left})
        verification["clean"] = scan.clean and not keys_left and not rows_left
        body = {
            "format": FORMAT,
            "number": number,
            "issued_at": now.astimezone(tz).isoformat(timespec="seconds"),
            "batch": {"id": batch.id, "region": batch.region_code, "region_name": region.name if region else "",
                      "year": batch.year, "round": batch.rounds + 1},
            "proposed_by": _person(run.proposed_by),
            "approved_by": _person(run.approved_by),
            "executed_by": _person(run.started_by) or {"username": "retention-run", "display_name": "scheduled run"},
            "run": {"id": run.id, "started_at": run.started_at.astimezone(tz).isoformat(timespec="seconds"),
                    "finished_at": now.astimezone(tz).isoformat(timespec="seconds"),
                    "seconds": round((now - run.started_at).total_seconds(), 3), "attempts": run.attempts,
                    "held_letters_kept": run.skipped_held},
            "method": METHOD,
            "counts": {r: counts.get(r, 0) for r in REASONS},
            "total": len(manifest),
            "manifest": manifest,
            "manifest_sha256": manifest_digest(manifest),
            "verification": verification,
        }
        digest = body_digest(body)
        cert = Certificate(number=number, batch_id=batch.id, run_id=run.id, issued_at=now, letters=len(manifest),
                           residue_clean=verification["clean"], manifest_sha256=body["manifest_sha256"],
                           sha256=digest, body=canonical(body).decode())
        s.add(cert)
        s.flush()
        for d in letters:
            d.certificate_id = cert.id
        batch.state, batch.certified_at, batch.rounds = "certified", now, batch.rounds + 1
        batch.destroyed_at = batch.destroyed_at or now
        run.phase, run.finished_at = "certified", now
        # the journal's work is done: fingerprints are no longer needed
        for step in s.execute(select(RunStep).where(RunStep.run_id == run_id)).scalars():
            step.fingerprints = "[]"
        audit.record(s, "retention.certify", actor_name="retention-run", target=f"batch:{batch.id}",
                     detail={"certificate": number, "sha256": digest, "manifest_sha256": body["manifest_sha256"],
                             "letters": len(manifest), "clean": verification["clean"], "run": run.id})
        s.flush()
        s.expunge(cert)
    # the journal's fingerprints were just cleared: leave nothing of them behind (PostgreSQL: the
    # journal's table is rewritten, the rest was compacted in phase 5; SQLite: VACUUM of the file)
    compact(inst, tables=["retention_run_steps"])
    return cert


# -- verification --------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    number: str = ""
    letters: int = 0
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load(text: str | bytes) -> dict:
    try:
        body = json.loads(text)
    except ValueError:
        raise ValidationError("The certificate is not valid JSON.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValidationError(f"Not a destruction certificate (format {FORMAT}).")
    return body


def verify(body: dict, session: Session | None = None, inst=None) -> VerifyReport:
    """Recompute the certificate's digests and counts; with a session, check it against the
    instance (stored copy, audit trail, residual metadata, records and keys gone)."""
    rep = VerifyReport(number=str(body.get("number", "")))
    manifest = body.get("manifest")
    if not isinstance(manifest, list) or not all(isinstance(m, dict) for m in manifest):
        rep.problems.append("the manifest is missing or malformed")
        return rep
    rep.letters = len(manifest)
    if manifest_digest(manifest) != body.get("manifest_sha256"):
        rep.problems.append("the manifest's SHA-256 does not match: the list of letters was altered")
    else:
        rep.checked.append("manifest digest")
    counts = Counter(m.get("reason") for m in manifest)
    if {r: counts.get(r, 0) for r in REASONS} != body.get("counts") or len(manifest) != body.get("total"):
        rep.problems.append("the counts per reason or the total do not match the manifest")
    else:
        rep.checked.append("counts")
    serials = [m.get("serial") for m in manifest]
    if len(set(serials)) != len(serials):
        rep.problems.append("a serial appears twice in the manifest")
    if not (body.get("verification") or {}).get("clean"):
        rep.problems.append("the certificate records that the residue check was not clean")
    if session is None:
        return rep
    stored = session.execute(select(Certificate).where(Certificate.number == rep.number)).scalar_one_or_none()
    if stored is None:
        rep.problems.append(f"no certificate {rep.number} was issued by this instance")
        return rep
    digest = body_digest(body)
    if digest != stored.sha256 or body_digest(json.loads(stored.body)) != stored.sha256:
        rep.problems.append("the certificate differs from the one issued (SHA-256 mismatch)")
    else:
        rep.checked.append("matches the issued certificate")
    trail = session.execute(select(AuditEntry).where(AuditEntry.action == "retention.certify",
                                                     AuditEntry.target == f"batch:{stored.batch_id}")).scalars().all()
    if not any(json.loads(e.detail).get("sha256") == stored.sha256 for e in trail):
        rep.problems.append("the certificate's digest is not in the audit trail")
    else:
        rep.checked.append("digest in the audit trail")
    chain = audit.verify(session)
    if not chain.ok:
        rep.problems.append(f"the audit trail is broken: {chain.problem}")
    if serials:
        alive = [serial for step in in_steps(serials, CHUNK) for serial in session.execute(
            select(Record.serial).where(Record.serial.in_(step))).scalars()]
        if alive:
            rep.problems.append(f"{len(alive)} listed letter(s) still exist, e.g. {alive[0]}")
        kept = set(session.execute(select(DestroyedLetter.serial).where(
            DestroyedLetter.certificate_id == stored.id)).scalars())
        if kept != set(serials):
            rep.problems.append("the residual metadata does not list the same letters as the certificate")
        else:
            rep.checked.append("letters gone, residual metadata kept")
    if inst is not None:
        batch = body.get("batch") or {}
        run = session.get(DestructionRun, stored.run_id)
        store = keystore.keystore_for(inst)
        left = [k for k in store.key_ids() if k.startswith(f"{batch.get('id')}.")
                and run is not None and int(k.split(".")[1]) <= run.old_key_generation]
        if left:
            rep.problems.append("the destroyed batch key is still in the key store")
        else:
            rep.checked.append("batch key absent")
    return rep


# -- PDF -------------------------------------------------------------------------------------------
REASON_LABELS_ZH = {
    "concluded_after_rereview": "已複核終結",
    "repeat_already_answered": "重複來信已答覆",
    "no_reference_value": "無參考價值",
    "unclear_content": "內容不清",
}


#: The PDF's wording of :data:`METHOD` (the JSON keeps the English, which its digest covers).
METHOD_ZH = [
    "各信件的加密密鑰由批次密鑰保護，批次密鑰另行保管；銷毀時該批次密鑰已覆寫並刪除，密文從此無法解密（密鑰粉碎）。",
    "存有信件密文、處理記錄、附件名稱及身份檢索標記的數據已全部刪除，所佔存儲空間已清理。",
    "數據庫的臨時日誌已清空，存儲文件已重新整理。",
    "附件文件已刪除。",
    "全文檢索中的相應內容已刪除，所在年度的檢索文件已重新合併。",
    "已對數據庫、日誌、檢索、附件及密鑰的全部存儲文件進行殘留檢查，逐一查找被銷毀信件的密文、檢索標記及編號的特徵值。",
]
#: How the residue scan looked (verification.method) in the PDF's words.
SCAN_METHOD_ZH = {"database files": "檢查數據庫存儲文件", "files": "檢查存儲文件",
                  "database query": "逐表查詢數據庫內容",
                  "database query + relation files": "逐表查詢數據庫內容，並檢查其存儲文件"}
#: The supervising officials who sign the certificate (監銷人), and the others who sign.
SIGNATURE_LINES = ("監銷人", "監銷人", "銷毀執行人", "檔案管理人員")


def _zh_method(text: str) -> str:
    return METHOD_ZH[METHOD.index(text)] if text in METHOD and len(METHOD_ZH) == len(METHOD) else text


def _named(p: dict | None) -> str:
    """A person on the certificate, in its script (Traditional), as the name was entered or not."""
    return f"{to_hant(p['display_name'])}（{p['username']}）" if p else "—"


def _summary_lines(body: dict) -> list[tuple[str, str]]:
    b = body.get("batch", {})
    run = body.get("run") or {}
    v = body.get("verification", {})
    lines = [
        ("證明編號", body.get("number", "")),
        ("簽發時間", body.get("issued_at", "")),
        ("存信批次", f"{b.get('region_name') or ''}（行政區劃代碼 {b.get('region')}），{b.get('year')}年，"
                     f"第{b.get('round')}輪"),
        ("提出銷毀", _named(body.get("proposed_by"))),
        ("批准銷毀", _named(body.get("approved_by"))),
        ("執行銷毀", _named(body.get("executed_by"))),
        ("執行時間", f"{run.get('started_at', '')} 至 {run.get('finished_at', '')}（歷時 {run.get('seconds', '')} 秒）"),
        ("銷毀信件總數", f"{body.get('total')} 件"),
    ]
    for reason, n in (body.get("counts") or {}).items():
        lines.append((f"　其中{REASON_LABELS_ZH.get(reason, reason)}", f"{n} 件"))
    method = str(v.get("method") or "database files")
    lines += [
        ("殘留檢查結果", "通過，未發現殘留" if v.get("clean") else "未通過，發現殘留"),
        ("　檢查範圍", f"檢查文件 {v.get('files_scanned')} 個，共 {v.get('bytes_scanned')} 字節；"
                     f"特徵值 {v.get('fingerprints')} 個，發現殘留 {v.get('residue_found')} 處"),
        ("　檢查方式", SCAN_METHOD_ZH.get(method, method)),
        ("銷毀清冊摘要（SHA-256）", body.get("manifest_sha256", "")),
    ]
    return lines


def pdf(body: dict, settings=None, *, bureau_name: str | None = None) -> bytes:
    """The certificate as a PDF (in memory), in Chinese throughout, with lines for the
    supervising officials (監銷人) and the others to sign, under ``bureau_name`` (the
    letterhead's; the default letterhead's when not given)."""
    from fpdf.enums import Align, XPos, YPos

    from records.cases.notices import cjk_pdf
    from records.reference.letterhead import DEFAULT

    doc = cjk_pdf(f"存信銷毀證明書 {body.get('number', '')}", margin=18, settings=settings)
    w = doc.epw
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    doc.set_font("cjk", size=16)
    doc.cell(w, 10, bureau_name or DEFAULT["bureau_name"], align=Align.C, **nl)
    doc.set_font("cjk", size=18)
    doc.cell(w, 12, "存信銷毀證明書", align=Align.C, **nl)
    doc.set_font("cjk", size=10)
    for label, value in _summary_lines(body):
        doc.cell(55, 6.5, label)
        doc.multi_cell(w - 55, 6.5, str(value), **nl)
    doc.ln(3)
    doc.set_font("cjk", size=9)
    doc.cell(w, 6, "銷毀方法", **nl)
    for m in body.get("method", []):
        doc.multi_cell(w, 5, "・" + _zh_method(m), **nl)
    doc.ln(3)
    doc.set_font("cjk", size=10)
    doc.cell(w, 7, "銷毀清冊", **nl)
    doc.set_font("cjk", size=8.5)
    cols = [(38, "serial", "信訪編號"), (52, "reason", "存信理由"), (30, "received_on", "收信日期"),
            (30, "stored_on", "存信日期"), (w - 150, "destroyed_on", "銷毀日期")]
    for width, _key, title in cols:
        doc.cell(width, 6, title, border="B")
    doc.ln(6)
    for m in body.get("manifest", []):
        for width, key, _title in cols:
            value = m.get(key, "")
            doc.cell(width, 5, str(REASON_LABELS_ZH.get(value, value) if key == "reason" else value))
        doc.ln(5)
    doc.ln(8)
    doc.set_font("cjk", size=11)
    for role in SIGNATURE_LINES:
        doc.cell(w, 10, f"{role}（簽字）：________________　　日期：______年____月____日", **nl)
    doc.ln(4)
    doc.set_font("cjk", size=8)
    doc.multi_cell(w, 4.5, "核驗方法：執行 xinfang retention verify <證明文件.json>。以電子證明文件（JSON）為準，"
                           "其 SHA-256 摘要已記入審計日誌。", **nl)
    return bytes(doc.output())
