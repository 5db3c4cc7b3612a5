"""Hierarchical transfer (HTCNN): shallow CNNs initialise the cloud CNN's first layer.

Paper: "Hierarchical transfer convolutional neural networks for image
classification" (htcnn-hierarchical-transfer.txt), section III-A3, Figs. 6-7.
The cloud CNN's first convolution (F filters) is cut into m parts of k = F / m
filters; shallow CNN j's trained first layer (kernels and biases) becomes
filters ``[j*k, (j+1)*k)``. For AlexNet the first layer is two groups, and the
upper and lower part of each shallow CNN go to the matching group (Fig. 7).
"""

import numpy as np


def _conv_weights(layer, model_name):
    weights = layer.get_weights()
    if not weights or np.ndim(weights[0]) != 4:
        raise ValueError(
            f"Expected layer {layer.name!r} of {model_name!r} to be a 2-D convolution with a "
            f"4-D kernel, received weights of shapes {[np.shape(w) for w in weights]}."
        )
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else None
    return kernel, bias


def _get_layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"Expected a layer named {name!r} in model {model.name!r}, received layers {names}."
        ) from None


def transfer_first_layer(
    cloud_model, shallow_models, cloud_layers="conv1", shallow_layers=None, trainable=True
):
    """Initialises the cloud CNN's first layer from m trained shallow CNNs, in place.

    For each first-layer group g (one for the CIFAR-10 cloud CNN, two for
    AlexNet) with F_g filters and m shallow CNNs, k = F_g / m, and shallow CNN
    j's group-g kernel and bias are written to filters ``[j*k, (j+1)*k)``.
    All other weights of the cloud model are left as they are.

    Args:
        cloud_model: the cloud CNN (any Keras model with the named layers).
        shallow_models: the m trained shallow CNNs, in order.
        cloud_layers: name, or list of names (one per group), of the cloud's
            first-layer convolutions; ``"conv1"`` for `cloud_cnn`,
            ``["conv1_g0", "conv1_g1"]`` for `alexnet` (Fig. 7).
        shallow_layers: the matching names in the shallow CNNs; default the
            same as ``cloud_layers``.
        trainable: keep the transferred layer trainable (fine-tuning, the
            paper's preference, section III-A3) or freeze it.

    Returns:
        ``cloud_model``, with the first layer set.

    Raises:
        ValueError: m does not divide the filter count, kernel size or input
            channels differ, a layer is missing, or biases are inconsistent.

    Example:
    >>> from keras_transfer import models
    >>> cloud = models.cloud_cnn((32, 32, 3), 10)
    >>> shallow = [models.shallow_cnn((32, 32, 3), 10) for _ in range(4)]
    >>> _ = transfer_first_layer(cloud, shallow)
    >>> bool(np.all(cloud.get_layer("conv1").kernel.numpy()[..., 8:16]
    ...             == shallow[1].get_layer("conv1").kernel.numpy()))
    True
    """
    shallow_models = list(shallow_models)
    if not shallow_models:
        raise ValueError("Expected at least one shallow model, received none.")
    cloud_layers = [cloud_layers] if isinstance(cloud_layers, str) else list(cloud_layers)
    shallow_layers = (
        cloud_layers
        if shallow_layers is None
        else ([shallow_layers] if isinstance(shallow_layers, str) else list(shallow_layers))
    )
    if len(shallow_layers) != len(cloud_layers):
        raise ValueError(
            f"Expected one shallow layer name per cloud group ({len(cloud_layers)}), received "
            f"{shallow_layers}."
        )
    m = len(shallow_models)
    updates = []
    # Validate everything before writing anything.
    for cloud_name, shallow_name in zip(cloud_layers, shallow_layers):
        layer = _get_layer(cloud_model, cloud_name)
        kernel, bias = _conv_weights(layer, cloud_model.name)
        filters = kernel.shape[-1]
        if filters % m:
            divisors = [d for d in range(1, filters + 1) if filters % d == 0]
            raise ValueError(
                f"Expected the number of shallow CNNs m to divide the {filters} filters of "
                f"{cloud_name!r} (m in {divisors}), received m={m}."
            )
        k = filters // m
        new_kernel, new_bias = kernel.copy(), None if bias is None else bias.copy()
        for j, shallow in enumerate(shallow_models):
            s_kernel, s_bias = _conv_weights(_get_layer(shallow, shallow_name), shallow.name)
            expected = kernel.shape[:3] + (k,)
            if s_kernel.shape != expected:
                raise ValueError(
                    f"Expected shallow CNN {j} ({shallow.name!r}) layer {shallow_name!r} to have "
                    f"kernel shape {expected} (kernel h, w, input channels of {cloud_name!r} "
                    f"and {filters}/{m} filters), received {s_kernel.shape}."
                )
            if (s_bias is None) != (bias is None):
                raise ValueError(
                    f"Expected shallow CNN {j} layer {shallow_name!r} and cloud layer "
                    f"{cloud_name!r} to agree on use_bias, received {s_bias is not None} and "
                    f"{bias is not None}."
                )
            new_kernel[..., j * k : (j + 1) * k] = s_kernel
            if bias is not None:
                new_bias[j * k : (j + 1) * k] = s_bias
        updates.append((layer, [new_kernel] + ([] if bias is None else [new_bias])))
    for layer, weights in updates:
        layer.set_weights(weights)
        layer.trainable = trainable
    return cloud_model
