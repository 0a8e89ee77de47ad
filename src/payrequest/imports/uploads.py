"""Files uploaded for an import, kept on disk between the preview and the import (never in
memory): `<var_dir>/imports/<organisation id>/<token>.csv` beside `<token>.json` (which
import, the file's own name). A token is found only in its own organisation's folder, so one
business cannot reach another's file by its token. Uploads older than `KEPT` are removed at
the next upload."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from payrequest.kit.ids import random_token

KEPT = 24 * 3600  # seconds
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    token: str
    kind: str  # customers or invoices
    name: str  # the file's name on the uploader's computer
    path: Path

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class Uploads:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def under(cls, var_dir: Path | str) -> Uploads:
        """The uploads of an installation whose files are in `var_dir`."""
        return cls(Path(var_dir) / "imports")

    def save(self, organisation_id: int, *, kind: str, name: str, source: BinaryIO) -> Upload:
        """Copy `source` (read in chunks) into the organisation's folder."""
        self.purge()
        folder = self._folder(organisation_id)
        folder.mkdir(parents=True, exist_ok=True)
        token = random_token(24)
        path = folder / f"{token}.csv"
        with path.open("wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        about = {"kind": kind, "name": Path(name).name[:200]}
        (folder / f"{token}.json").write_text(json.dumps(about), encoding="utf-8")
        return Upload(token, kind, about["name"], path)

    def find(self, organisation_id: int, token: str) -> Upload | None:
        if not _TOKEN.match(token):
            return None
        folder = self._folder(organisation_id)
        path, about = folder / f"{token}.csv", folder / f"{token}.json"
        if not path.is_file() or not about.is_file():
            return None
        values = json.loads(about.read_text(encoding="utf-8"))
        return Upload(token, str(values["kind"]), str(values["name"]), path)

    def remove(self, upload: Upload) -> None:
        upload.path.unlink(missing_ok=True)
        upload.path.with_suffix(".json").unlink(missing_ok=True)

    def purge(self) -> None:
        """Remove every organisation's uploads older than `KEPT`."""
        if not self.folder.is_dir():
            return
        oldest = time.time() - KEPT
        for path in self.folder.glob("*/*.*"):
            try:
                if path.stat().st_mtime < oldest:
                    path.unlink()
            except FileNotFoundError:
                continue

    def _folder(self, organisation_id: int) -> Path:
        return self.folder / str(int(organisation_id))
