"""The layer-transfer experiment: keep a source LeNet-5's bottom n levels, learn k-shot classes.

Paper: lenet5-knowledge-transfer-nist.txt, "Experiments". A source net is
trained on one set of classes (400 samples each); for every number of
retained levels n in 0..5 and every k in {1, 5, 10, 20, 40} samples per new
class, a target net copies the source's bottom n levels (fixed) and trains
the rest on k samples of each target class; each is tested on a fixed test
set of the target classes, over several trials (paper: 5).

- `config`: `LayerTransferConfig`, the presets and per-dataset defaults;
- `data`: `load_data` (source set, target pool, target test set);
- `run`: the source and target trainings, `run -> Result`;
- `report`: the headline, its table and the paper's Figures 2-5;
- `tuning`: the keras-tuner search space.

Example:
>>> from keras_transfer.experiments import layer_transfer
>>> layer_transfer.EXPERIMENT.repeats_field, layer_transfer.get_preset("quick").dataset
('trials', 'mnist')
"""

from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.layer_transfer import run as _run
from keras_transfer.experiments.layer_transfer.config import PRESETS
from keras_transfer.experiments.layer_transfer.config import LayerTransferConfig
from keras_transfer.experiments.layer_transfer.config import get_preset
from keras_transfer.experiments.layer_transfer.data import load_data
from keras_transfer.experiments.layer_transfer.tuning import search_space

__all__ = ["EXPERIMENT", "LayerTransferConfig", "get_preset", "load_data"]

EXPERIMENT = register_experiment(
    Experiment(
        name="layer_transfer",
        config_class=LayerTransferConfig,
        get_preset=get_preset,
        presets=PRESETS,
        load_data=load_data,
        run=_run.run,
        planned_steps=_run.planned_steps,
        repeats_field="trials",
        tuning=search_space(),
    )
)
