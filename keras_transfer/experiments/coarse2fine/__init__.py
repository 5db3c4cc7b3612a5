"""The coarse-to-fine experiment: incremental 8 -> 16 -> 32 training vs. 32 from scratch.

Paper: coarse2fine-incremental-training.txt, Figs. 5-6 and 10. A Table I
network is trained at a low resolution, upscaled (and widened once) and
trained on at each higher resolution; the baseline is the same final
network trained at the final resolution from scratch for the same number of
optimizer steps (images), which takes longer in wall time, so its curve also
gives its accuracy at the incremental run's total time. The headline: final
accuracy of both, how soon the incremental run reaches the baseline's final
accuracy (and the ratio of times), and the accuracy dip at each transform.

- `config`: `Coarse2FineConfig` and the presets;
- `data`: `load_data` (every resolution) and the datasets per stage;
- `run`: the schedule and the trainings, `run -> Result`;
- `report`: the headline, its table and the plot;
- `tuning`: the keras-tuner search space.

Example:
>>> from keras_transfer.experiments import coarse2fine
>>> coarse2fine.get_preset("quick").resolutions
(8, 16, 32)
"""

from keras_transfer.experiments.coarse2fine import run as _run
from keras_transfer.experiments.coarse2fine.config import PRESETS
from keras_transfer.experiments.coarse2fine.config import Coarse2FineConfig
from keras_transfer.experiments.coarse2fine.config import get_preset
from keras_transfer.experiments.coarse2fine.data import load_data
from keras_transfer.experiments.coarse2fine.tuning import search_space
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import register_experiment

__all__ = ["EXPERIMENT", "Coarse2FineConfig", "get_preset", "load_data"]

EXPERIMENT = register_experiment(
    Experiment(
        name="coarse2fine",
        config_class=Coarse2FineConfig,
        get_preset=get_preset,
        presets=PRESETS,
        load_data=load_data,
        run=_run.run,
        planned_steps=_run.planned_steps,
        tuning=search_space(),
    )
)
