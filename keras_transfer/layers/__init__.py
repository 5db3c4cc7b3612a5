"""Custom, serializable Keras layers."""

from keras_transfer.layers.grouped_conv import GroupedConv2D
from keras_transfer.layers.lenet import LENET5_C3_TABLE
from keras_transfer.layers.lenet import ConnectionTableConv2D
from keras_transfer.layers.lenet import Subsampling2D
from keras_transfer.layers.lenet import lecun_tanh
from keras_transfer.layers.resize import ResizeImages
from keras_transfer.layers.skip_exchange import SkipExchange
from keras_transfer.layers.upscaled import DilatedPooling2D
from keras_transfer.layers.upscaled import UpscaledKernel

__all__ = [
    "ConnectionTableConv2D",
    "DilatedPooling2D",
    "GroupedConv2D",
    "LENET5_C3_TABLE",
    "ResizeImages",
    "SkipExchange",
    "Subsampling2D",
    "UpscaledKernel",
    "lecun_tanh",
]
