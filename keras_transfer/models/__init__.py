"""Functional-API model builders, registered by name (see `registry`)."""

from keras_transfer.models.alexnet import alexnet
from keras_transfer.models.alexnet import shallow_alexnet
from keras_transfer.models.backbone import backbone_classifier
from keras_transfer.models.backbone import split_classifier
from keras_transfer.models.backbone import unfreeze_backbone
from keras_transfer.models.coarse2fine import scaled_alexnet
from keras_transfer.models.coarse2fine import table1_net
from keras_transfer.models.compact import compact_cnn
from keras_transfer.models.efficientnet_lite import efficientnet_lite
from keras_transfer.models.fusion_nets import residual_cnn
from keras_transfer.models.fusion_nets import squeezenet
from keras_transfer.models.htcnn import cloud_cnn
from keras_transfer.models.htcnn import shallow_cnn
from keras_transfer.models.lenet5 import lenet5
from keras_transfer.models.registry import build
from keras_transfer.models.registry import get_builder
from keras_transfer.models.registry import list_models
from keras_transfer.models.registry import register_model

__all__ = [
    "alexnet",
    "backbone_classifier",
    "build",
    "cloud_cnn",
    "compact_cnn",
    "efficientnet_lite",
    "get_builder",
    "lenet5",
    "list_models",
    "register_model",
    "residual_cnn",
    "scaled_alexnet",
    "shallow_alexnet",
    "shallow_cnn",
    "split_classifier",
    "squeezenet",
    "table1_net",
    "unfreeze_backbone",
]
