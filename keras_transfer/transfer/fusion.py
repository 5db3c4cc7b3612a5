"""Transferred fusion learning: two pretrained nets joined by cross-network skip connections.

Paper: transferred-fusion-skipped-networks.txt, section 3. Both networks run on
one shared input; at chosen pairs of block outputs a `SkipExchange` adds each
network's activation map to the other's (identity where the shapes match, a
learned resizing convolution block where they do not), and each network goes
on from the exchanged tensor. The two networks' pooled outputs are
concatenated and a dense head classifies.

Two choices the paper leaves open, as arguments of `fuse`:
``exchange="gated"`` makes fusion function-preserving (the exchanges start
at zero, so the fused model first computes exactly the two networks), and
``train="new"`` freezes everything carried over from the two networks
(BatchNorm in inference mode) and trains only the exchanges and the head.

`fuse` re-runs each network's graph layer by layer from the shared input
(`keras_transfer.graph.walk`), substituting the exchanged tensors at the
pairs.
"""

import keras

from keras_transfer import graph
from keras_transfer.graph import all_layers
from keras_transfer.layers import SkipExchange
from keras_transfer.layers.skip_exchange import EXCHANGES

TRAIN_MODES = ("all", "new")


def copy_model(model, prefix=""):
    """A copy of ``model`` (nested models too) with its weights, ``prefix`` on every layer name.

    Training the copy leaves ``model`` unchanged.

    Example:
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d")])
    >>> c = copy_model(m, "a_")
    >>> c.layers[0].name, bool((c.get_weights()[0] == m.get_weights()[0]).all())
    ('a_d', True)
    """

    def rename(layer):
        config = layer.get_config()
        config["name"] = prefix + layer.name
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=rename, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def spatial_layers(model):
    """``{name: (height, width, channels)}`` of the layers with 4-D outputs, nested ones too.

    Example:
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")])
    >>> spatial_layers(m)
    {'c': (6, 6, 2)}
    """
    out = {}
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.InputLayer) or graph.is_functional(layer):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer used more than once has no single output
            continue
        if len(shape) == 4:
            out[layer.name] = tuple(shape[1:])
    return out


def auto_pairs(model_a, model_b):
    """Pairs of block outputs at the same spatial resolution: the last layer of each size.

    For every (height, width) both networks produce, the last layer (in model
    order) with that size in each network is paired, from the finest to the
    coarsest resolution. Layers before a network's first weighted layer
    (resizing, preprocessing) are not block outputs and are skipped.

    Example:
    >>> def net(p):
    ...     i = keras.Input((8, 8, 1))
    ...     x = keras.layers.Conv2D(2, 3, padding="same", name=p + "c1")(i)
    ...     x = keras.layers.MaxPooling2D(name=p + "p1")(x)
    ...     return keras.Model(i, keras.layers.Conv2D(3, 3, padding="same", name=p + "c2")(x))
    >>> auto_pairs(net("a"), net("b"))
    [('ac1', 'bc1'), ('ac2', 'bc2')]
    """

    def last_by_size(model):
        spatial, sizes, seen_weights = spatial_layers(model), {}, False
        for layer in all_layers(model):
            # Block outputs only: skip what runs before the first weighted
            # layer (resizing, preprocessing, the input itself).
            seen_weights = seen_weights or bool(layer.weights)
            if seen_weights and layer.name in spatial:
                sizes[spatial[layer.name][:2]] = layer.name  # later ones overwrite
        return sizes

    a, b = last_by_size(model_a), last_by_size(model_b)
    common = sorted(set(a) & set(b), key=lambda hw: (-hw[0] * hw[1], hw))
    return [(a[hw], b[hw]) for hw in common]


def _unreachable(model, name):
    """Why the walk cannot stop at layer ``name`` of ``model`` (``None``: it can)."""
    for layer in model.layers:
        if layer.name == name:
            # Sequential.add rebuilds the graph, leaving its layers with extra
            # nodes; a layer of a Sequential model runs once by construction.
            if not isinstance(model, keras.Sequential) and graph.call_count(layer) > 1:
                return (
                    f"{name!r} is called more than once in {model.name!r}, so it has no "
                    f"single output to exchange; pair a layer that runs once"
                )
            return None
        if hasattr(layer, "layers") and name in {sub.name for sub in all_layers(layer)}:
            if graph.call_count(layer) > 1:
                return (
                    f"{name!r} is inside {layer.name!r}, a model called more than once in "
                    f"{model.name!r} (shared weights), so it has no single output to "
                    f"exchange; pair a layer outside it"
                )
            if not graph.is_walkable(layer):
                return (
                    f"{name!r} is inside {layer.name!r}, a {type(layer).__name__} that is "
                    f"not a Functional or Sequential model, so its layers cannot be re-run "
                    f"one by one; pair a layer outside it or build it with the Functional "
                    f"API"
                )
            return _unreachable(layer, name)
    return None


def _check_pairs(pairs, model_a, model_b):
    spatial = (spatial_layers(model_a), spatial_layers(model_b))
    for which, model, names in (
        ("model_a", model_a, [p[0] for p in pairs]),
        ("model_b", model_b, [p[1] for p in pairs]),
    ):
        known = {layer.name for layer in all_layers(model)}
        for name in names:
            if name not in known:
                raise ValueError(
                    f"Expected a layer of {which} ({model.name}), received "
                    f"{name!r}, which does not exist; layers with spatial outputs: "
                    f"{sorted(spatial[which == 'model_b'])}."
                )
            reason = _unreachable(model, name)
            if reason:
                raise ValueError(
                    f"Expected a layer of {which} that can be paired, received {reason}."
                )
            if name not in spatial[which == "model_b"]:
                raise ValueError(
                    f"Expected a layer with a 4-D (batch, height, width, channels) "
                    f"output in {which}, received {name!r}, which has no spatial "
                    f"dimensions and cannot be paired."
                )
        if len(set(names)) != len(names):
            raise ValueError(
                f"Expected each layer of {which} in at most one pair, received {names}."
            )


def classification_head(features, num_classes, head_units=256, dropout=0.5):
    """``features -> [Dense(head_units, relu)] -> [Dropout] -> Dense logits (float32)``.

    The head `fuse` puts on the fused features, for single-network baselines
    with the same head.

    Example:
    >>> x = keras.Input((8,))
    >>> keras.Model(x, classification_head(x, 3, head_units=4)).output_shape
    (None, 3)
    """
    x = features
    if head_units:
        x = keras.layers.Dense(head_units, activation="relu", name="head_dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


def freeze(model):
    """Freezes every layer of ``model``, nested ones too, and runs it in inference mode.

    In Keras 3 a BatchNormalization layer with ``trainable = False`` uses and
    keeps its moving statistics; Dropout ignores ``trainable``, so its rate
    (drop connect included) is set to 0, as calling the model with
    ``training=False`` would (which a re-run graph such as `fuse`'s cannot
    do). Meant for copies (`copy_model`): the model is changed in place.

    Example:
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5), keras.layers.Dense(3)])
    >>> len(freeze(m).trainable_weights), m.layers[0].rate
    (0, 0.0)
    """
    model.trainable = False
    for layer in all_layers(model):  # explicit, so no nested layer keeps its own flag
        layer.trainable = False
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    return model


def fuse(
    model_a,
    model_b,
    num_classes,
    pairs="auto",
    exchange="paper",
    train="all",
    head_units=256,
    dropout=0.5,
    batch_norm=False,
    name="fused",
):
    """One Functional model running both networks with skip exchanges between their blocks.

    Args:
        model_a, model_b: pretrained Functional models (nested models such as
            `keras.applications` backbones allowed) with the same input
            shape; their outputs are their features (4-D outputs are globally
            average pooled).
        num_classes: classes of the new head (float32 logits); ``None``: no
            head, the model outputs the fused (concatenated) features.
        pairs: ``"auto"`` (`auto_pairs`) or a list of ``(layer of A, layer of
            B)`` names, in the order the layers run.
        exchange: ``"paper"``, the paper's sum (section 3.2.2), or
            ``"gated"``: each contribution scaled by a learnable gate that
            starts at 0, so at creation the fused features equal the two
            networks' own features exactly (`SkipExchange`).
        train: ``"all"``: every weight trains (layers frozen in ``model_a``
            or ``model_b`` stay frozen in their copies); ``"new"``: the layers
            carried over from the two networks are frozen and run in inference
            mode (`freeze`) and only the exchanges' adapters and gates and the
            head train.
        head_units: units of the hidden dense layer of the head (0: none).
        dropout: dropout before the logits.
        batch_norm: BatchNormalization in the exchange adapters.

    Returns:
        The fused model. Layers are copies of the two networks' (names
        prefixed ``a_`` and ``b_``) with their weights: training it leaves
        ``model_a`` and ``model_b`` unchanged. Exchanges are named
        ``exchange_<k>``.

    Raises:
        ValueError: different input shapes, a pair naming a layer that does
            not exist, has no spatial dimensions or cannot be reached (inside
            a subclassed model, or called more than once), pairs out of
            order, an unknown ``exchange`` or ``train``, ``train="new"`` with
            nothing left to train.

    Example:
    >>> from keras_transfer.models import residual_cnn
    >>> a = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=4)
    >>> b = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=8)
    >>> fused = fuse(a, b, 5, pairs=[("block2", "block2")])
    >>> fused.output_shape, fused.get_layer("exchange_1").name
    ((None, 5), 'exchange_1')
    >>> gated = fuse(a, b, 5, pairs=[("block2", "block2")], exchange="gated", train="new")
    >>> gated.get_layer("exchange_1").gates()
    {'b_to_a': 0.0, 'a_to_b': 0.0}
    """
    for which, model in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"Expected {which} to be a Keras model, received "
                f"{type(model).__name__}; pass two built Keras models."
            )
    shape_a, shape_b = tuple(model_a.input_shape[1:]), tuple(model_b.input_shape[1:])
    if shape_a != shape_b:
        raise ValueError(
            f"Expected two models with the same input shape, received {shape_a} "
            f"and {shape_b}; resize inside one of them first."
        )
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(
            f"Expected num_classes to be None or an integer >= 2, received {num_classes!r}."
        )
    if exchange not in EXCHANGES:
        raise ValueError(f"Expected exchange to be one of {EXCHANGES}, received {exchange!r}.")
    if train not in TRAIN_MODES:
        raise ValueError(f"Expected train to be one of {TRAIN_MODES}, received {train!r}.")
    pairs = auto_pairs(model_a, model_b) if pairs == "auto" else [tuple(p) for p in pairs]
    _check_pairs(pairs, model_a, model_b)
    a, b = copy_model(model_a, "a_"), copy_model(model_b, "b_")
    if train == "new":
        freeze(a), freeze(b)
    stops_a = ["a_" + p[0] for p in pairs]
    stops_b = ["b_" + p[1] for p in pairs]
    inputs = keras.Input(shape_a, name="image")
    walk_a = graph.walk(a, [inputs], set(stops_a))
    walk_b = graph.walk(b, [inputs], set(stops_b))

    def advance(walk, sent, expected, which):
        try:
            got, tensor = walk.send(sent)
        except StopIteration:
            raise ValueError(
                f"Expected {which} to reach {expected!r}, but its graph ended "
                f"first: the pairs are not in the order the layers run."
            ) from None
        if got != expected:
            raise ValueError(
                f"Expected {which} to reach {expected!r} next, received {got!r} "
                f"first: list the pairs in the order the layers run."
            )
        return tensor

    sent_a = sent_b = None
    for k, (name_a, name_b) in enumerate(zip(stops_a, stops_b), start=1):
        ta = advance(walk_a, sent_a, name_a, "model_a")
        tb = advance(walk_b, sent_b, name_b, "model_b")
        sent_a, sent_b = SkipExchange(
            exchange=exchange, batch_norm=batch_norm, name=f"exchange_{k}"
        )([ta, tb])
    features = []
    for walk, sent in ((walk_a, sent_a), (walk_b, sent_b)):
        try:
            walk.send(sent)
            raise ValueError("Expected no more pairs.")  # unreachable: stops are all sent
        except StopIteration as done:
            (out,) = done.value if len(done.value) == 1 else (done.value[0],)
        if len(out.shape) == 4:
            out = keras.layers.GlobalAveragePooling2D()(out)
        features.append(out)
    outputs = keras.layers.Concatenate(name="fused_features")(features)
    if num_classes is not None:
        outputs = classification_head(outputs, num_classes, head_units, dropout)
    model = keras.Model(inputs, outputs, name=name)
    if train == "new" and not model.trainable_weights:
        raise ValueError(
            f"Expected something to train with train='new', received "
            f"{len(pairs)} exchange(s) without weights ({exchange!r}, equal shapes) "
            f"and no head (num_classes=None); use exchange='gated', give "
            f"num_classes, or train='all'."
        )
    return model


def exchange_gates(model):
    """``{exchange layer name: {"b_to_a": g, "a_to_b": g}}`` of a fused model.

    Example:
    >>> from keras_transfer.models import residual_cnn
    >>> a = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=4)
    >>> exchange_gates(fuse(a, a, 3, pairs=[("block2", "block2")], exchange="gated"))
    {'exchange_1': {'b_to_a': 0.0, 'a_to_b': 0.0}}
    """
    return {layer.name: layer.gates() for layer in model.layers if isinstance(layer, SkipExchange)}
