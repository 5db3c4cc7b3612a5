"""The HTCNN experiment: m shallow CNNs, then HTCNN vs the plain cloud CNN (CCNN).

Paper: htcnn-hierarchical-transfer.txt, section IV. One repeat trains m
shallow CNNs, initialises HTCNN's first layer from theirs and trains HTCNN
and CCNN (same initial weights otherwise) on the same batches; the headline
compares their curves: AAG, PBP, gain per epoch, time-to-accuracy with and
without the shallow CNNs' training time.

- `config`: `HTCNNConfig`, the presets and per-dataset defaults;
- `data`: `load_data` and the Table I training sets;
- `run`: the trainings of every repeat and `run -> Result`;
- `report`: the headline, its table, the plot;
- `tuning`: the keras-tuner search space.

Example:
>>> from keras_transfer.experiments import htcnn
>>> htcnn.EXPERIMENT.name, htcnn.get_preset("quick").dataset
('htcnn', 'digits')
"""

from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.htcnn import run as _run
from keras_transfer.experiments.htcnn.config import PRESETS
from keras_transfer.experiments.htcnn.config import HTCNNConfig
from keras_transfer.experiments.htcnn.config import get_preset
from keras_transfer.experiments.htcnn.data import load_data
from keras_transfer.experiments.htcnn.tuning import search_space

__all__ = ["EXPERIMENT", "HTCNNConfig", "get_preset", "load_data"]

EXPERIMENT = register_experiment(
    Experiment(
        name="htcnn",
        config_class=HTCNNConfig,
        get_preset=get_preset,
        presets=PRESETS,
        load_data=load_data,
        run=_run.run,
        planned_steps=_run.planned_steps,
        tuning=search_space(),
    )
)
