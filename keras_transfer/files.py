"""Atomic file writes: a file or folder appears whole under its name, or not at all.

Every file a run writes (summaries, histories, curves, plots, weights, backups,
exports) goes through `atomic_path`, so a run killed at any moment (``kill
-9``, a full disk) leaves either the previous complete version or a
temporary name that `remove_stale` clears on resume, never a truncated file
that a resumed run would trust.

Why not a library: `tempfile` + `os.replace` are the whole mechanism (POSIX
rename is atomic within a file system); what this module adds is keeping the
suffix Keras checks (``.weights.h5``, ``.keras``) and doing the same for
folders (SavedModel exports).
"""

import contextlib
import os
import shutil

TMP_MARK = ".tmp-"


def _tmp_name(path):
    """``dir/name.tmp-<pid>.<suffixes>``: same folder (same file system), same suffixes."""
    folder, base = os.path.split(path)
    stem, dot, suffixes = base.partition(".")
    return os.path.join(folder, f"{stem}{TMP_MARK}{os.getpid()}{dot}{suffixes}")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    Works for files and folders (write a folder at the yielded path, e.g. a
    SavedModel). On an exception the temporary is removed and ``path`` is
    untouched.

    Example:
    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("weights")
    >>> tmp.endswith(".weights.h5"), open(target).read()
    (True, 'weights')
    """
    tmp = _tmp_name(path)
    _remove(tmp)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            old = _tmp_name(path + "-old")
            os.replace(path, old)  # a folder cannot be replaced by rename onto it
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_text(path, text):
    """Writes ``text`` to ``path`` atomically.

    Example:
    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt"); write_text(p, "hi"); open(p).read()
    'hi'
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def save_weights(model, path):
    """``model.save_weights(path)`` atomically (``path`` ends in ``.weights.h5``).

    Example:
    >>> import tempfile, keras
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.weights.h5"); save_weights(m, p)
    >>> os.path.exists(p)
    True
    """
    with atomic_path(path) as tmp:
        model.save_weights(tmp)


def remove_stale(folder):
    """Removes the temporaries a killed run left in ``folder`` (recursively); their count.

    Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.tmp-1.json"), "w")
    >>> remove_stale(d), os.listdir(d)
    (1, [])
    """
    removed = 0
    for root, dirs, names in os.walk(folder):
        for name in list(dirs) + names:
            if TMP_MARK in name:
                _remove(os.path.join(root, name))
                removed += 1
        dirs[:] = [d for d in dirs if TMP_MARK not in d]
    return removed


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def remove_stale_temporaries(path):
    """Removes the temporaries of ``path`` (`atomic_path`'s) whose process has ended; their count.

    For folders shared between runs (exports): a temporary of a process
    still running is left alone.

    Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "m.tmp-999999999.keras"), "w")
    >>> remove_stale_temporaries(os.path.join(d, "m.keras")), os.listdir(d)
    (1, [])
    """
    folder, base = os.path.split(path)
    stem, _, suffixes = base.partition(".")
    prefix, removed = f"{stem}{TMP_MARK}", 0
    if not os.path.isdir(folder or "."):
        return 0
    for name in os.listdir(folder or "."):
        if not name.startswith(prefix):
            continue
        pid, _, rest = name[len(prefix) :].partition(".")
        if pid.isdigit() and rest == suffixes and not _alive(int(pid)):
            _remove(os.path.join(folder, name))
            removed += 1
    return removed


def _alive(pid):
    if pid == os.getpid():
        return False  # this process's own leftovers (an export it abandoned)
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's live process
        return True
    except (ProcessLookupError, OverflowError):
        return False
    return True
