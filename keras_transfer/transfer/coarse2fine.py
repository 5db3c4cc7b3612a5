"""Temporary re-exports while callers move to `upscaling` and `net2net` (removed below)."""

from keras_transfer.transfer.net2net import WIDEN_INITS  # noqa: F401
from keras_transfer.transfer.net2net import deepen  # noqa: F401
from keras_transfer.transfer.net2net import widen  # noqa: F401
from keras_transfer.transfer.upscaling import UPSCALE_MODES  # noqa: F401
from keras_transfer.transfer.upscaling import _same_pads  # noqa: F401
from keras_transfer.transfer.upscaling import replicate  # noqa: F401
from keras_transfer.transfer.upscaling import upscale  # noqa: F401
