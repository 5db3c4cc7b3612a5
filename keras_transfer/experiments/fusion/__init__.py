"""The transferred-fusion experiment: pre-train two nets, fuse them, retrain; the baselines.

Paper: transferred-fusion-skipped-networks.txt, Tables 2 and 3. Two nets
pre-trained on two datasets (or loaded) are fused into a hybrid and
retrained; each net alone (frozen and fine-tuned), their ensemble and the
better single net trained for the hybrid's wall time are the comparisons.

- `config`: `FusionConfig` and the presets;
- `data`: `load_data` (the retraining set, the pre-training sets);
- `nets`: the feature extractors, their weights files and the head;
- `run`: every training, `run -> Result`;
- `report`: the headline, its tables and the plot;
- `tuning`: the keras-tuner search space.

Example:
>>> from keras_transfer.experiments import fusion
>>> fusion.get_preset("quick").dataset
'natural_images'
"""

from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.fusion import run as _run
from keras_transfer.experiments.fusion.config import PRESETS
from keras_transfer.experiments.fusion.config import FusionConfig
from keras_transfer.experiments.fusion.config import get_preset
from keras_transfer.experiments.fusion.data import load_data
from keras_transfer.experiments.fusion.tuning import search_space

__all__ = ["EXPERIMENT", "FusionConfig", "get_preset", "load_data"]

EXPERIMENT = register_experiment(
    Experiment(
        name="fusion",
        config_class=FusionConfig,
        get_preset=get_preset,
        presets=PRESETS,
        load_data=load_data,
        run=_run.run,
        planned_steps=_run.planned_steps,
        tuning=search_space(),
    )
)
