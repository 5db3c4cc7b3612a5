"""Transfer techniques, one module each: model(s) in, model out."""

from keras_transfer.transfer.coarse2fine import deepen
from keras_transfer.transfer.coarse2fine import upscale
from keras_transfer.transfer.coarse2fine import widen
from keras_transfer.transfer.distillation import Distiller
from keras_transfer.transfer.ensemble import average_ensemble
from keras_transfer.transfer.fusion import fuse
from keras_transfer.transfer.hierarchical import transfer_first_layer
from keras_transfer.transfer.layer_transfer import parameter_report
from keras_transfer.transfer.layer_transfer import transfer_layers

__all__ = ["Distiller", "average_ensemble", "deepen", "fuse", "parameter_report",
           "transfer_first_layer", "transfer_layers", "upscale", "widen"]
