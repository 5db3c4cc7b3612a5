"""The ensemble baseline: average the class probabilities of several classifiers.

What a user with two trained networks would try before fusing them
(transferred-fusion comparison): no retraining, the cost is the members'.
"""

import keras


def average_ensemble(models, name="ensemble"):
    """One model whose output is the mean of the members' softmax probabilities.

    Args:
        models: two or more classifiers with the same input shape that output
            logits of the same shape ``(batch, classes)`` (e.g.
            `classification_head`'s float32 logits); other members are refused
            in one line before anything is built. They are used as they are
            (shared, not copied).
        name: the model's name.

    Returns:
        A Functional model ``image -> mean_k softmax(models[k](image))``
        (float32 probabilities; its argmax is the ensemble's prediction).

    Example:
    >>> import numpy as np
    >>> def net(name):
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name=name)
    >>> a, b = net("a"), net("b")
    >>> x = np.ones((2, 4), "float32")
    >>> p = average_ensemble([a, b]).predict(x, verbose=0)
    >>> probs = [keras.ops.softmax(m.predict(x, verbose=0)) for m in (a, b)]
    >>> bool(np.allclose(p, (probs[0] + probs[1]) / 2, atol=1e-6))
    True
    >>> c = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)], name="c")
    >>> average_ensemble([a, c])
    Traceback (most recent call last):
    ...
    ValueError: Expected models with one output shape (batch, classes), received {'a': (None, 3), \
'c': (None, 5)}; give every member a classifier of the same classes (logits of rank 2).
    """
    models = list(models)
    if len(models) < 2:
        raise ValueError(f"Expected two or more models to ensemble, received {len(models)}.")
    bad = [type(m).__name__ for m in models if not isinstance(m, keras.Model)]
    if bad:
        raise TypeError(
            f"Expected keras.Model members returning logits, received {bad}; pass Keras models."
        )
    shapes = {tuple(m.input_shape[1:]) for m in models}
    if len(shapes) != 1:
        raise ValueError(
            f"Expected models with one input shape, received {sorted(shapes)}; "
            f"resize inside the models first."
        )
    outputs = {m.name: m.output_shape for m in models}
    classes = {
        shape[1:] if isinstance(shape, tuple) and len(shape) == 2 else None
        for shape in outputs.values()
    }
    if len(classes) != 1 or None in classes:
        raise ValueError(
            f"Expected models with one output shape (batch, classes), received "
            f"{outputs}; give every member a classifier of the same classes "
            f"(logits of rank 2)."
        )
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Expected models with distinct names (they become layers of the "
            f"ensemble), received {names}; rename them (model.name = ...)."
        )
    inputs = keras.Input(shapes.pop(), name="image")
    probs = [
        keras.layers.Softmax(dtype="float32", name=f"{m.name}_softmax")(m(inputs)) for m in models
    ]
    outputs = keras.layers.Average(dtype="float32", name="mean_probabilities")(probs)
    return keras.Model(inputs, outputs, name=name)
