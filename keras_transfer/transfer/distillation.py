"""Joint learning of a compact CNN from labels and a fine-tuned CNN's outputs.

Paper: compact-cnn-transfer-distillation.txt, stage 2 (the text is cut short;
the method is the one the package's issue states). A compact student is
trained on the target data with

    loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher / T) ||
                                                                softmax(student / T))

where the teacher is the stage-1 CNN fine-tuned on the same data and frozen,
``T`` the temperature that softens both distributions and ``T^2`` keeps the
soft term's gradients on the scale of the hard term's (Hinton et al. 2015).

`Distiller` is a `keras.Model` whose ``train_step`` does this; the soft term
is `keras.distillation.LogitsDistillation`'s (tested against it). When the input pipeline has no
random augmentation the teacher's logits are the same every epoch, so
`teacher_logits` computes them once and `Distiller` trains on them
(``y = {"label": ..., "teacher_logits": ...}``), which makes distillation
cost about what training the student alone costs.

Beyond `keras.distillation.Distiller` (one teacher, run on every step),
`Distiller` takes several teachers, each cacheable: their softened outputs
are averaged (`combine_teachers`), and the soft term can be any
`keras.distillation.DistillationLoss` (e.g. ``LogitsDistillation``) instead of
the built-in per-example KL.
"""

import keras
import numpy as np
import tensorflow as tf

LABEL = "label"
TEACHER_LOGITS = "teacher_logits"


def check_distillation_hyperparameters(alpha, temperature):
    """Raises ValueError unless ``alpha`` is in [0, 1] and ``temperature`` > 0 (bools refused).

    What `Distiller` and `distillation_loss` accept; an experiment config calls
    it to refuse bad settings before any data is read.

    Example:
    >>> check_distillation_hyperparameters(0.1, 4.0)
    >>> check_distillation_hyperparameters(0.5, 0)
    Traceback (most recent call last):
    ...
    ValueError: Expected temperature > 0, received 0.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"Expected alpha in [0, 1], received {alpha!r}.")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not temperature > 0
    ):
        raise ValueError(f"Expected temperature > 0, received {temperature!r}.")


def distillation_loss(labels, teacher_logits, student_logits, alpha=0.1, temperature=4.0):
    """Per-example loss: ``alpha`` CE on labels + ``(1 - alpha) T^2`` KL to the softened teacher.

    Args:
        labels: integer class ids, shape ``(batch,)``.
        teacher_logits, student_logits: ``(batch, classes)``.
        alpha: weight of the ground-truth term (``1`` = student alone, ``0`` =
            teacher only). Default 0.1 as in Hinton et al.'s weighting of
            the hard target term; the paper's value is not in our copy.
        temperature: softening temperature ``T`` > 0.

    Returns:
        ``(total, hard, soft)`` per-example losses, each of shape ``(batch,)``.

    Example:
    >>> t, h, s = distillation_loss(np.array([0]), np.array([[2., 0.]]), np.array([[2., 0.]]),
    ...                             alpha=0.5, temperature=2.0)
    >>> round(float(s[0]), 6), round(float(t[0]), 6) == round(0.5 * float(h[0]), 6)
    (0.0, True)
    """
    check_distillation_hyperparameters(alpha, temperature)
    student_logits = keras.ops.cast(student_logits, "float32")
    teacher_logits = keras.ops.cast(teacher_logits, "float32")
    hard = keras.losses.sparse_categorical_crossentropy(labels, student_logits, from_logits=True)
    # keras.distillation.LogitsDistillation's computation (softmax of logits/T,
    # KL, times T^2), written out because we need it per example (for sample
    # weights and an exact global-batch mean under MirroredStrategy) and its
    # compute_loss returns a batch mean. Note: in Keras 3.15 its default
    # loss="kl_divergence" resolves to a function, not a KLDivergence instance,
    # so its softmax/T^2 branch is skipped; pass loss=keras.losses.KLDivergence().
    t_prob = keras.ops.softmax(teacher_logits / temperature, axis=-1)
    s_prob = keras.ops.softmax(student_logits / temperature, axis=-1)
    soft = keras.losses.kl_divergence(t_prob, s_prob) * (temperature**2)
    return alpha * hard + (1.0 - alpha) * soft, hard, soft


def combine_teachers(teacher_logits, temperature):
    """One set of logits whose softened distribution is the teachers' average.

    ``T * log(mean_t softmax(z_t / T))``: softening it again with the same
    ``T`` gives exactly the mean of the teachers' softened distributions, so
    any logits-based soft term (ours, `keras.distillation.LogitsDistillation`)
    distils the teachers' average.

    Args:
        teacher_logits: ``(batch, classes)`` for one teacher (returned as is)
            or ``(batch, teachers, classes)``.
        temperature: the softening temperature ``T``.

    Example:
    >>> z = np.array([[[2.0, 0.0], [0.0, 2.0]]])          # two teachers that disagree
    >>> p = keras.ops.softmax(combine_teachers(z, 2.0) / 2.0)
    >>> np.round(np.asarray(p), 6).tolist()
    [[0.5, 0.5]]
    """
    z = keras.ops.cast(teacher_logits, "float32")
    if len(z.shape) == 2:
        return z
    log_p = keras.ops.log_softmax(z / temperature, axis=-1)
    n = keras.ops.cast(keras.ops.shape(z)[1], "float32")
    return temperature * (keras.ops.logsumexp(log_p, axis=1) - keras.ops.log(n))


class _KeywordOnlyModel(keras.Model):
    """A `keras.Model` whose constructor refuses positional arguments with a one-line TypeError.

    Checked in ``__new__``, before ``__init__``, so that `Distiller`'s earlier
    positional ``(student, teacher)`` order gets a message naming the keywords
    rather than Python's "takes 1 positional argument"; in a base class so
    that ``inspect.signature(Distiller)`` still shows ``Distiller.__init__``'s.
    """

    def __new__(cls, *args, **kwargs):
        if args:
            raise TypeError(
                f"{cls.__name__} takes teacher= and student= by keyword (the order "
                f"of keras.distillation.Distiller), received {len(args)} positional "
                f"argument(s)."
            )
        return super().__new__(cls, **kwargs)


@keras.saving.register_keras_serializable(package="keras_transfer")
class Distiller(_KeywordOnlyModel):
    """Trains ``student`` on labels and the frozen ``teacher``'s softened outputs.

    ``fit`` takes ``(images, labels)`` (the teachers run on every batch, needed
    when the images are randomly augmented) or ``(images, {"label": labels,
    "teacher_logits": logits})`` from `teacher_logits` / `with_teacher_logits`
    (the teachers never run). Calling the distiller runs the student, so
    ``evaluate``/``predict`` report the student. The loss is averaged over the
    global batch, so training under `tf.distribute.MirroredStrategy` gives the
    same update as one replica. ``teacher`` and ``student`` are keyword-only,
    in `keras.distillation.Distiller`'s order (positional use is an error).

    Args:
        teacher: a Keras model returning logits, or a list of them (their
            softened outputs are averaged, see `combine_teachers`); frozen
            (``trainable = False``) and run with ``training=False``.
        student: a Keras model returning logits for the same classes.
        alpha: weight of the label term, in [0, 1].
        temperature: softening temperature > 0.
        distillation_loss: ``None`` (the built-in per-example ``T^2`` KL) or a
            `keras.distillation.DistillationLoss` whose ``compute_loss(teacher
            logits, student logits)`` gives the soft term (a batch mean; the
            teachers' average is passed as one set of logits). Its own
            ``temperature`` must equal ``temperature``. Not serialized:
            re-attach it after loading.

    Example:
    >>> s = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> t = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> d = Distiller(teacher=t, student=s, alpha=0.5, temperature=2.0)
    >>> d.compile(optimizer="sgd", metrics=["accuracy"])
    >>> x, y = np.ones((8, 4), "float32"), np.zeros(8, "int32")
    >>> sorted(d.fit(x, y, epochs=1, verbose=0).history)
    ['accuracy', 'distillation_loss', 'loss', 'student_loss']
    """

    def __init__(
        self, *, teacher, student, alpha=0.1, temperature=4.0, distillation_loss=None, **kwargs
    ):
        super().__init__(**kwargs)
        check_distillation_hyperparameters(alpha, temperature)
        teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
        if not teachers:
            raise ValueError("Expected at least one teacher, received an empty list.")
        # Every check before any change: a refused Distiller leaves its models as they were.
        for role, m in [("student", student)] + [("teacher", t) for t in teachers]:
            if not isinstance(m, keras.Model):
                raise TypeError(
                    f"Expected the {role} to be a keras.Model returning logits, "
                    f"received {type(m).__name__}; pass Keras models."
                )
        for t in teachers:
            s_out, t_out = student.output_shape[-1], t.output_shape[-1]
            if s_out != t_out:
                raise ValueError(
                    f"Expected teacher and student with the same number of "
                    f"classes, received teacher {t_out} and student {s_out}; "
                    f"give the student a classifier of the teacher's classes."
                )
            if tuple(student.input_shape[1:]) != tuple(t.input_shape[1:]):
                raise ValueError(
                    f"Expected teacher and student with the same input shape, "
                    f"received teacher {t.input_shape[1:]} and student "
                    f"{student.input_shape[1:]}; resize inside one of them."
                )
        if distillation_loss is not None:
            if not isinstance(distillation_loss, keras.distillation.DistillationLoss):
                raise ValueError(
                    f"Expected distillation_loss None or a keras.distillation."
                    f"DistillationLoss, received {distillation_loss!r}."
                )
            own = getattr(distillation_loss, "temperature", temperature)
            if float(own) != float(temperature):
                raise ValueError(
                    f"Expected the distillation loss's temperature to equal "
                    f"temperature={temperature}, received {own}; pass the same "
                    f"value to both."
                )
        for t in teachers:  # frozen once all of them are accepted
            t.trainable = False
        self.student = student
        self.teachers = teachers
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.distillation_loss = distillation_loss
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.student_tracker = keras.metrics.Mean(name="student_loss")
        self.soft_tracker = keras.metrics.Mean(name="distillation_loss")
        # Both sub-models are built, so the distiller is (BackupAndRestore and
        # weight loading need a built model before fit).
        self.built = bool(student.built and all(t.built for t in teachers))

    @property
    def teacher(self):
        """The first (or only) teacher.

        Example:
        >>> t1, t2, s = (keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        ...              for _ in range(3))
        >>> Distiller(teacher=[t1, t2], student=s).teacher is t1
        True
        """
        return self.teachers[0]

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    @property
    def metrics(self):
        # Our three trackers first, then Model.metrics' others (the compiled
        # metrics, e.g. accuracy) except its own loss tracker, also named
        # "loss" and only updated by a compiled loss, which this model never uses.
        ours = [self.total_tracker, self.student_tracker, self.soft_tracker]
        names = {m.name for m in ours}
        return ours + [m for m in super().metrics if m.name not in names]

    def _split_targets(self, x, y):
        if isinstance(y, dict):
            if set(y) != {LABEL, TEACHER_LOGITS}:
                raise ValueError(
                    f"Expected targets {{'{LABEL}', '{TEACHER_LOGITS}'}}, received "
                    f"keys {sorted(y)}."
                )
            return y[LABEL], y[TEACHER_LOGITS]
        if len(self.teachers) == 1:
            return y, self.teachers[0](x, training=False)
        return y, keras.ops.stack([t(x, training=False) for t in self.teachers], axis=1)

    def _forward(self, x, y, training):
        labels, t_logits = self._split_targets(x, y)
        t_logits = keras.ops.stop_gradient(combine_teachers(t_logits, self.temperature))
        s_logits = self.student(x, training=training)
        if self.distillation_loss is None:
            total, hard, soft = distillation_loss(
                labels, t_logits, s_logits, self.alpha, self.temperature
            )
            return labels, s_logits, total, hard, soft
        hard = keras.losses.sparse_categorical_crossentropy(
            labels, keras.ops.cast(s_logits, "float32"), from_logits=True
        )
        soft = keras.ops.broadcast_to(  # a batch mean, broadcast per example
            self.distillation_loss.compute_loss(t_logits, s_logits), keras.ops.shape(hard)
        )
        return labels, s_logits, self.alpha * hard + (1.0 - self.alpha) * soft, hard, soft

    def _record(self, labels, s_logits, total, hard, soft, sample_weight):
        self.total_tracker.update_state(total)
        self.student_tracker.update_state(hard)
        self.soft_tracker.update_state(soft)
        return self.compute_metrics(None, labels, s_logits, sample_weight)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # TensorFlow-only on purpose: a GradientTape is how a TF-backend
        # train_step computes gradients, and the replica count comes from
        # tf.distribute (1 outside a strategy).
        with tf.GradientTape() as tape:
            labels, s_logits, total, hard, soft = self._forward(x, y, training=True)
            # Mean over the global batch: each replica holds 1/replicas of it
            # and MirroredStrategy sums the replicas' gradients.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = keras.ops.mean(total) / replicas
            loss = self.optimizer.scale_loss(loss)  # mixed-precision loss scaling, if any
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._record(labels, s_logits, total, hard, soft, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return self._record(*self._forward(x, y, training=False), sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "teacher": [keras.saving.serialize_keras_object(t) for t in self.teachers],
            "student": keras.saving.serialize_keras_object(self.student),
            "alpha": self.alpha,
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        teachers = config["teacher"]
        teachers = [
            keras.saving.deserialize_keras_object(t)
            for t in (teachers if isinstance(teachers, list) else [teachers])
        ]
        config["teacher"] = teachers if len(teachers) > 1 else teachers[0]
        return cls(**config)


def teacher_logits(teacher, dataset):
    """The teacher's logits on every example of a finite, unshuffled ``(x, y)`` dataset.

    Compute once, then train a `Distiller` on ``{"label": y, "teacher_logits":
    logits}`` targets (see `with_teacher_logits`): valid when the images are
    not randomly augmented, since the teacher then sees the same images every
    epoch.

    Example:
    >>> t = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> ds = tf.data.Dataset.from_tensor_slices((np.ones((5, 2), "float32"), np.zeros(5))).batch(2)
    >>> teacher_logits(t, ds).shape
    (5, 3)
    """
    if not isinstance(teacher, keras.Model) or not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"Expected a Keras model and a tf.data.Dataset of (x, y) batches, "
            f"received {type(teacher).__name__} and {type(dataset).__name__}; "
            f"batch the data with tf.data (keras_transfer.data.make_dataset)."
        )
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "Expected a finite dataset for the teacher's logits, received a "
            "repeated (infinite) one."
        )
    return np.asarray(teacher.predict(dataset.map(lambda x, *_: x), verbose=0), np.float32)


def with_teacher_logits(labels, logits):
    """Targets for a cached-teacher `Distiller`: ``{"label": labels, "teacher_logits": logits}``.

    Args:
        labels: ``(N,)`` class ids.
        logits: one teacher's ``(N, classes)`` logits, or a list of several
            teachers' (stacked to ``(N, teachers, classes)``, averaged by the
            distiller after softening).

    Example:
    >>> sorted(with_teacher_logits(np.zeros(3), np.zeros((3, 2))))
    ['label', 'teacher_logits']
    >>> targets = with_teacher_logits(np.zeros(3), [np.zeros((3, 2)), np.ones((3, 2))])
    >>> targets["teacher_logits"].shape
    (3, 2, 2)
    """
    labels = np.asarray(labels)
    if isinstance(logits, (list, tuple)):
        shapes = {np.shape(z) for z in logits}
        if len(shapes) != 1:
            raise ValueError(
                f"Expected every teacher's logits with one shape, received {sorted(shapes)}."
            )
        logits = np.stack([np.asarray(z, np.float32) for z in logits], axis=1)
    logits = np.asarray(logits, np.float32)
    if logits.ndim not in (2, 3) or len(logits) != len(labels):
        raise ValueError(
            f"Expected logits of shape ({len(labels)}, classes) or ({len(labels)}, "
            f"teachers, classes), received {logits.shape}."
        )
    return {LABEL: labels, TEACHER_LOGITS: logits}
