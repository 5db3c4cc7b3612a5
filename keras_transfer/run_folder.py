"""A run's output folder: checked before anything runs, claimed (locked) while a run works in it.

What `check_output_dir` refuses (a finished run, files that are not a run, an
unfinished run without ``--resume`` or with other settings or data, a folder
another process runs in, an unwritable or full location) and what
`claim_output_dir` does (create, lock, check again under the lock, store
``run_settings.json``) is the recipes' whole output-folder contract.
"""

import json
import os
import shutil

from keras_transfer import locks
from keras_transfer.files import remove_stale
from keras_transfer.report import write_json

RUN_SETTINGS = "run_settings.json"
MIN_FREE_BYTES = 200 * 2**20  # a run's files and exports take tens of MB; refuse below this


def check_output_dir(path, resume=False, settings=None):
    """Refuses an output folder that would mix, overwrite or fail to hold a run; creates nothing.

    A folder another process is running in (`locks.holder`) is refused; so is
    one holding a finished run (``summary.json``), or files that are not a run
    of this package (no ``run_settings.json``). One holding an unfinished run
    is refused unless ``resume``, and then also if ``settings`` differ from
    the ``run_settings.json`` the run started with (naming the differing
    fields; the data's fingerprints under ``"data"`` are compared when both
    have them, naming the dataset and split). A dangling symbolic link, a
    location that cannot be written, or with less than `MIN_FREE_BYTES`
    free, is refused too.

    Example:
    >>> import tempfile
    >>> check_output_dir(tempfile.mkdtemp() + "/run")
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"Expected --output_dir to be a folder, received the file {path!r}; "
            f"choose a folder name."
        )
    if os.path.isdir(path):
        locks.check_free(path)
        _check_contents(path, resume, settings)
    check_writable(path)


def _check_contents(path, resume, settings):
    entries = sorted(e for e in os.listdir(path) if e != locks.LOCK_NAME)
    if not entries:
        return
    if "summary.json" in entries:
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds a finished "
            "run (summary.json); choose another folder (nothing was overwritten)."
        )
    if RUN_SETTINGS not in entries:
        shown = ", ".join(repr(e) for e in entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds "
            f"{len(entries)} entries that are not a run of this package ({shown}; no "
            f"{RUN_SETTINGS}); choose an empty or new folder (nothing was touched)."
        )
    if not resume:
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds an "
            "unfinished run; pass --resume to continue it, or choose another folder."
        )
    if settings is not None:
        _check_same_settings(path, settings)


def _check_same_settings(path, settings):
    stored_path = os.path.join(path, RUN_SETTINGS)
    try:
        with open(stored_path) as f:
            stored = json.load(f)
    except (ValueError, OSError) as error:
        stored = error
    if not isinstance(stored, dict):
        raise ValueError(
            f"Expected {stored_path} to hold the settings the run started with "
            f"(a JSON object), received {str(stored)[:80]!r}; the file was changed "
            f"by hand: restore it or start a new run in another folder."
        )
    given = json.loads(json.dumps(settings, default=str))
    stored_data, given_data = stored.pop("data", None), given.pop("data", None)
    stored, given = _flat(stored), _flat(given)
    differ = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
    if differ:
        shown = ", ".join(f"{k} {stored.get(k)!r} -> {given.get(k)!r}" for k in differ[:6])
        raise ValueError(
            f"Expected --resume with the settings the run in {path!r} started with, received "
            f"different ones ({shown}); resume with the old values or start a new run in "
            f"another folder."
        )
    if stored_data is not None and given_data is not None:
        _check_same_data(path, stored_data, given_data)


def _check_same_data(path, stored, given):
    """Refuses ``--resume`` on data other than the run's (a mix of two datasets' trainings)."""
    changed = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
    if changed:
        key = changed[0]
        was, now = stored.get(key), given.get(key)
        what = (
            f"{was['examples']} examples (sha256 {was['sha256'][:12]}) -> "
            f"{now['examples']} examples (sha256 {now['sha256'][:12]})"
            if was and now
            else ("not loaded before" if not was else "not loaded now")
        )
        name, _, split = key.rpartition("/")
        raise ValueError(
            f"Expected --resume on the data the run in {path!r} started with, received changed "
            f"data: dataset {name!r}, split {split!r} ({what}); restore the old files or start "
            f"a new run in another folder."
        )


def _flat(settings, prefix=""):
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def check_writable(path, flag="--output_dir"):
    """Refuses ``path`` unless its nearest existing folder accepts a file and has room for a run.

    Creates nothing but a temporary file it removes at once; used before any
    training for every folder a run will write (``--output_dir``,
    ``--export_dir``), so a run cannot train for hours and then fail to save.

    Args:
        path: a folder that may not exist yet.
        flag: the flag that named it, for the error message.

    Example:
    >>> import tempfile
    >>> check_writable(tempfile.mkdtemp() + "/new/run")
    >>> check_writable("/proc/no_such_run", "--export_dir")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected a writable location for --export_dir '/proc/no_such_run', ...
    """
    import tempfile

    _check_path_names(path, flag)
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        if os.path.islink(parent):
            raise ValueError(
                f"Expected {flag} to be a folder or a new name, received "
                f"{path!r} through a symbolic link to the missing "
                f"{os.readlink(parent)!r}; create its target or choose another "
                f"location."
            )
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(
            f"Expected {flag} {path!r} inside a folder, received a path "
            f"through the file {parent!r}; choose another location."
        )
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ValueError(
            f"Expected a writable location for {flag} {path!r}, received "
            f"{parent!r} which refuses files ({error.strerror}); choose another "
            f"location."
        ) from None
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise ValueError(
            f"Expected at least {MIN_FREE_BYTES // 2**20} MB free for "
            f"{flag} {path!r}, received {free // 2**20} MB free; free "
            f"space or choose another location."
        )


def claim_output_dir(path, resume=False, settings=None):
    """Creates ``path`` for a run after `check_output_dir` and locks it; returns the lock.

    The folder is locked (`locks.FolderLock`) before it is checked a second
    time and changed: of two processes started together on one folder, one
    runs and the other is refused. A new run stores ``settings`` (or ``{}``)
    in ``run_settings.json``, which marks the folder as a run; a resumed one
    first drops the temporary files a killed run left (`files.remove_stale`).
    Release the lock (or end the process) when the run ends; a refused
    claim leaves no folder it created.

    Example:
    >>> import tempfile
    >>> with claim_output_dir(tempfile.mkdtemp() + "/run", settings={"seed": 0}) as lock:
    ...     sorted(os.listdir(lock.folder))
    ['.lock', 'run_settings.json']
    """
    check_output_dir(path, resume, settings)
    try:  # one process creates the folder; a refusal removes only what this one made
        os.makedirs(path)
        created = True
    except FileExistsError:
        created = False
    lock = locks.FolderLock(path)  # FolderInUse: another process has it; touch nothing
    try:
        _check_contents(path, resume, settings)  # again: another process may have finished
        remove_stale(path)
        stored = os.path.join(path, RUN_SETTINGS)
        if not os.path.exists(stored):
            write_json(stored, settings or {})
    except BaseException:
        if created and os.listdir(path) == [locks.LOCK_NAME]:
            os.remove(os.path.join(path, locks.LOCK_NAME))
            os.rmdir(path)
        lock.release()
        raise
    return lock


def _check_path_names(path, flag):
    """Refuses a path with a name longer than the file system takes (255 bytes on most)."""
    limit = 255
    longest = max((p for p in os.path.abspath(path).split(os.sep)), key=lambda p: len(p.encode()))
    if len(longest.encode()) > limit:
        raise ValueError(
            f"Expected {flag} with names of at most {limit} bytes, received a name "
            f"of {len(longest.encode())} ({longest[:24]!r}...); choose a shorter "
            f"one."
        )


def prepare_output_dir(path, resume=False, settings=None):
    """`claim_output_dir` without keeping the lock (a script that runs alone); returns ``path``.

    Example:
    >>> import tempfile
    >>> prepare_output_dir(tempfile.mkdtemp() + "/run", settings={"seed": 0})  # doctest: +ELLIPSIS
    '...run'
    """
    claim_output_dir(path, resume, settings).release()
    return path
