"""Transfer techniques, one module each: model(s) in, model out."""

from keras_transfer.transfer.hierarchical import transfer_first_layer

__all__ = ["transfer_first_layer"]
