"""Atomic file output: write to a temporary file beside the target, rename at the end."""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile


def _target(path):
    """The file a write to ``path`` should land in: a symlink's target (the link stays)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _is_special(path):
    """An existing file that is not a regular one (/dev/null, a FIFO, a terminal):
    it cannot be replaced by a rename, so it is written in place."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _new_mode(path):
    """Permission bits for the output: an existing file's own, else 0666 less the umask
    (what open() gives; mkstemp's 0600 would hide the file from other users)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and an existing ``path`` is left untouched. A symlink is followed (its target
    is replaced, the link kept); an existing special file such as /dev/null is
    written directly."""
    path = _target(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
    if _is_special(path):
        with open(path, mode) as f:
            yield f
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    perm = _new_mode(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, perm)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_writable(path):
    """Fail early (before a long job) if ``path`` cannot be created or replaced."""
    path = os.fspath(path)
    if not path:
        raise ValueError("output path is empty")
    path = _target(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{path}: file is not writable")
        return
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise PermissionError(f"{path}: file is not writable")
