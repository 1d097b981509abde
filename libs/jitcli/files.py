"""Files the command line reads whole: their SHA-256 (an evidence item's upload declares it before its bytes;
a node backup's manifest lists one per part and checks each before a restore)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex (``hashlib.file_digest``: read into one reused buffer)."""
    with path.open("rb", buffering=0) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
