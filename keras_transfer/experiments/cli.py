r"""The recipes' command line: quiet start, one-line refusals, exit codes.

Exit codes of every recipe:

- 0: the run finished (``summary.json`` written);
- 1: an unexpected internal error (its traceback is printed);
- 2: an input was refused before anything ran (a flag, a setting, the data,
  the output folder): one line on stderr, ``error: Expected <what>,
  received <what>; <how to fix>``, and no run folder content written;
- 3: a training diverged (its loss became NaN or infinite): one line, and a
  ``summary.json`` whose ``status`` is ``"diverged"`` instead of a result;
- 130: interrupted (Ctrl-C): one line saying how to resume; the run folder
  keeps every finished file, as after a kill.

Refusals print a traceback too with ``--verbosity=debug`` (absl's
``--verbosity`` takes an integer; the names debug/info/warning/error/fatal
are accepted here and mapped to 1/0/-1/-2/-3).
"""

import importlib
import os
import re
import sys
import tempfile
import traceback

EXIT_OK, EXIT_ERROR, EXIT_REFUSED, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
VERBOSITY_NAMES = {"debug": 1, "info": 0, "warning": -1, "error": -2, "fatal": -3}


class Refused(Exception):
    """An input refused before the run started; ``str()`` is the one line to print.

    Example:
    >>> str(Refused(ValueError("Expected m in [1, 2], received 3.")))
    'Expected m in [1, 2], received 3; see --helpfull for every flag and its values'
    """

    def __init__(self, error):
        super().__init__(refusal_text(error))
        self.error = error


def refusal_text(error):
    """The message of ``error`` as one line: expected, received, how to fix.

    A message without a fix gets a pointer to the flags' help; absl's flag
    errors are reworded into the same form.

    Example:
    >>> refusal_text(ValueError("Expected a folder, received a file; choose another."))
    'Expected a folder, received a file; choose another'
    >>> refusal_text(ValueError("flag --seed=-1: -1 is not an integer in the range [0, 9]"))
    'Expected --seed to be an integer in the range [0, 9], received -1; pass --seed=<value> \
within it (--helpfull lists every flag)'
    """
    text = " ".join(str(error).split()) or type(error).__name__
    text = _absl_flag_error(text.rstrip(".")) or text.rstrip(".")
    if "; " not in text:
        text += "; see --helpfull for every flag and its values"
    return text


# absl.flags' messages: "flag --name=value: reason" and "Unknown command line flag 'name'...".
_ABSL_BAD_VALUE = re.compile(r"^flag --([\w.-]+)=(.*?): (.*)$")
_ABSL_NOT_A = re.compile(r"^.* is not (an? .*)$")
_ABSL_UNKNOWN = re.compile(r"^Unknown command line flag '([\w.-]+)'(?:\. Did you mean: (.*?) \?)?")


def _absl_flag_error(text):
    """An absl flag error reworded as expected/received/fix, or ``None`` for other messages."""
    bad = _ABSL_BAD_VALUE.match(text)
    if bad:
        name, value, reason = bad.groups()
        kind = _ABSL_NOT_A.match(reason)
        if kind:
            return (
                f"Expected --{name} to be {kind.group(1)}, received {value}; pass "
                f"--{name}=<value> within it (--helpfull lists every flag)"
            )
        return (
            f"Expected a valid --{name} ({reason}), received {value}; see --helpfull for its values"
        )
    unknown = _ABSL_UNKNOWN.match(text)
    if unknown:
        name, hint = unknown.groups()
        fix = f"did you mean --{hint.split(',')[0].strip()}?" if hint else "check its spelling"
        return (
            f"Expected a flag of this recipe, received --{name}; {fix} (--helpfull lists "
            f"every flag)"
        )
    return None


def named_verbosity(argv):
    """``argv`` with ``--verbosity=<name>`` rewritten to absl's integer level.

    Example:
    >>> named_verbosity(["recipe", "--verbosity=debug", "--seed=1"])
    ['recipe', '--verbosity=1', '--seed=1']
    """
    out = []
    for arg in argv:
        name, _, value = arg.partition("=")
        if name in ("--verbosity", "-v") and value.lower() in VERBOSITY_NAMES:
            arg = f"{name}={VERBOSITY_NAMES[value.lower()]}"
        out.append(arg)
    return out


def verbosity(argv):
    """The ``--verbosity`` level given in ``argv`` (``None`` if absent or not an integer).

    Example:
    >>> verbosity(["recipe", "--verbosity=debug"]), verbosity(["recipe"])
    (1, None)
    """
    for arg in named_verbosity(argv):
        name, _, value = arg.partition("=")
        if name in ("--verbosity", "-v"):
            try:
                return int(value)
            except ValueError:
                return None
    return None


def report_refusal(error, argv, stream=None):
    """Prints ``error: <line>`` (and the traceback under debug verbosity); returns 2.

    Example:
    >>> import io; out = io.StringIO()
    >>> report_refusal(ValueError("Expected x, received y; fix z."), ["r"], out), out.getvalue()
    (2, 'error: Expected x, received y; fix z\\n')
    """
    stream = sys.stderr if stream is None else stream
    if (verbosity(argv) or 0) >= 1:
        traceback.print_exception(error, file=stream)
    line = str(error) if isinstance(error, Refused) else refusal_text(error)
    print(f"error: {line}", file=stream, flush=True)
    return EXIT_REFUSED


def quiet_unless_verbose(argv=None):
    """Turns TensorFlow's C++ INFO/warning lines off unless ``--verbosity`` is in ``argv``.

    Must run before TensorFlow is imported (the recipes call it first). Sets
    ``TF_CPP_MIN_LOG_LEVEL=2`` and imports TensorFlow with the process's
    stderr held back: TensorFlow 2.21 logs through Abseil, which prints lines
    below that level anyway while it is not initialised ("WARNING: All log
    messages before absl::InitializeLog() ...", the oneDNN INFO line;
    abseil/abseil-cpp#1718, #1957). If the import fails, what it printed is
    shown with the error.

    Example:
    >>> quiet_unless_verbose(["recipe", "--verbosity=0"])  # leaves TF logging alone
    """
    argv = sys.argv if argv is None else argv
    if verbosity(argv) is not None or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            importlib.import_module("tensorflow")
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
