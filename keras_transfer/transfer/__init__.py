"""Transfer techniques, one module each: model(s) in, model out."""

from keras_transfer.transfer.distillation import Distiller
from keras_transfer.transfer.ensemble import average_ensemble
from keras_transfer.transfer.fusion import fuse
from keras_transfer.transfer.hierarchical import transfer_first_layer
from keras_transfer.transfer.layer_transfer import parameter_report
from keras_transfer.transfer.layer_transfer import transfer_layers
from keras_transfer.transfer.net2net import deepen
from keras_transfer.transfer.net2net import widen
from keras_transfer.transfer.upscaling import replicate
from keras_transfer.transfer.upscaling import upscale

__all__ = [
    "Distiller",
    "average_ensemble",
    "deepen",
    "fuse",
    "parameter_report",
    "replicate",
    "transfer_first_layer",
    "transfer_layers",
    "upscale",
    "widen",
]
