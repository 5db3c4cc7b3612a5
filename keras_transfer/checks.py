"""Argument checks shared by the package's builders and transforms (internal).

Each check raises ``ValueError`` with one line naming what was expected and
what was received, before anything is built or trained. Not public API: the
public functions call these on their own arguments.

`check_weights_file` is the one check of a weights file a user names (a
builder's ``weights=``, a recipe's ``--backbone_weights``/``--weights_<k>``):
it opens the file and matches its layers and every weight's shape against
the model it is for, so a recipe refuses it before its run folder exists.
"""

import contextlib
import os
import random
import tempfile

import numpy as np


def check_image_classifier(input_shape, num_classes):
    """``input_shape`` is ``(height, width, channels)`` and ``num_classes`` an integer >= 2.

    Example:
    >>> check_image_classifier((32, 32, 3), 10)
    >>> check_image_classifier((32, 32), 10)
    Traceback (most recent call last):
    ...
    ValueError: Expected input_shape (height, width, channels), received (32, 32).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"Expected input_shape (height, width, channels), received {input_shape!r}."
        )
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 2
    ):
        raise ValueError(f"Expected num_classes to be an integer >= 2, received {num_classes!r}.")


def check_choice(value, choices, name):
    """``value`` is one of ``choices``.

    Example:
    >>> check_choice("exact", ("exact", "paper"), "mode")
    >>> check_choice("fast", ("exact", "paper"), "mode")
    Traceback (most recent call last):
    ...
    ValueError: Expected mode in ('exact', 'paper'), received 'fast'.
    """
    if value not in choices:
        raise ValueError(f"Expected {name} in {choices}, received {value!r}.")


def check_factor(factor, minimum=2):
    """An integer (not a bool) ``>= minimum``, returned as ``int``.

    Example:
    >>> check_factor(2)
    2
    >>> check_factor(1.5)
    Traceback (most recent call last):
    ...
    ValueError: Expected an integer factor >= 2, received 1.5.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < minimum:
        raise ValueError(f"Expected an integer factor >= {minimum}, received {factor!r}.")
    return int(factor)


WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".hdf5")


def check_weights_path(path, name="weights", expected=None, fix=None):
    """``path`` names a readable file with a Keras weights suffix; returns it as ``str``.

    The cheap part of `check_weights_file` (nothing opened beyond the
    file system): it exists, is a file (not a folder) and ends in
    ``.weights.h5`` (or ``.h5``/``.hdf5``, the legacy layout of e.g.
    keras.applications' ``*_notop.h5``). ``expected``: what the message says
    was expected (default ``"<name> to be an existing weights file"``);
    ``fix``: what to do instead (default: pass a ``.weights.h5`` file).

    Example:
    >>> import tempfile
    >>> check_weights_path(tempfile.mkdtemp(), "backbone_weights")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected backbone_weights to be an existing weights file, received '...' which \
is a folder; pass the path of a .weights.h5 file...
    """
    fix = fix or "pass the path of a .weights.h5 file (saved by model.save_weights)"
    problem = None
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
    if not isinstance(path, str):
        problem = "is not a path"
    elif os.path.isdir(path):
        problem = "is a folder"
    elif not os.path.exists(path):
        problem = "does not exist"
    elif not path.endswith(WEIGHTS_SUFFIXES):
        problem = "does not end in .weights.h5 (nor .h5/.hdf5, the legacy weights layout)"
    elif not os.access(path, os.R_OK):
        problem = "cannot be read (permission denied)"
    if problem:
        expected = expected or f"{name} to be an existing weights file"
        raise ValueError(f"Expected {expected}, received {path!r} which {problem}; {fix}.")
    return path


def _h5_problem(error):
    """h5py's open error in a few words (its first parenthesis: 'truncated file: ...')."""
    text = " ".join(str(error).split())
    start, end = text.find("("), text.rfind(")")
    return text[start + 1 : end] if 0 <= start < end else text


def _weights_layout(group):
    """``{layer path: (shape of each weight, ...)}`` of a ``.weights.h5`` file's layers.

    Every ``.../vars`` group that holds weights; every weight is read, so a
    file damaged inside its data raises here, not mid-run.
    """
    import h5py

    layout = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and name.rsplit("/", 1)[-1] == "vars" and len(obj):
            keys = sorted(obj, key=lambda k: int(k) if k.isdigit() else k)
            layout[name[: -len("/vars")] or "/"] = tuple(
                tuple(obj[k][()].shape) if isinstance(obj[k], h5py.Dataset) else None for k in keys
            )

    group.visititems(visit)
    return layout


def _legacy_layout(group):
    """``({"#i": shapes}, {"#i": layer name})`` of a legacy ``.h5`` file, layers with weights.

    Keras' legacy loader matches the file's layers with weights to the
    model's by position, so the keys are positions; the names are for messages.
    """

    def text(value):
        return value.decode("utf8") if hasattr(value, "decode") else str(value)

    if "layer_names" not in group.attrs and "model_weights" in group:
        group = group["model_weights"]  # a whole model saved with model.save("x.h5")
    layout, names = {}, {}
    for name in (text(n) for n in group.attrs.get("layer_names", ())):
        weights = [text(w) for w in group[name].attrs.get("weight_names", ())]
        if weights:
            key = f"#{len(layout)}"
            layout[key] = tuple(tuple(group[name][w][()].shape) for w in weights)
            names[key] = name
    return layout, names


def _model_layout(model, legacy):
    """The layout ``model.save_weights`` writes (or Keras' legacy one), in the same form."""
    import h5py

    if legacy:  # Keras' legacy loader: layers with weights in order, trainable weights first
        layers = [layer for layer in model.layers if layer.weights]
        return {
            f"#{i}": tuple(
                tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights
            )
            for i, layer in enumerate(layers)
        }
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.weights.h5")
        model.save_weights(path)
        with h5py.File(path, "r") as f:
            return _weights_layout(f)


def _differences(expected, received, names):
    """Where two layouts differ, in words: the first layer of each kind of difference.

    ``names``: the file's layer names of a legacy layout (keyed by position).
    """

    def order(key):
        return (int(key[1:]), key) if key.startswith("#") else (0, key)

    def label(key):
        return f"{key} ({names[key]} in the file)" if key in names else key

    def first(keys, text):
        keys = sorted(keys, key=order)
        more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
        return [text(keys[0]) + more] if keys else []

    shapes = [k for k in set(expected) & set(received) if expected[k] != received[k]]
    return (
        ", ".join(
            first(
                shapes,
                lambda k: (
                    f"layer {label(k)} holds weights of shapes "
                    f"{list(received[k])}, the model {list(expected[k])}"
                ),
            )
            + first(
                set(expected) - set(received),
                lambda k: f"the model's layer {label(k)} is not in the file",
            )
            + first(
                set(received) - set(expected),
                lambda k: f"the file's layer {label(k)} is not in the model",
            )
        )
        or "none"
    )


@contextlib.contextmanager
def preserved_random_state():
    """Restores Python's and NumPy's global random state on exit.

    Building a Keras model draws its initializers' seeds from Python's
    ``random``: a throwaway model built for a check must not shift what a
    seeded run draws next.

    Example:
    >>> import random
    >>> random.seed(0)
    >>> with preserved_random_state():
    ...     _ = random.random()
    >>> random.random() == random.Random(0).random()
    True
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def check_weights_file(path, model, what, name="weights", fix=None):
    """Opens weights file ``path`` and matches it against ``model``: layers and every shape.

    Before a run creates anything, a file that would fail to load (or
    load partly, with warnings) mid-run is refused in one line: ``path``
    must be a file (`check_weights_path`), open as HDF5 (a truncated or
    corrupt file does not), and hold exactly the layers with weights of
    ``model`` with every weight's shape: the ``model.save_weights`` layout
    for ``.weights.h5``, Keras' legacy order-based layout for ``.h5``.

    Args:
        path: the weights file.
        model: the Keras model the file is for, or a function without
            arguments building it (a throwaway model, built with Python's
            and NumPy's global random state restored afterwards, so a seeded
            run draws the same numbers with or without this check).
        what: the model in words, for the message (e.g. ``"EfficientNetLite0
            without its top"``).
        name: the setting that named the file, for the message.
        fix: what to do instead (default: pass a file saved from ``what``).

    Returns:
        ``path`` as ``str``.

    Raises:
        ValueError: ``Expected {name} to be a weights file of {what},
            received {path} which ...; {fix}.``

    Example:
    >>> import os, tempfile, keras
    >>> def mlp(units):
    ...     return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.weights.h5")
    >>> mlp(4).save_weights(path)
    >>> check_weights_file(path, lambda: mlp(4), "the MLP") == path
    True
    >>> check_weights_file(path, mlp(5), "the MLP")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected weights to be a weights file of the MLP, received '...mlp.weights.h5' \
which does not fit it: ... (layer layers/dense holds weights of shapes [(3, 4), (4,)], the \
model [(3, 5), (5,)]); pass a file saved from the MLP (model.save_weights).
    """
    import h5py

    fix = fix or f"pass a file saved from {what} (model.save_weights)"
    path = check_weights_path(path, name, fix=fix)
    legacy = not path.endswith(".weights.h5")

    def refuse(problem):
        return ValueError(
            f"Expected {name} to be a weights file of {what}, received "
            f"{path!r} which {problem}; {fix}."
        )

    try:
        with h5py.File(path, "r") as f:
            received, names = _legacy_layout(f) if legacy else (_weights_layout(f), {})
    except PermissionError as error:
        raise refuse(f"cannot be read ({error.strerror})") from None
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise refuse(
            f"is not a readable HDF5 weights file (truncated or corrupt: {_h5_problem(error)})"
        ) from None
    if callable(model) and not hasattr(model, "save_weights"):
        with preserved_random_state():
            model = model()
    expected = _model_layout(model, legacy)
    if received != expected:

        def count(layout):
            weights = sum(len(shapes) for shapes in layout.values())
            return f"{len(layout)} layer(s) with {weights} weight(s)"

        problem = (
            "holds no weights"
            if not received
            else (
                f"does not fit it: {count(received)} where the model has {count(expected)} "
                f"({_differences(expected, received, names)})"
            )
        )
        raise refuse(problem)
    return path
