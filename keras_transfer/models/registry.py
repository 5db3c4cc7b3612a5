"""One registry of model builders, by name (timm's ``register_model`` pattern, no if-chains)."""

_BUILDERS = {}


def register_model(fn=None, *, name=None):
    """Registers a model builder under ``name`` (default: the function's name).

    Example:
    >>> @register_model
    ... def tiny(input_shape, num_classes):
    ...     ...
    >>> "tiny" in list_models()
    True
    """

    def wrap(f):
        key = name or f.__name__
        if key in _BUILDERS and _BUILDERS[key] is not f:
            raise ValueError(f"Expected a new model name, received {key!r} which is registered.")
        _BUILDERS[key] = f
        return f

    return wrap(fn) if fn is not None else wrap


def list_models():
    """Sorted names of every registered builder.

    Example:
    >>> "cloud_cnn" in list_models()
    True
    """
    return sorted(_BUILDERS)


def get_builder(name):
    """The builder registered as ``name``; a clear error for an unknown name.

    Example:
    >>> get_builder("shallow_cnn").__name__
    'shallow_cnn'
    """
    if name not in _BUILDERS:
        raise ValueError(f"Expected a model name in {list_models()}, received {name!r}.")
    return _BUILDERS[name]


def build(name, /, **kwargs):
    """Builds the registered model ``name`` with ``kwargs``.

    Example:
    >>> model = build("cloud_cnn", input_shape=(32, 32, 3), num_classes=10)
    >>> model.output_shape
    (None, 10)
    """
    return get_builder(name)(**kwargs)
