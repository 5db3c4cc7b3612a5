"""The layer-transfer experiment's data: source set, target pool and target test set.

Images become 32x32 grayscale (the paper's Figure 1); everything is loaded
and checked by `load_data` before any training.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.contract import Splits


def load_data(config, data_dir=None, seed=0):
    """Loads and splits the data, checking every size before any training.

    Returns:
        `Splits`: ``train`` is the target classes' training pool (the k
        samples per class are drawn from it), ``test`` the fixed target test
        set; ``extra["source"]`` the source net's training set,
        ``extra["source_test"]`` test images of the source classes. Labels
        are relabelled 0..C-1 within each class set.

    Raises:
        ValueError: unknown classes, too few source samples, k larger than the
            samples of a target class, too few test samples.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> d = load_data(get_preset("quick", dataset="digits", source_per_class=50,
    ...                          test_examples=100))
    >>> source = d.extra["source"]
    >>> source.x.shape[1:], len(source), len(d.test), len(d.extra["source_test"]) > 0
    ((32, 32, 1), 250, 100, True)
    """
    train, test = kt_data.load_splits(
        config.dataset, data_dir=data_dir, image_size=32, color="grayscale"
    )
    num = train.info.num_classes
    unknown = [c for c in config.source_classes + config.target_classes if not 0 <= c < num]
    if unknown:
        raise ValueError(
            f"Expected class ids in [0, {num}) for {config.dataset}, received {unknown}."
        )

    def subset(d, classes):
        x, y = kt_data.select_classes(d.x, d.y, classes)
        return kt_data.ImageData(x, y, dataclasses.replace(d.info, size=len(y)))

    src = subset(train, config.source_classes)
    src = src.take(kt_data.per_class_indices(src.y, config.source_per_class, seed=seed))
    pool = subset(train, config.target_classes)
    kt_data.per_class_indices(pool.y, max(config.ks), seed=seed)  # raises if k is too large
    tst = subset(test, config.target_classes)
    if config.test_examples > len(tst):
        raise ValueError(
            f"Expected at most {len(tst)} test examples of the target classes, "
            f"received test_examples={config.test_examples}."
        )
    per_class = config.test_examples // len(config.target_classes)
    keep = kt_data.per_class_indices(tst.y, per_class, seed=seed) if per_class else np.arange(0)
    return Splits(
        train=pool,
        test=tst.take(keep),
        extra={"source": src, "source_test": subset(test, config.source_classes)},
    )
