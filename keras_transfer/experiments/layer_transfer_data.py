"""The layer-transfer experiment's data: source set, target pool and target test set.

Images become 32x32 grayscale (the paper's Figure 1); everything is loaded
and checked by `load_data` before any training.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.layer_transfer_config import get_preset  # noqa: F401 (examples)


@dataclasses.dataclass
class LayerTransferData:
    """Source training set, target training pool and the fixed target test set (relabelled).

    Example:
    >>> d = load_data(get_preset("quick", dataset="digits", source_per_class=50,
    ...                          test_examples=100))
    >>> d.source.x.shape[1:], len(d.source), len(d.test), len(d.source_test) > 0
    ((32, 32, 1), 250, 100, True)
    """

    source: kt_data.ImageData
    target_pool: kt_data.ImageData
    test: kt_data.ImageData
    source_test: kt_data.ImageData  # test images of the source classes (source net quality)


def load_data(config, data_dir=None, seed=0):
    """Loads and splits the data, checking every size before any training.

    Raises:
        ValueError: unknown classes, too few source samples, k larger than the
            samples of a target class, too few test samples.
    """
    train, test = kt_data.load_splits(config.dataset, data_dir=data_dir, image_size=32,
                                      color="grayscale")
    num = train.info.num_classes
    unknown = [c for c in config.source_classes + config.target_classes if not 0 <= c < num]
    if unknown:
        raise ValueError(f"Expected class ids in [0, {num}) for {config.dataset}, received "
                         f"{unknown}.")

    def subset(d, classes):
        x, y = kt_data.select_classes(d.x, d.y, classes)
        return kt_data.ImageData(x, y, dataclasses.replace(d.info, size=len(y)))

    src = subset(train, config.source_classes)
    src = src.take(kt_data.per_class_indices(src.y, config.source_per_class, seed=seed))
    pool = subset(train, config.target_classes)
    kt_data.per_class_indices(pool.y, max(config.ks), seed=seed)  # raises if k is too large
    tst = subset(test, config.target_classes)
    if config.test_examples > len(tst):
        raise ValueError(f"Expected at most {len(tst)} test examples of the target classes, "
                         f"received test_examples={config.test_examples}.")
    per_class = config.test_examples // len(config.target_classes)
    keep = kt_data.per_class_indices(tst.y, per_class, seed=seed) if per_class else np.arange(0)
    return LayerTransferData(src, pool, tst.take(keep), subset(test, config.source_classes))
