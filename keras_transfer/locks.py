"""A run folder's lock: one process works in a run folder at a time.

A recipe holds an OS-level lock (``fcntl.flock``) on ``<run folder>/.lock``
from the moment it claims the folder until it ends. The kernel drops the
lock when the process ends, however it ends (``kill -9`` included), so a
killed run never leaves its folder locked, which a pid file would: a second
process, ``--resume`` or not, is refused while the first one runs and
accepted once it is gone. The file keeps the holder's pid for the message.

Why not a library: ``filelock`` does the same with more code paths (soft
locks, timeouts) that a refusal does not need; ``flock`` is the whole
mechanism. POSIX only: on a system without ``fcntl`` (Windows) runs are not
locked, and starting two in one folder stays the user's responsibility.
"""

import os

try:
    import fcntl
except ImportError:  # Windows: no locking (module docstring)
    fcntl = None

LOCK_NAME = ".lock"


class FolderInUse(ValueError):
    """Another process holds the folder's lock (a `ValueError`: the recipes refuse it, exit 2).

    Example:
    >>> isinstance(FolderInUse("x"), ValueError)
    True
    """


def _in_use(folder, pid):
    return FolderInUse(
        f"Expected --output_dir {folder!r} to be free, received a folder that process {pid} "
        f"is running in now; wait for it to end (then --resume if it did not finish) or "
        f"choose another folder."
    )


def holder(folder):
    """The pid (text) of the process holding ``folder``'s lock, or ``None`` if none does.

    Changes nothing: opens an existing lock file read-only, tries a shared
    lock and releases it at once.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> holder(folder) is None
    True
    >>> with FolderLock(folder):
    ...     holder(folder) == str(os.getpid())
    True
    """
    path = os.path.join(folder, LOCK_NAME)
    if fcntl is None or not os.path.isfile(path):
        return None
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return f.read().strip() or "unknown"
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def check_free(folder):
    """Refuses (`FolderInUse`) a folder whose lock another process holds; changes nothing.

    Example:
    >>> import tempfile
    >>> check_free(tempfile.mkdtemp())
    """
    pid = holder(folder)
    if pid is not None:
        raise _in_use(folder, pid)


class FolderLock:
    """Holds ``folder``'s lock (the folder must exist) until `release` or the process ends.

    Raises:
        FolderInUse: another process (or another `FolderLock` of this one)
            holds it.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...     FolderLock(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.locks.FolderInUse: Expected --output_dir ... to be free, received a folder ...
    """

    def __init__(self, folder):
        self.folder = folder
        self._file = None
        if fcntl is None:
            return
        f = open(os.path.join(folder, LOCK_NAME), "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            f.close()
            raise _in_use(folder, pid) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self):
        """Drops the lock (closing the file releases it); a second call does nothing."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
