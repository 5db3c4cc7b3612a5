"""keras_transfer: knowledge transfer between CNNs on Keras 3."""

__version__ = "0.1.0"
