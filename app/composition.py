"""The composition root: ``build_instance(settings)`` makes a ready ``Instance`` and
registers every collaborator on it, explicitly, in its typed slots. Every entry point builds
through it: the web app and API (``app.web``), the ``xinfang`` CLI, the job worker,
benchmarks and tests. Nothing is wired by importing a module.

* key providers: ``batch`` (retention's batch keys, read from the key store);
* the key store (batch key files, sealed under the master key);
* the search service (blinder and backend, built on first use);
* ``on_stored``: retention puts a letter that becomes stored in its (region, year) batch
  and re-wraps its data key under the batch key, in the storing transaction;
* ``master_wrapped``: the holders of material wrapped by the master key, which key
  rotation re-wraps and retirement checks (record keys, batch key files);
* ``on_attachment``: intake queues the extraction of each new attachment's text;
* the OCR engine (``inst.ocr``: PP-OCR on ONNX Runtime, loaded on first use);
* job handlers: ``destruction``, ``intake.extract``.

Needs no Flask: a script builds an instance with ``build_instance(Settings.from_env())``."""
from __future__ import annotations

from records import crypto, keys
from records.cases import sweep as cases_sweep
from records.instance import Instance
from records.intake import drafts as intake_drafts
from records.intake import ocr as intake_ocr
from records.intake import operations as intake
from records.settings import Settings
from retention import jobs as retention_jobs
from retention import keystore
from retention import operations as retention
from search.indexer import SearchService


def build_instance(settings: Settings, *, keyring: crypto.Keyring | None = None) -> Instance:
    """A ready instance of ``settings`` (``keyring``: injected instead of read from the
    key file or the environment, for tests and tools)."""
    inst = Instance(settings, keyring=keyring)
    store = keystore.FileKeyStore(settings.keystore_dir / "batches", lambda: inst.keyring)
    inst.keystore = store
    inst.key_providers["batch"] = keystore.BatchKeyProvider(store)
    inst.master_wrapped.append(keys.RecordKeys())
    inst.master_wrapped.append(keystore.BatchKeyFiles(store))
    inst.search = SearchService(inst)
    inst.on_stored.append(retention.on_stored)
    retention_jobs.register(inst.jobs)
    inst.ocr = intake_ocr.RapidOcrEngine()
    inst.on_attachment.append(intake.on_attachment)
    intake.register_jobs(inst.jobs)
    intake_drafts.register_jobs(inst.jobs)   # scans recognised on the registration form
    cases_sweep.register_jobs(inst.jobs)
    return inst
