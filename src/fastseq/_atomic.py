"""Atomic file output: write to a temporary file beside the target, rename at the end."""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile


def _target(path):
    """The file a write to ``path`` should land in: a symlink's target (the link stays).
    A link to a special file (/dev/stdout -> a pipe) is written through as it is."""
    if not os.path.islink(path) or _is_special(path):
        return path
    return os.path.realpath(path)


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
        return 0o666 & ~_umask()


def _umask():
    """The process umask, read without setting it (os.umask would change it for a
    moment, for every thread)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _resolve(given):
    """(the file to write, its directory) for the output path ``given``; the directory
    is None for a special file, written in place. Errors name ``given``."""
    path = _target(given)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{given}: is a directory")
    if _is_special(path):
        return path, None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{given}: directory {directory} does not exist")
    return path, directory


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and an existing ``path`` is left untouched. A symlink is followed (its target
    is replaced, the link kept); an existing special file such as /dev/null is
    written directly."""
    given = os.fspath(path)
    path, directory = _resolve(given)
    if directory is None:
        with open(path, mode) as f:
            yield f
        return
    perm = _new_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    except OSError as e:
        raise _named(e, given) from None
    try:
        with os.fdopen(fd, mode) as f:
            with contextlib.suppress(OSError):  # some file systems (vfat, CIFS) refuse chmod
                os.fchmod(f.fileno(), perm)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            raise _named(e, given) from None  # (an error about another file keeps its name)
        raise


def _named(e, given):
    """An OSError about the output ``given`` (not its hidden temporary file)."""
    return type(e)(e.errno, f"{given}: cannot write ({e.strerror or e})")


def check_writable(path):
    """Fail early (before a long job) if ``path`` cannot be created or replaced."""
    given = os.fspath(path)
    if not given:
        raise ValueError("output path is empty")
    path, directory = _resolve(given)
    if directory is None:
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{given}: file is not writable")
        return
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{given}: directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise PermissionError(f"{given}: file is not writable")
