"""What every experiment config shares: checked integer settings and named presets."""

import dataclasses


def check_positive_ints(config, names):
    """Raises ValueError unless every named field of ``config`` is an integer >= 1.

    Example:
    >>> import collections
    >>> check_positive_ints(collections.namedtuple("C", "epochs")(3), ["epochs"])
    """
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"Expected {name} to be an integer >= 1, received {value!r}.")


def select_preset(presets, name, overrides):
    """``presets[name]`` with ``overrides`` applied (``None`` values ignored), validated.

    Args:
        presets: mapping name -> config dataclass with a ``validate()`` method.
        name: preset name.
        overrides: field -> value; unknown fields are an error.

    Example:
    >>> from keras_transfer.experiments.htcnn import PRESETS
    >>> select_preset(PRESETS, "quick", {"epochs": 3, "dataset": None}).epochs
    3
    """
    if name not in presets:
        raise ValueError(f"Expected preset in {sorted(presets)}, received {name!r}.")
    base = presets[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"Expected settings among {sorted(fields)}, received {sorted(unknown)}.")
    return dataclasses.replace(base, **overrides).validate()
