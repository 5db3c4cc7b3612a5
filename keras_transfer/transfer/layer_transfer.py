"""Layer transfer: the bottom n levels of a trained source net seed a new target net.

Paper: "Knowledge transfer in deep convolutional neural nets"
(lenet5-knowledge-transfer-nist.txt), "Knowledge Transfer in DCNN's" and
Table 1. The bottom n levels (C1, S2, C3, ... for LeNet-5) are copied from
the source net, trained on other classes, and kept fixed; only the levels
above them are trained on the few samples of the new classes. Works for any
two Keras models whose bottom weighted layers match.
"""

import numpy as np

from keras_transfer.graph import all_layers


def weighted_layers(model):
    """The model's layers that own weights, bottom to top (the transferable "levels").

    A nested model (e.g. a `keras.applications` backbone) counts by its own
    weighted layers, in its layer order, not as one level.

    Example:
    >>> from keras_transfer.models.lenet5 import lenet5
    >>> [layer.name for layer in weighted_layers(lenet5())]
    ['C1', 'S2', 'C3', 'S4', 'C5', 'F6']
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1")], name="in")
    >>> outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="d2")])
    >>> [layer.name for layer in weighted_layers(outer)]
    ['d1', 'd2']
    """
    return [layer for layer in all_layers(model) if layer.weights and not hasattr(layer, "layers")]


def _resolve(source, target, n, names):
    src, tgt = weighted_layers(source), weighted_layers(target)
    if names is not None:
        if n is not None:
            raise ValueError(f"Expected either n or names, received n={n!r} and names={names!r}.")
        pairs = []
        by_name = [{layer.name: layer for layer in all_layers(m)} for m in (source, target)]
        for name in names:
            try:
                pairs.append((by_name[0][name], by_name[1][name]))
            except KeyError:
                raise ValueError(
                    f"Expected layer {name!r} in both models, source has "
                    f"{[layer.name for layer in src]} and target has "
                    f"{[layer.name for layer in tgt]}."
                ) from None
        return pairs
    limit = min(len(src), len(tgt))
    if not isinstance(n, (int, np.integer)) or not 0 <= n <= limit:
        raise ValueError(
            f"Expected n (levels to transfer) to be an integer in [0, {limit}] (the weighted "
            f"layers: {[layer.name for layer in src[:limit]]}), received n={n!r}."
        )
    return list(zip(src[:n], tgt[:n]))


def transfer_layers(source, target, n=None, names=None, freeze=True):
    """Copies the bottom ``n`` weighted layers (or the named ones) of ``source`` into ``target``.

    Args:
        source: the trained source model.
        target: the new model (same bottom layers); modified in place.
        n: number of bottom weighted layers to copy (0 copies nothing).
        names: alternatively, the layer names to copy (present in both).
        freeze: make the copied layers non-trainable (the paper's setting);
            ``False`` leaves them trainable (fine-tuning). Compile ``target``
            after this call.

    Returns:
        ``target``.

    Raises:
        ValueError: ``n`` out of range, an unknown name, or the first layer
            pair whose type or weight shapes differ (nothing is written then).

    Example:
    >>> from keras_transfer.models.lenet5 import lenet5
    >>> source, target = lenet5(), lenet5()
    >>> _ = transfer_layers(source, target, n=3)
    >>> [layer.trainable for layer in weighted_layers(target)]
    [False, False, False, True, True, True]
    """
    pairs = _resolve(source, target, n, names)
    for s, t in pairs:
        s_shapes = [tuple(w.shape) for w in s.weights]
        t_shapes = [tuple(w.shape) for w in t.weights]
        if type(s) is not type(t) or s_shapes != t_shapes:
            raise ValueError(
                f"Expected matching layers to transfer; the first mismatch is source layer "
                f"{s.name!r} ({type(s).__name__}, weights {s_shapes}) vs target layer {t.name!r} "
                f"({type(t).__name__}, weights {t_shapes})."
            )
    for s, t in pairs:
        t.set_weights(s.get_weights())
        t.trainable = not freeze
    return target


def parameter_report(model):
    """Trainable and frozen parameters per weighted layer, with totals (paper Table 1).

    Returns:
        dict with ``layers`` (list of ``{"layer", "params", "trainable"}``),
        ``total``, ``trainable``, ``frozen`` and ``trainable_fraction``.

    Example:
    >>> from keras_transfer.models.lenet5 import lenet5
    >>> model = lenet5()
    >>> _ = transfer_layers(lenet5(), model, n=5)
    >>> r = parameter_report(model)
    >>> r["trainable"], r["frozen"], round(r["trainable_fraction"], 3)
    (2420, 49836, 0.046)
    """
    rows = [
        {
            "layer": layer.name,
            "params": int(layer.count_params()),
            "trainable": bool(layer.trainable),
        }
        for layer in weighted_layers(model)
    ]
    total = sum(r["params"] for r in rows)
    trainable = sum(r["params"] for r in rows if r["trainable"])
    return {
        "layers": rows,
        "total": total,
        "trainable": trainable,
        "frozen": total - trainable,
        "trainable_fraction": trainable / total if total else 0.0,
    }
