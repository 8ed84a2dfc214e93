"""Files the desk writes whole or not at all: each is written under a temporary name beside
its place (same folder, so same disk) and renamed into place once complete — a failed
export (a full disk, a second process that failed) leaves neither half a file nor a good
earlier file replaced by one."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def partial_path(path: Path) -> Path:
    """Where `path` is written before it is put in place: hidden, beside it."""
    return path.with_name(f".{path.name}.part")


def put_in_place(part: Path, path: Path) -> None:
    """`part` renamed to `path` (atomic on one disk). Raises OSError naming `path` when it
    cannot be; `part` is then removed."""
    try:
        os.replace(part, path)
    except OSError as e:
        part.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path)) from None


def check_writable(path: Path) -> None:
    """Raises OSError naming `path` when it is a folder or its folder is missing or not
    writable — before an export does its work, not after."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
