"""ImageNet-2012 class indices and a top-1 check of a 1000-class model on images of known wnids.

An ImageNet model's 1000 logits are in the order of the ILSVRC-2012 synset
ids (wnids) sorted, which tensorflow-datasets ships as
``tensorflow_datasets/datasets/imagenet2012/labels.txt``. Datasets whose
classes are ImageNet wnids (the Tiny ImageNet subset in ../shared/data) can
then measure whether pretrained weights were loaded right: a wrong tensor
layout or preprocessing gives about chance.
"""

import os

import numpy as np


def imagenet_wnids():
    """The 1000 ImageNet-2012 wnids in the order of an ImageNet model's logits.

    Example:
    >>> wnids = imagenet_wnids()
    >>> len(wnids), wnids[0]
    (1000, 'n01440764')
    """
    import tensorflow_datasets as tfds

    path = os.path.join(os.path.dirname(tfds.__file__), "datasets", "imagenet2012", "labels.txt")
    with open(path) as f:
        return tuple(line.strip() for line in f if line.strip())


def imagenet_class_indices(wnids):
    """The ImageNet logit index of each wnid in ``wnids``.

    Raises:
        ValueError: a wnid that is not an ImageNet-2012 class.

    Example:
    >>> imagenet_class_indices(["n01443537", "n01440764"]).tolist()
    [1, 0]
    """
    index = {w: i for i, w in enumerate(imagenet_wnids())}
    unknown = [w for w in wnids if w not in index]
    if unknown:
        raise ValueError(
            f"Expected ImageNet-2012 wnids, received {len(unknown)} others, e.g. {unknown[:3]}."
        )
    return np.array([index[w] for w in wnids])


def imagenet_top1(model, images, labels, wnids, image_size=224, batch_size=50):
    """Top-1 accuracy of a 1000-class ImageNet model on images of the classes ``wnids``.

    Args:
        model: takes ``(image_size, image_size, 3)`` images on [0, 1] and
            returns 1000 ImageNet logits (e.g. ``efficientnet_lite(weights=
            "imagenet")``).
        images: uint8 ``N x H x W x 3``, resized bilinearly to ``image_size``.
        labels: ``N`` indices into ``wnids``.
        wnids: the dataset's classes as ImageNet wnids.

    Returns:
        ``{"all": top-1 over the 1000 classes, "restricted": top-1 over the
        logits of ``wnids`` only}``.

    Example:
    >>> import keras
    >>> inputs = keras.Input((32, 32, 3))
    >>> m = keras.Model(inputs, keras.layers.Dense(1000)(keras.layers.Flatten()(inputs)))
    >>> sorted(imagenet_top1(m, np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4, int),
    ...                      ["n01440764", "n01443537"], image_size=32))
    ['all', 'restricted']
    """
    import tensorflow as tf

    classes = imagenet_class_indices(wnids)
    labels = np.asarray(labels)
    ds = (
        tf.data.Dataset.from_tensor_slices(np.asarray(images, np.uint8))
        .batch(batch_size)
        .map(lambda x: tf.image.resize(tf.cast(x, tf.float32) / 255.0, (image_size, image_size)))
    )
    logits = np.asarray(model.predict(ds, verbose=0))
    if logits.shape != (len(labels), 1000):
        raise ValueError(
            f"Expected 1000 ImageNet logits per image, received logits of shape {logits.shape}."
        )
    return {
        "all": float(np.mean(logits.argmax(1) == classes[labels])),
        "restricted": float(np.mean(logits[:, classes].argmax(1) == labels)),
    }
