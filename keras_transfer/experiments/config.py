"""What every experiment config shares: checked integer settings and named presets."""

import dataclasses
import math


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


def check_field_types(config):
    """Every field holds its declared type: finite numbers, integers for ``int``, no bools.

    ``None`` is accepted where the field's default is ``None`` ("not set").
    The per-experiment ``validate()`` then checks ranges and consistency.

    Example:
    >>> from keras_transfer.experiments.htcnn import HTCNNConfig
    >>> check_field_types(HTCNNConfig(learning_rate=float("nan")))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected learning_rate to be a finite number, received nan; ...
    """
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is None and field.default is None:
            continue
        values = value if field.type is tuple else (value,)
        for item in values:
            if isinstance(item, bool) and field.type is not bool:
                kind = "numbers" if field.type is tuple else field.type.__name__
                raise ValueError(
                    f"Expected {field.name} to be {kind}, received {value!r}; "
                    f"pass --{field.name}=<value>."
                )
            if field.type is float and not isinstance(item, (int, float)):
                raise ValueError(
                    f"Expected {field.name} to be a number, received {value!r}; "
                    f"pass --{field.name}=<number>."
                )
            if field.type is int and not isinstance(item, int):
                raise ValueError(
                    f"Expected {field.name} to be an integer, received "
                    f"{value!r}; pass a whole number."
                )
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(
                    f"Expected {field.name} to be a finite number, received "
                    f"{value!r}; pass a finite --{field.name}."
                )


def select_preset(presets, name, overrides, defaults=()):
    """``presets[name]``, the defaults its settings call for, then ``overrides``, validated.

    The one place a run's settings come from (the recipes' flags are the
    ``overrides``), so a config built in Python is the config a recipe runs.

    Args:
        presets: mapping name -> config dataclass with a ``validate()`` method.
        name: preset name.
        overrides: field -> value (``None`` values ignored); unknown fields
            are an error. They win over every default.
        defaults: ``((field, {value: {"all" | preset: {field: value}}}), ...)``:
            settings a preset needs when ``field`` (as overridden) has
            ``value``, e.g. per-dataset defaults. Later entries win over
            earlier ones, a preset's entry over ``"all"``.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import PRESETS
    >>> select_preset(PRESETS, "quick", {"epochs": 3, "dataset": None}).epochs
    3
    >>> by_dataset = ("dataset", {"digits": {"quick": {"batch_size": 32}}})
    >>> select_preset(PRESETS, "quick", {"dataset": "digits"}, [by_dataset]).batch_size
    32
    """
    if name not in presets:
        raise ValueError(f"Expected preset in {sorted(presets)}, received {name!r}.")
    base = presets[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"Expected settings among {sorted(fields)}, received {sorted(unknown)}.")
    chosen = {}
    for field, table in defaults:
        by_preset = table.get(overrides.get(field, getattr(base, field)), {})
        for key in ("all", name):
            chosen.update(by_preset.get(key, {}))
    config = dataclasses.replace(base, **{**chosen, **overrides})
    check_field_types(config)
    return config.validate()
