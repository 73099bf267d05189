"""Settings of one instance, read from the environment when asked (never at import)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: The petition office's own intake office; every new record starts there.
INTAKE_OFFICE_CODE = "XFB"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    #: Where the master key comes from: "file" (key file in the instance) or "env".
    master_key_source: str = "file"
    master_key_file: Path | None = None
    master_key_env: str = "XINFANG_MASTER_KEY"
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 10
    allowed_attachment_types: tuple[str, ...] = (
        "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif",
        "message/rfc822", "text/plain",
        # Word documents (e-mail attachments): their text is extracted (records.intake)
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    timezone: str = "Asia/Shanghai"
    extra: dict = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keys"

    @property
    def key_file(self) -> Path:
        return self.master_key_file or (self.keystore_dir / "master.key")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        home = Path(overrides.pop("home", None) or env.get("XINFANG_HOME") or "instance").resolve()
        url = overrides.pop("database_url", None) or env.get("XINFANG_DATABASE_URL") or (
            f"sqlite:///{home / 'xinfang.sqlite3'}"
        )
        source = overrides.pop("master_key_source", None) or env.get("XINFANG_MASTER_KEY_SOURCE") or (
            "env" if env.get("XINFANG_MASTER_KEY") else "file"
        )
        key_file = overrides.pop("master_key_file", None) or env.get("XINFANG_MASTER_KEY_FILE")
        return cls(
            home=home,
            database_url=url,
            master_key_source=source,
            master_key_file=Path(key_file).resolve() if key_file else None,
            **overrides,
        )
