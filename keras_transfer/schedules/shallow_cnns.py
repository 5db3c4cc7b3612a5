"""HTCNN's first step as a library function: train m shallow CNNs, one per training shard.

Paper: htcnn-hierarchical-transfer.txt. HTCNN trains "the shallow CNNs
independently on their own datasets" (section I, step (ii); section III-A1:
same architecture and hyper-parameters for all, SGD with learning rate 0.01,
mini-batch 100, 10,000 iterations), then extracts their first layers to
initialise the cloud CNN's first layer (step (iii), section III-A3), which is
`keras_transfer.transfer.hierarchical.transfer_first_layer`. `train_shallow_cnns`
is step (ii) for any dataset and any builder; the HTCNN experiment
(`keras_transfer.experiments.htcnn`) is one user of it.
"""

import os

import keras
import tensorflow as tf

from keras_transfer import data as kt_data
from keras_transfer import training


def _train_dataset(shard, batch_size, seed, mean):
    """A shard as a repeating dataset: ``(x, y)`` arrays shuffled with ``seed``, or as given."""
    if isinstance(shard, tf.data.Dataset):
        return shard
    x, y = shard
    return kt_data.make_dataset(x, y, batch_size, shuffle=True, repeat=True, seed=seed, mean=mean)


def train_shallow_cnns(
    build_shallow,
    shards,
    test,
    *,
    steps,
    batch_size=100,
    seed=0,
    steps_per_epoch=None,
    mean=None,
    compile_fn=None,
    strategy=None,
    runs_dir=None,
    tensorboard_dir=None,
):
    """Trains one shallow CNN per training shard (HTCNN step (ii), paper section III-A1).

    Shallow CNN ``j`` is built, compiled and trained with the seed
    ``seed * 1000 + j + 1`` (weights, and the batch order of an array shard),
    so every CNN is reproducible on its own. Hand the trained CNNs to
    `keras_transfer.transfer.hierarchical.transfer_first_layer` to initialise a
    cloud CNN's first layer (step (iii)).

    Args:
        build_shallow: ``build_shallow(j) -> keras.Model``, the uncompiled
            shallow CNN ``j`` (a logits classifier, e.g. `models.shallow_cnn`).
        shards: the m training sets, one per shallow CNN, in a list or any
            iterable (a generator makes each shard only when its CNN trains):
            ``(x, y)`` arrays (uint8 images, integer labels; batched by
            ``batch_size``, shuffled, repeated) or repeating `tf.data.Dataset`s
            of ``(images, labels)`` batches, used as they are.
        test: the evaluation set of the curves: ``(x, y)`` arrays or a finite
            batched dataset.
        steps: optimizer steps per shallow CNN (paper: 10,000).
        batch_size: examples per batch of array shards (paper: 100).
        seed: the base seed (see above).
        steps_per_epoch: steps between evaluations; must divide ``steps``
            (default ``steps``: one evaluation, at the end).
        mean: per-channel mean on the [0, 1] scale subtracted from array
            images (``None``: none).
        compile_fn: ``compile_fn(model) -> compiled model`` (default
            `keras_transfer.training.compile_classifier`: SGD 0.01, momentum 0.9).
        strategy: the `tf.distribute.Strategy` the CNNs are built under
            (default `keras_transfer.training.get_strategy()`).
        runs_dir: folder of each CNN's run files (``runs_dir/shallow_<j>``,
            resumable; `keras_transfer.training.train`), or ``None``.
        tensorboard_dir: folder of TensorBoard logs (``tensorboard_dir/shallow_<j>``),
            or ``None``.

    Returns:
        ``(models, curves, seconds)``: the trained shallow CNNs, their learning
        curves (`keras_transfer.training.train` rows) and their summed training
        wall time.

    Example (two shallow CNNs on the offline digits, then the cloud CNN's first layer):
    >>> from keras_transfer import data, models
    >>> from keras_transfer.transfer.hierarchical import transfer_first_layer
    >>> test, info = data.load("digits", "test")
    >>> shards = [data.load("digits", "train", batch_size=32, repeat=True, seed=j)[0]
    ...           for j in range(2)]
    >>> shallow, curves, seconds = train_shallow_cnns(
    ...     lambda j: models.shallow_cnn(info.image_shape, 10, first_filters=16,
    ...                                  name=f"shallow_cnn_{j}"), shards, test, steps=10)
    >>> len(shallow), curves[0][-1]["step"], seconds > 0
    (2, 10, True)
    >>> train_shallow_cnns(None, [], test, steps=10, steps_per_epoch=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected integers steps >= 1 and steps_per_epoch >= 1 dividing it, ...
    >>> cloud = transfer_first_layer(models.cloud_cnn(info.image_shape, 10), shallow)
    >>> import numpy as np  # cloud filters [16, 32) <- shallow CNN 1
    >>> bool(np.all(cloud.get_layer("conv1").kernel.numpy()[..., 16:]
    ...             == shallow[1].get_layer("conv1").kernel.numpy()))
    True
    """
    per_epoch = steps if steps_per_epoch is None else steps_per_epoch
    if not all(isinstance(v, int) and v >= 1 for v in (steps, per_epoch)) or steps % per_epoch:
        raise ValueError(
            f"Expected integers steps >= 1 and steps_per_epoch >= 1 dividing it, "
            f"received steps={steps!r}, steps_per_epoch={steps_per_epoch!r}."
        )
    strategy = strategy or training.get_strategy()
    compile_fn = compile_fn or training.compile_classifier
    if not isinstance(test, tf.data.Dataset):
        test = kt_data.make_dataset(test[0], test[1], max(batch_size, 500), mean=mean)
    shallow_models, curves, seconds = [], [], 0.0
    for j, shard in enumerate(shards):
        shallow_seed = seed * 1000 + j + 1
        keras.utils.set_random_seed(shallow_seed)
        with strategy.scope():
            model = compile_fn(build_shallow(j))
        name = f"shallow_{j}"
        curve = training.train(
            model,
            _train_dataset(shard, batch_size, shallow_seed, mean),
            test,
            epochs=steps // per_epoch,
            steps_per_epoch=per_epoch,
            run_dir=runs_dir and os.path.join(runs_dir, name),
            tensorboard_dir=tensorboard_dir and os.path.join(tensorboard_dir, name),
            eval_at_start=False,
        )
        shallow_models.append(model)
        curves.append(curve)
        seconds += curve[-1]["wall_seconds"] if curve else 0.0
    return shallow_models, curves, seconds
