"""Command-line flags from a config dataclass: one flag per field, help from its docstring.

A field's flag has the field's name and type (``bool``, ``int``, ``float``,
``str``; a ``tuple`` field becomes a comma-separated list whose items are
parsed like the default's items, integer ranges such as ``0-4`` allowed) and
its default is ``None``, meaning "the preset's value". The help text is the
field's entry in the dataclass docstring's ``Attributes:`` section, followed
by the presets' values.

Why not ml_collections/`absl.flags` config flags: they need a config *file*
per experiment and do not read dataclass docstrings; a frozen dataclass with
named fields is already the whole schema.
"""

import dataclasses
import re

from absl import flags

_ATTRIBUTE = re.compile(r"^(\s+)((?:[a-z_][a-z0-9_]*)(?:, [a-z_][a-z0-9_]*)*): (.*)$")


def field_help(config_class):
    """Field name -> its one-paragraph description from the ``Attributes:`` docstring section.

    Several names documented together (``a, b: text``) share the text.

    Example:
    >>> from keras_transfer.experiments.htcnn import HTCNNConfig
    >>> field_help(HTCNNConfig)["num_shallow"]
    'm, the number of shallow CNNs (paper: 4; Fig. 10: 2-16).'
    """
    doc = (config_class.__doc__ or "").split("Attributes:", 1)
    if len(doc) < 2:
        return {}
    out, names, indent = {}, [], None
    for line in doc[1].splitlines():
        if not line.strip():
            continue
        match = _ATTRIBUTE.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            names = match.group(2).split(", ")
            for name in names:
                out[name] = match.group(3).strip()
        elif indent is not None and len(line) - len(line.lstrip()) > indent:
            for name in names:
                out[name] += " " + line.strip()
        else:
            break  # the section ended (e.g. "Example:")
    return out


def _item_parser(default):
    items = tuple(default or ())
    if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return "integers", _ints
    if items and all(isinstance(v, (int, float)) for v in items):
        return "numbers", lambda text: float(text)
    return "names", lambda text: text


def _ints(text):
    """``'3' -> [3]``, ``'0-4' -> [0, 1, 2, 3, 4]``."""
    if re.fullmatch(r"\d+-\d+", text):
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(text)]


def define_config_flags(config_class, presets, skip=(), flag_values=flags.FLAGS):
    """Defines a flag for every field of ``config_class`` (except ``skip``) with default ``None``.

    Args:
        config_class: a frozen config dataclass.
        presets: preset name -> config (their values are shown in the help).
        skip: fields set by other flags (the contract's ``--dataset``, ``--repeats``).
        flag_values: where the flags are defined (default absl's global flags).

    Example:
    >>> from absl import flags as absl_flags
    >>> from keras_transfer.experiments.coarse2fine import Coarse2FineConfig, PRESETS
    >>> fv = absl_flags.FlagValues()
    >>> define_config_flags(Coarse2FineConfig, PRESETS, skip=("dataset",), flag_values=fv)
    >>> fv(["prog", "--stage_epochs=2,3,4", "--widen_at=0"]) and fv.stage_epochs, fv.widen_at
    (['2', '3', '4'], 0)
    """
    helps = field_help(config_class)
    for field in dataclasses.fields(config_class):
        if field.name in skip:
            continue
        values = ", ".join(
            f"{name}: {_show(getattr(cfg, field.name))}" for name, cfg in presets.items()
        )
        text = f"{helps.get(field.name, field.name)} [{values}]"
        kind = field.type
        if kind is bool:
            flags.DEFINE_boolean(field.name, None, text, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(field.name, None, text, flag_values=flag_values)
        elif kind is float:
            flags.DEFINE_float(field.name, None, text, flag_values=flag_values)
        elif kind is tuple:
            flags.DEFINE_list(field.name, None, text, flag_values=flag_values)
        else:
            flags.DEFINE_string(field.name, None, text, flag_values=flag_values)


def _show(value):
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else value


def config_overrides(config_class, base, flag_values=flags.FLAGS, skip=()):
    """Field -> value of every config flag given on the command line, parsed to the field's type.

    Args:
        config_class: the config dataclass.
        base: a config whose tuple fields tell how list items are parsed.
        flag_values: the parsed flags.
        skip: fields without a flag.

    Raises:
        ValueError: a list item does not parse (one line, naming the flag).

    Example:
    >>> from absl import flags as absl_flags
    >>> from keras_transfer.experiments.layer_transfer import LayerTransferConfig, PRESETS
    >>> fv = absl_flags.FlagValues()
    >>> define_config_flags(LayerTransferConfig, PRESETS, skip=("dataset",), flag_values=fv)
    >>> _ = fv(["prog", "--source_classes=0-2,7", "--output=softmax"])
    >>> config_overrides(LayerTransferConfig, PRESETS["quick"], fv, skip=("dataset",))
    {'source_classes': (0, 1, 2, 7), 'output': 'softmax'}
    """
    out = {}
    for field in dataclasses.fields(config_class):
        if field.name in skip or field.name not in flag_values:
            continue
        value = flag_values[field.name].value
        if value is None:
            continue
        if field.type is tuple:
            kind, parse = _item_parser(getattr(base, field.name))
            try:
                items = [parse(v.strip()) for v in value if v.strip()]
            except ValueError:
                raise ValueError(
                    f"Expected --{field.name} to be comma-separated {kind}, "
                    f"received {','.join(value)!r}."
                ) from None
            value = tuple(v for item in items for v in (item if isinstance(item, list) else [item]))
        out[field.name] = value
    return out
