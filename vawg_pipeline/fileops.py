"""Replacing a file that others may be reading: whole old file or whole new, never half."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def install_atomically(source: Path, target: Path, mode: int) -> Path:
    """Copy ``source`` over ``target`` atomically, leaving it with permissions ``mode``.

    The copy is written beside the target, flushed to disk, then renamed over it: a
    reader holding the old file keeps its view, a new reader gets the whole new file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        with open(tmp_name, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
