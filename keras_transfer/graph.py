"""Re-running Keras Functional graphs: the only module touching Keras' graph internals.

The transforms of this package (`fuse`, `upscale`, `widen`, `deepen`) build
a new model by re-running an existing model's graph call by call, with some
layers replaced or some intermediate tensors swapped. Keras has no public API
for that (`keras.models.clone_model` only replaces inputs and keeps every
layer's config), so this module follows the order Keras itself uses
(`Function._run_through_graph`: nodes by decreasing depth) on the model's node
list. Everything that reads a private Keras attribute is here, read through
`_internal`, so a Keras release that changes them fails here first, with a
message naming the attribute (tests/test_graph.py pins the behaviour on
nested `keras.applications` models, residual and multi-input graphs).

Two entry points share one loop (`_run`):

- `rebuild(model, visit)`: a new model whose every call is what
  ``visit(call)`` returns (copy the layer, replace it, insert layers).
- `walk(model, inputs, stops)`: a generator re-running ``model`` on new
  tensors that pauses at the layers named in ``stops``, yields their output
  and goes on with the tensor sent back; nested models containing a stop are
  walked into.

Example:
>>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
>>> wider = rebuild(m, lambda call: keras.layers.Dense(5, name=call.layer.name)(*call.args))
>>> wider.output_shape
(None, 5)
"""

import collections

import keras

Call = collections.namedtuple("Call", ["layer", "inputs", "outputs", "args", "kwargs"])
Call.__doc__ = """One call of a layer in a graph being re-run.

``layer``: the original layer (or nested model); ``inputs``/``outputs``: the
original call's input/output `KerasTensor`s (their shapes are the original
ones; ``None`` inside a Sequential model); ``args``/``kwargs``: the call's
arguments with the *new* tensors filled in.

Example:
>>> Call(None, (), (), (1,), {}).args
(1,)
"""


def _internal(obj, name):
    """``getattr(obj, name)`` for a private Keras attribute, with a clear error if it is gone."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise RuntimeError(
            f"keras_transfer.graph relies on Keras' internal {type(obj).__name__}.{name}, which "
            f"Keras {keras.__version__} does not have; this Keras version is not supported yet "
            f"(keras_transfer was tested with Keras 3.15)."
        ) from None


def is_functional(layer):
    """True for a Functional model (a graph this module can re-run), False otherwise.

    Example:
    >>> i = keras.Input((2,))
    >>> dense = keras.layers.Dense(1)
    >>> is_functional(keras.Model(i, dense(i))), is_functional(dense)
    (True, False)
    """
    return (
        isinstance(layer, keras.Model)
        and hasattr(layer, "_nodes_by_depth")
        and not isinstance(layer, keras.Sequential)
    )


def is_walkable(layer):
    """True for a model whose layers can be re-run one by one: Functional or Sequential.

    Example:
    >>> is_walkable(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    True
    """
    return is_functional(layer) or isinstance(layer, keras.Sequential)


def call_count(layer):
    """How many times ``layer`` has been called in graphs (2 or more: a shared layer).

    Example:
    >>> d, i = keras.layers.Dense(2), keras.Input((2,))
    >>> _ = d(d(i))
    >>> call_count(d)
    2
    """
    return len(_internal(layer, "_inbound_nodes"))


def producer(tensor):
    """``(layer, input tensors)`` of the call that produced a symbolic ``tensor``; ``None``
    for a graph input or a tensor without history.

    Example:
    >>> i = keras.Input((2,))
    >>> layer, inputs = producer(keras.layers.ReLU(name="r")(i))
    >>> layer.name, inputs[0] is i
    ('r', True)
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
        return None
    layer = history.operation
    node = _internal(layer, "_inbound_nodes")[history.node_index]
    if node.is_input:
        return None
    return layer, list(node.input_tensors)


def as_functional(model, what, nested=False):
    """``model`` as a Functional model whose graph can be rebuilt, or a one-line ValueError.

    A built Sequential model becomes the equivalent Functional model (same
    layers). Refused: non-models, unbuilt Sequential models, subclassed models,
    shared layers (called more than once) and, unless ``nested``, nested models.

    Example:
    >>> seq = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> is_functional(as_functional(seq, "rebuild"))
    True
    """
    check_model(model, what)
    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise ValueError(
                f"Expected a built model to {what} (give the Sequential model an "
                f"keras.Input), received an unbuilt {model.name!r}."
            )
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    if not is_functional(model):
        raise ValueError(
            f"Expected a Functional (or Sequential) model to {what}, received a "
            f"subclassed {type(model).__name__}: its graph cannot be rewritten."
        )
    for layer in model.layers:
        if isinstance(layer, keras.Model) and not nested:
            raise ValueError(
                f"Expected a model without nested models to {what}, received "
                f"{layer.name!r} ({type(layer).__name__}) inside {model.name!r}; "
                f"rebuild it as one flat Functional model first."
            )
        if not isinstance(layer, keras.layers.InputLayer) and call_count(layer) > 1:
            raise ValueError(
                f"Expected every layer to be used once to {what}, received "
                f"{layer.name!r}, which is shared by {call_count(layer)} calls."
            )
    return model


def _nodes(model):
    """The model's calls in execution order (Keras' own: decreasing depth)."""
    by_depth = _internal(model, "_nodes_by_depth")
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            if node.operation and not node.is_input:
                yield node


def _run(model, inputs, call):
    """Generator: re-runs ``model`` on ``inputs``, each call's outputs from ``yield from
    call(Call)``; returns the list of new outputs."""
    if isinstance(model, keras.Sequential):
        (x,) = inputs
        for layer in model.layers:
            x = keras.tree.flatten((yield from call(Call(layer, None, None, (x,), {}))))[0]
        return [x]
    tensors = {id(x): y for x, y in zip(model.inputs, inputs)}
    for node in _nodes(model):
        if any(id(x) not in tensors for x in node.input_tensors):
            continue  # not computable from these inputs (as Keras skips it)
        args, kwargs = node.arguments.fill_in(tensors)
        outputs = yield from call(
            Call(node.operation, tuple(node.input_tensors), tuple(node.outputs), args, kwargs)
        )
        for x, y in zip(node.outputs, keras.tree.flatten(outputs)):
            tensors[id(x)] = y
    return [tensors[id(x)] for x in model.outputs]


def rebuild(model, visit, make_input=None, name=None):
    """A new Functional model: ``model``'s graph re-run with ``visit(call)`` for every call.

    Args:
        model: a Functional model (see `as_functional`).
        visit: ``Call -> output tensor(s)`` of the new graph, e.g.
            ``copy_call(call)`` to keep a layer or a new layer called on
            ``call.args``.
        make_input: ``original input KerasTensor -> new keras.Input``
            (default: same shape and name).
        name: name of the new model (default: the original's).

    Example:
    >>> i = keras.Input((4,), name="x")
    >>> m = keras.Model(i, keras.layers.Dense(3, name="d")(i))
    >>> copy = rebuild(m, copy_call)
    >>> same = copy.get_layer("d").kernel.numpy() == m.get_layer("d").kernel.numpy()
    >>> copy is m, bool(same.all())
    (False, True)
    """
    if make_input is None:

        def make_input(x):
            return keras.Input(x.shape[1:], name=x.name)

    def call(c):
        return visit(c)
        yield  # a generator that never pauses: `_run`'s protocol

    new_inputs = [make_input(x) for x in model.inputs]
    run = _run(model, new_inputs, call)
    try:
        next(run)
    except StopIteration as done:
        outputs = done.value
    return keras.Model(
        new_inputs[0] if len(new_inputs) == 1 else new_inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=name or model.name,
    )


def check_model(model, what):
    """Refuses anything but a Keras model in one line (``what``: what is done with it).

    Example:
    >>> check_model("model.keras", "transfer from")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected a Keras model to transfer from, received str; ...
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a Keras model to {what}, received {type(model).__name__}; "
            f"pass the model object (keras.models.load_model loads a saved one)."
        )


def all_layers(model):
    """Every layer of ``model`` and, right after each nested model, that model's layers.

    Example:
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="d")], name="in")
    >>> outer = keras.Sequential([keras.Input((2,)), inner])
    >>> [layer.name for layer in all_layers(outer)]
    ['in', 'd']
    """
    check_model(model, "list the layers of")
    return list(_all_layers(model))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model
            yield from _all_layers(layer)


def _contains(model, names):
    return any(layer.name in names for layer in all_layers(model))


def walk(model, inputs, stops):
    """Generator re-running ``model`` on ``inputs``; pauses at the layers named in ``stops``.

    At a stop it yields ``(name, tensor)`` and continues with the tensor sent
    back (e.g. an exchanged one). Nested Functional or Sequential models that
    contain a stop are walked into; other layers and models are called whole.
    Returns (``StopIteration.value``) the list of the model's new outputs.

    Example:
    >>> seq = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="a"),
    ...                         keras.layers.Dense(1, name="b")])
    >>> x = keras.Input((2,))
    >>> w = walk(seq, [x], {"a"})
    >>> name, t = next(w)
    >>> name, tuple(t.shape)
    ('a', (None, 2))
    """

    def call(c):
        layer = c.layer
        if is_walkable(layer) and _contains(layer, stops):
            outputs = yield from _run(layer, keras.tree.flatten(c.args), call)
        else:
            outputs = layer(*c.args, **c.kwargs)
        if layer.name in stops:
            outputs = [(yield layer.name, keras.tree.flatten(outputs)[0])]
        return outputs

    return (yield from _run(model, list(inputs), call))


def clone_layer(layer, **changes):
    """A new, unbuilt layer with ``layer``'s config, ``changes`` applied (no weights).

    Example:
    >>> clone_layer(keras.layers.Dense(3, name="d"), units=5).units
    5
    """
    config = layer.get_config()
    config.update(changes)
    return layer.__class__.from_config(config)


def copy_call(call, args=None):
    """Calls a fresh copy of ``call.layer`` (same config and weights) on ``call``'s new args.

    The `rebuild` visitor that keeps a layer as it is; ``args`` replaces the
    call's positional arguments (e.g. aligned merge inputs).

    Example:
    >>> i = keras.Input((2,))
    >>> m = keras.Model(i, keras.layers.Dense(3)(i))
    >>> len(rebuild(m, copy_call).layers)
    2
    """
    new = clone_layer(call.layer)
    out = new(*(call.args if args is None else args), **call.kwargs)
    new.set_weights(call.layer.get_weights())
    return out


def find_layer(model, name, what):
    """``model.get_layer(name)`` with a one-line error listing the layers when it is absent.

    Example:
    >>> i = keras.Input((2,))
    >>> find_layer(keras.Model(i, keras.layers.Dense(3, name="d")(i)), "d", "widen").name
    'd'
    """
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(
            f"Expected the name of a layer of {model.name!r} to {what}, received "
            f"{name!r}; layers: {names}."
        )
    return model.get_layer(name)
