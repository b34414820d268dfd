"""Files written so that a crash never leaves half of one behind.

A write goes to a temp file ``.<name>.pid<PID>.<random>.tmp`` in the target's folder,
which is renamed over the target once complete. If the process dies mid-write
(SIGKILL, power loss), the fragment stays; the next write of the same file, or
:func:`remove_stale_temps` (called by :func:`nnlect.checkpoint.resume`), deletes the
fragments of our own naming whose writer is no longer running.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.pid{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temp files that an interrupted write of ``path`` left in its folder; returns them.

    Ours are ``.<name>.pid<PID>.<random>.tmp``: removed when process ``PID`` is gone (or is
    this process, which writes one file at a time). Files of the naming before pids were
    recorded, ``.<name>.<8 random chars>.tmp``, are removed too. Nothing else is touched.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    ours = re.compile(rf"^\.{re.escape(path.name)}\.pid(\d+)\.[A-Za-z0-9_]+\.tmp$")
    older = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp$")
    removed = []
    for candidate in path.parent.iterdir():
        match = ours.match(candidate.name)
        stale = bool(older.match(candidate.name)) or (
            match is not None and (int(match[1]) == os.getpid() or not _pid_alive(int(match[1]))))
        if stale and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temp file in ``path``'s folder, fsync it, then rename it over ``path``.

    Readers see the old file or the new one, never a partial one. Stale temp files of
    earlier interrupted writes of ``path`` are removed first (:func:`remove_stale_temps`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = None
    try:  # the temp file is created inside the try, so an interrupt at any point removes it
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it a plain file's mode
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))
