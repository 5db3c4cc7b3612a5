"""Export trained models: SavedModel (``model.export``) and the native ``.keras`` file."""

import os


def unique_path(path):
    """``path`` if free, else ``path_2``, ``path_3``, ... (never overwrite an export).

    Example:
    >>> unique_path("/nonexistent/model")
    '/nonexistent/model'
    """
    if not os.path.exists(path):
        return path
    root, ext = os.path.splitext(path)
    i = 2
    while os.path.exists(f"{root}_{i}{ext}"):
        i += 1
    return f"{root}_{i}{ext}"


def export_model(model, directory, name, formats=("saved_model", "keras")):
    """Exports ``model`` into ``directory`` without overwriting anything there.

    Args:
        model: a built Keras model.
        directory: destination folder (created).
        name: base name: ``<name>/`` for the SavedModel (serving endpoint
            ``serve``, via `keras.Model.export`) and ``<name>.keras``.
        formats: any of ``"saved_model"`` and ``"keras"``.

    Returns:
        Mapping format -> path written.

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> paths = export_model(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp(), "m",
    ...                      formats=("keras",))
    >>> sorted(paths)
    ['keras']
    """
    unknown = set(formats) - {"saved_model", "keras"}
    if unknown:
        raise ValueError(
            f"Expected formats among ('saved_model', 'keras'), received {sorted(unknown)}."
        )
    os.makedirs(directory, exist_ok=True)
    paths = {}
    if "saved_model" in formats:
        path = unique_path(os.path.join(directory, name))
        model.export(path, format="tf_saved_model", verbose=False)
        paths["saved_model"] = path
    if "keras" in formats:
        path = unique_path(os.path.join(directory, name + ".keras"))
        model.save(path)
        paths["keras"] = path
    return paths
