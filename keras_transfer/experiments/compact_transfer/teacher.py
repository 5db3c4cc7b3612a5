"""Compact-CNN transfer, stage 1: the teacher (optional source pre-training, then fine-tuning).

Part of `keras_transfer.experiments.compact_transfer` (its config supplies
every setting used here). Two fine-tuning paths for an ImageNet backbone:
``finetune_mode="full"`` (the Keras transfer-learning guide, every layer on
images) and ``"cached"`` (the lower part run once, its features cached, the
upper part and the head fine-tuned on them; a CPU user's fast path, since
training EfficientNet-Lite0 costs about 8x its inference).
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.checks import preserved_random_state
from keras_transfer.experiments.contract import run_path
from keras_transfer.models.backbone import backbone
from keras_transfer.models.backbone import backbone_classifier
from keras_transfer.models.backbone import save_backbone_weights
from keras_transfer.models.backbone import split_classifier
from keras_transfer.models.backbone import unfreeze_backbone


def adam_classifier(model, lr):
    """Compiles ``model`` with Adam(``lr``), logits cross-entropy and accuracy; returns it."""
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def image_datasets(d_train, d_test, batch, seed, augment=False, targets=None):
    """``(repeated shuffled training batches [randomly flipped], test batches of 500)``."""
    train = kt_data.make_dataset(
        d_train.x,
        d_train.y if targets is None else targets,
        batch,
        shuffle=True,
        repeat=True,
        seed=seed,
    )
    if augment:

        def flip(x, y):
            return tf.image.random_flip_left_right(x, seed=seed), y

        train = train.map(flip, num_parallel_calls=tf.data.AUTOTUNE)
    return train, kt_data.make_dataset(d_test.x, d_test.y, 500)


def _feature_datasets(f_train, y_train, f_test, y_test, batch, seed):
    """Cached features as ``(train repeated and shuffled, test)`` datasets (float32 in memory)."""
    train = tf.data.Dataset.from_tensor_slices((f_train, y_train.astype(np.int32)))
    train = train.shuffle(len(f_train), seed=seed).repeat().batch(batch)
    test = tf.data.Dataset.from_tensor_slices((f_test, y_test.astype(np.int32))).batch(500)
    return train.prefetch(tf.data.AUTOTUNE), test.prefetch(tf.data.AUTOTUNE)


def pretrain_source(config, data, seed=0, output_dir=None, log=print):
    """Stage 0 (``backbone_weights="source"``): trains the backbone from scratch on the source task.

    Returns:
        ``(weights path or None when output_dir is None, source test accuracy,
        the trained source classifier)``.
    """
    keras.utils.set_random_seed(seed)
    shape = data.extra["source_train"].x.shape[1:]
    model = backbone_classifier(
        config.backbone,
        shape,
        data.extra["source_train"].info.num_classes,
        alpha=config.backbone_alpha,
        bn_momentum=config.source_bn_momentum,
        model_name="source_classifier",
    )
    adam_classifier(model, config.source_lr)
    train, test = image_datasets(
        data.extra["source_train"],
        data.extra["source_test"],
        config.batch_size,
        seed,
        config.augment,
    )
    curve = training.train(
        model,
        train,
        test,
        epochs=1,
        steps_per_epoch=config.source_steps,
        run_dir=run_path(output_dir, "runs", "source"),
        eval_at_start=False,
    )
    path = None
    if output_dir:
        path = os.path.join(output_dir, "source_backbone.weights.h5")
        if not os.path.exists(path):
            save_backbone_weights(model, path)
    if log:
        log(f"source pre-training: test accuracy {curve[-1]['test_accuracy']:.4f}")
    return path, curve[-1]["test_accuracy"], model


def check_split_layer(config):
    """Raises ValueError unless ``config.finetune_from`` names a layer of ``config.backbone``.

    EfficientNet-Lite stage names are known without building the network
    (checked with the settings); other families are built to read their
    layer names (checked by `load_data`, after the runner configured
    TensorFlow's devices), with the global random state kept.

    Example:
    >>> import types
    >>> check_split_layer(types.SimpleNamespace(backbone="EfficientNetLite0",
    ...                                         finetune_from="stage9", backbone_alpha=None))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected finetune_from to name a layer of EfficientNetLite0 ..., received 'stage9'.
    """
    name, family = config.finetune_from, config.backbone
    if family.startswith("EfficientNetLite"):
        names = {f"stage{i}" for i in range(1, 8)}
        if name in names:
            return
        hint = "stage1 ... stage7"
    else:
        with preserved_random_state():
            if family.startswith("MobileNet"):
                base = backbone(family, (32, 32, 3), alpha=config.backbone_alpha)
            else:
                base = backbone(family, (75, 75, 3))
        names = {layer.name for layer in base.layers}
        if name in names:
            return
        hint = ", ".join(layer.name for layer in base.layers[-4:])
    raise ValueError(
        f"Expected finetune_from to name a layer of {family} (e.g. {hint}), received {name!r}."
    )


def _teacher_phases(config, model, base, train, test, output_dir, set_trainable):
    """Head phase (``base`` frozen), then ``set_trainable()`` and fine-tuning; test accuracies."""
    base.trainable = False
    adam_classifier(model, config.head_lr)
    head = training.train(
        model,
        train,
        test,
        epochs=1,
        steps_per_epoch=config.head_steps,
        run_dir=run_path(output_dir, "runs", "teacher_head"),
        eval_at_start=False,
    )
    set_trainable()
    adam_classifier(model, config.finetune_lr)
    fine = training.train(
        model,
        train,
        test,
        epochs=1,
        steps_per_epoch=config.finetune_steps,
        run_dir=run_path(output_dir, "runs", "teacher_finetune"),
        eval_at_start=False,
    )
    return {"head": head[-1]["test_accuracy"], "finetune": fine[-1]["test_accuracy"]}


def fine_tune(config, data, weights, seed=0, output_dir=None, log=print, source_model=None):
    """Stage 1: new classifier on the backbone, head first (backbone frozen), then fine-tuning.

    ``finetune_mode="full"``: the Keras transfer-learning guide's recipe on
    images; phase 2 unfreezes the whole backbone (BatchNorm kept in inference
    mode unless ``finetune_bn_inference=False``). ``"cached"``: the teacher is
    split at ``finetune_from`` (`split_classifier`); the frozen lower part runs
    once over the training and test images, and both phases train the upper
    part on those cached features (phase 2: the upper backbone layers,
    BatchNorm in inference mode unless ``finetune_bn_inference=False``). The
    upper part shares its layers with the teacher, so the returned teacher is
    the fine-tuned network.

    Returns:
        ``(teacher model, {"head", "finetune": test accuracy}, {"train": cached
        training features or None, "upper": upper model or None, "seconds":
        feature caching seconds})``.
    """
    keras.utils.set_random_seed(seed)
    shape = data.train.x.shape[1:]
    teacher = backbone_classifier(
        config.backbone,
        shape,
        data.train.info.num_classes,
        weights=None if source_model is not None else weights,
        image_size=config.teacher_image_size,
        alpha=config.backbone_alpha,
        model_name="teacher",
    )
    if source_model is not None:  # same weights as the saved file, without the round trip
        teacher.get_layer("backbone").set_weights(source_model.get_layer("backbone").get_weights())
    cache = {"train": None, "upper": None, "seconds": 0.0}
    if config.finetune_mode == "full":
        train, test = image_datasets(data.train, data.test, config.batch_size, seed, config.augment)
        acc = _teacher_phases(
            config,
            teacher,
            teacher.get_layer("backbone"),
            train,
            test,
            output_dir,
            lambda: unfreeze_backbone(teacher, batchnorm_inference=config.finetune_bn_inference),
        )
    else:
        lower, upper = split_classifier(teacher, config.finetune_from)
        t0 = time.perf_counter()
        features = {
            name: lower.predict(kt_data.make_dataset(d.x, d.y, 100), verbose=0)
            for name, d in (("train", data.train), ("test", data.test))
        }
        cache.update(train=features["train"], upper=upper, seconds=time.perf_counter() - t0)
        train, test = _feature_datasets(
            features["train"], data.train.y, features["test"], data.test.y, config.batch_size, seed
        )
        upper_base = upper.get_layer("backbone_upper")

        def unfreeze_upper():  # as unfreeze_backbone, for the layers after the split
            upper_base.trainable = True
            for layer in upper_base.layers:
                is_bn = isinstance(layer, keras.layers.BatchNormalization)
                layer.trainable = not (is_bn and config.finetune_bn_inference)

        acc = _teacher_phases(config, upper, upper_base, train, test, output_dir, unfreeze_upper)
    if log:
        log(f"teacher: head-only accuracy {acc['head']:.4f}, fine-tuned {acc['finetune']:.4f}")
    return teacher, acc, cache
