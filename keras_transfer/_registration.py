"""Registers the package's Keras objects as soon as Keras is imported, without importing Keras.

Why: a saved ``.keras`` file names each custom object by its registered name
(``"keras_transfer>SkipExchange"``, ``"keras_transfer>lecun_tanh"``, ...), and
`keras.models.load_model` resolves such a name only through Keras' registry
of custom objects, which a module fills when its
``@keras.saving.register_keras_serializable(package="keras_transfer")`` runs.
Keras imports a module by itself only for its own packages (``keras``,
``keras_hub``, ``keras_cv``, ``keras_nlp``), never for ours, so without this a
`Distiller`, a fused model or a LeNet-5 saved by one process fails to load in
another with "Could not locate class". Registration must therefore happen at
``import keras_transfer``; but that import must stay cheap and must not load
TensorFlow (the recipes import it later with its start-up log held back,
`keras_transfer.experiments.cli.quiet_unless_verbose`), while the modules
that define the objects (`MODULES`) import Keras, and Keras TensorFlow.

How (`install`, called at the end of ``keras_transfer/__init__``): if Keras
is already imported, `MODULES` are imported at once. Otherwise a finder goes
first on ``sys.meta_path``; it finds nothing itself, it only wraps the loader
of ``keras``, ``tensorflow`` (which imports Keras during its own import) and
of our own submodules so that it hears when each has finished executing. As
soon as Keras is imported and none of those modules is still half-executed
(importing `MODULES` in the middle of, say, ``keras_transfer.layers``'s own
import would hit its partly defined names), `MODULES` are imported and the
finder removes itself. The wrapped modules get their own loader back right
after executing, so nothing of the finder is left once it has fired. An
error while importing `MODULES` is a warning, never a failed ``import
keras``. Cost: ``import keras_transfer`` adds this module (well under a
millisecond); ``import keras`` afterwards adds our modules (tens of
milliseconds against its seconds).

Example:
>>> import keras
>>> import keras_transfer
>>> keras.saving.get_registered_object("keras_transfer>SkipExchange").__name__
'SkipExchange'
"""

import importlib
import sys
import warnings

# Every module that runs keras.saving.register_keras_serializable (tests/test_saving.py
# checks that this list is complete).
MODULES = (
    "keras_transfer.models.coding",
    "keras_transfer.layers.grouped_conv",
    "keras_transfer.layers.lenet",
    "keras_transfer.layers.resize",
    "keras_transfer.layers.skip_exchange",
    "keras_transfer.layers.upscaled",
    "keras_transfer.models.backbone",
    "keras_transfer.transfer.distillation",
)

_PACKAGE = "keras_transfer"
_DEPENDENCIES = ("keras", "tensorflow")  # half-executed, they defer the registration
_executing = set()  # wrapped modules now executing
_registered = False


def registered():
    """Whether `MODULES` have been imported (by `install`, or by Keras' import after it).

    Example:
    >>> import keras, keras_transfer
    >>> registered()
    True
    """
    return _registered


def _half_executed(name):
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _ready(finished=None):
    """True once Keras is imported and no module that `MODULES` need is half-executed."""
    if _registered or "keras" not in sys.modules or _executing:
        return False
    return not any(_half_executed(name) for name in _DEPENDENCIES if name != finished)


def _register():
    global _registered
    _registered = True  # first: the imports below must not come back here
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # never fail the import of keras for this
            warnings.warn(
                f"keras_transfer could not register the Keras objects of {name} "
                f"({exc!r}); import it before loading a model that uses them.",
                RuntimeWarning,
                stacklevel=2,
            )


def install():
    """Registers `MODULES` now if Keras is imported, else as soon as it is (idempotent).

    Example:
    >>> install()  # keras_transfer/__init__ ran it already: a no-op
    >>> registered()
    True
    """
    if _ready():
        _register()
    elif not _registered and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _Finder:
    """A ``sys.meta_path`` entry that wraps the loaders of the modules `_ready` watches."""

    def find_spec(self, name, path=None, target=None):
        if name not in _DEPENDENCIES and not name.startswith(_PACKAGE + "."):
            return None
        for finder in sys.meta_path:  # the others, in order, as importlib would
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


class _Loader:
    """Runs a module with its own loader, then registers if that made `_ready` true."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, attr):  # create_module, get_source, get_resource_reader, ...
        if attr == "_loader":  # not set yet (a copy): no endless lookup
            raise AttributeError(attr)
        return getattr(self._loader, attr)

    def exec_module(self, module):
        name = module.__name__
        _executing.add(name)
        try:
            self._loader.exec_module(module)
        finally:
            _executing.discard(name)
            if module.__dict__.get("__loader__") is self:  # leave no trace of the wrapper
                module.__loader__ = self._loader
            if getattr(module.__spec__, "loader", None) is self:
                module.__spec__.loader = self._loader
        if _ready(finished=name):
            _register()
