"""Custom, serializable Keras layers."""

from keras_transfer.layers.grouped_conv import GroupedConv2D
from keras_transfer.layers.lenet import LENET5_C3_TABLE
from keras_transfer.layers.lenet import ConnectionTableConv2D
from keras_transfer.layers.lenet import Subsampling2D
from keras_transfer.layers.lenet import lecun_tanh
from keras_transfer.layers.skip_exchange import SkipExchange

__all__ = ["ConnectionTableConv2D", "GroupedConv2D", "LENET5_C3_TABLE", "SkipExchange",
           "Subsampling2D", "lecun_tanh"]
