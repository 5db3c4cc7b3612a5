"""The one module on private Keras trainer code: `fit` under tf.distribute, one trace per step.

Keras 3 (checked on 3.15) cannot ``fit`` under
`tf.distribute.MultiWorkerMirroredStrategy` with more than one worker
(keras-team/keras#20585, tensorflow/tensorflow#72388), for two reasons in
``keras/src/backend/tensorflow/trainer.py``:

1. ``TensorFlowTrainer._maybe_symbolic_build`` calls
   ``strategy.reduce("MEAN", batch, axis=None)`` on the whole nested
   ``(x, y)`` batch; `tf.distribute.Strategy.reduce` does not take nests. One
   worker hands the tuple back unchanged; two workers fail in the collective
   ("Attempt to convert a value (PerReplica:{...}) ... to a Tensor"), and
   under `tf.distribute.MirroredStrategy` a batch split unevenly between the
   replicas (5 examples on 2) fails too ("Inputs to operation AddN ... must
   have the same size and shape"). The batch is only used for its shapes:
   the patch takes the local replica's.
2. ``reduce_per_replica`` reduces the scalar loss and metric results with
   ``axis=0`` in multi-worker mode ("Invalid reduction dimension 0 for input
   with 0 dimensions"); the patch uses ``axis=None``, the element-wise mean
   over replicas that the single-worker branch computes.

With both patched, two workers on localhost end with identical weights equal
to a single-process run on the global batch (tests/test_multi_worker.py).
`keras_transfer.training.get_strategy` applies them for ``"mirrored"`` and
``"multi_worker"``. A Keras
release that fixes or renames these functions makes `patch_distributed_fit`
raise, naming what it did not find.

`build_training_state` calls the trainer's own ``_symbolic_build`` before
``fit`` when no strategy is set, so a new model's training step is traced
once instead of twice.
"""

import tensorflow as tf

_PATCHED = []


def patch_distributed_fit():
    """Patches Keras' TensorFlow trainer so `fit` works under several workers; idempotent.

    Example:
    >>> patch_distributed_fit()
    >>> patch_distributed_fit()  # a second call changes nothing
    """
    if _PATCHED:
        return
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    for name in ("reduce_per_replica", "_collective_all_reduce_multi_worker"):
        if not hasattr(trainer, name):
            raise RuntimeError(
                f"Expected keras.src.backend.tensorflow.trainer.{name} (Keras "
                f"3.15), received a Keras without it; check whether this Keras "
                f"fits under MultiWorkerMirroredStrategy unpatched and update "
                f"keras_transfer/compat.py."
            )
    original_reduce = trainer.reduce_per_replica

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        strategy = self.distribute_strategy
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tree.map_structure(
                    lambda v: (
                        strategy.experimental_local_results(v)[0]
                        if isinstance(v, tf.distribute.DistributedValues)
                        else v
                    ),
                    batch,
                )
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    _PATCHED.append(True)


def build_training_state(model, batch_spec):
    """Creates ``model``'s optimizer, loss and metric variables before its first ``fit``.

    Without a distribution strategy, Keras 3 on TensorFlow creates them while
    tracing the train function, and TensorFlow then traces that function a
    second time (variables may only be created on the first trace): every
    new model paid two traces of its training step, most of a short run's
    time. Keras builds them ahead itself under a strategy
    (``Trainer._symbolic_build``, called by ``fit`` only then); this calls
    the same method from the specs of one batch (no data is read), so the
    training step is traced once. Already-built state is left alone.

    Args:
        model: a compiled model.
        batch_spec: the structure of one batch, e.g. a `tf.data.Dataset`'s
            ``element_spec`` (anything with ``shape`` and ``dtype``).

    Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> m.compile("sgd", "mse")
    >>> spec = (keras.KerasTensor((None, 3)), keras.KerasTensor((None, 2)))
    >>> build_training_state(m, spec)
    >>> m.optimizer.built
    True
    """
    build = getattr(model, "_symbolic_build", None)
    if build is None:
        raise RuntimeError(
            "Expected keras.Model._symbolic_build (Keras 3.15), received a Keras without it; "
            "update keras_transfer/compat.py."
        )
    with model.distribute_strategy.scope():
        build(data_batch=batch_spec)


def is_multi_worker(strategy=None):
    """Whether ``strategy`` (default: the current one) spans several worker processes.

    Example:
    >>> is_multi_worker()
    False
    """
    strategy = strategy or tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
    check = getattr(extended, "_in_multi_worker_mode", None)
    return bool(check and check())
