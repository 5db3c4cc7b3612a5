"""keras_transfer: knowledge transfer between CNNs on Keras 3.

The public API is this namespace: the techniques of the five papers as
functions and classes on your own Keras models, and the modules ``data``,
``models``, ``layers``, ``training``, ``metrics`` and ``export``. Everything
else (``keras_transfer.transfer.*``, ``graph``, ``checks``, ``experiments``,
names starting with ``_``) is internal and may change between releases.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import
keras_transfer`` does not load TensorFlow: the recipes import it later with
TensorFlow's start-up log held back (`keras_transfer.experiments.runner`).
The package's custom Keras objects (layers, the code loss, `Distiller`, ...)
are registered as soon as Keras is imported, before or after this package,
so ``keras.models.load_model`` loads the models it saved in any process
(`keras_transfer._registration`).

Example:
>>> import keras_transfer as kt
>>> kt.upscale.__name__, "fuse" in kt.__all__
('upscale', True)
"""

import importlib

__version__ = "0.1.0"

# public name -> module defining it, one line per technique (README, API)
_NAMES = {
    # Hierarchical transfer (HTCNN): shallow CNNs initialise a cloud CNN's first layer.
    "train_shallow_cnns": "keras_transfer.schedules.shallow_cnns",
    "transfer_first_layer": "keras_transfer.transfer.hierarchical",
    # Layer transfer between nets (LeNet-5 paper).
    "transfer_layers": "keras_transfer.transfer.layer_transfer",
    "weighted_layers": "keras_transfer.transfer.layer_transfer",
    "parameter_report": "keras_transfer.transfer.layer_transfer",
    # Compact-CNN transfer: distillation.
    "Distiller": "keras_transfer.transfer.distillation",
    "teacher_logits": "keras_transfer.transfer.distillation",
    "with_teacher_logits": "keras_transfer.transfer.distillation",
    "average_ensemble": "keras_transfer.transfer.ensemble",
    # Transferred fusion by cross-network skip connections.
    "fuse": "keras_transfer.transfer.fusion",
    "auto_pairs": "keras_transfer.transfer.fusion",
    "exchange_gates": "keras_transfer.transfer.fusion",
    "SkipExchange": "keras_transfer.layers",
    # Coarse-to-fine incremental training.
    "replicate": "keras_transfer.transfer.upscaling",
    "upscale": "keras_transfer.transfer.upscaling",
    "widen": "keras_transfer.transfer.net2net",
    "deepen": "keras_transfer.transfer.net2net",
    "Stage": "keras_transfer.schedules.incremental",
    "train_incremental": "keras_transfer.schedules.incremental",
}
_MODULES = ("data", "export", "layers", "metrics", "models", "training")

__all__ = sorted(_NAMES) + list(_MODULES)


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # cached: __getattr__ runs once per name
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


# Last: registering may import submodules, which may use the names above.
from keras_transfer import _registration  # noqa: E402

_registration.install()
