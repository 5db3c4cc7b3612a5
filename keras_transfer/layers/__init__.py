"""Custom, serializable Keras layers."""

from keras_transfer.layers.grouped_conv import GroupedConv2D

__all__ = ["GroupedConv2D"]
