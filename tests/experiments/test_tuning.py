"""keras-tuner search over the HTCNN design factors."""

import numpy as np
import pytest

from keras_transfer import data as kt_data
from keras_transfer.experiments import htcnn
from keras_transfer.experiments import tune as tuning
from keras_transfer.experiments.htcnn.tuning import htcnn_tuner


def test_split_validation_is_stratified_and_disjoint():
    data = htcnn.load_data(htcnn.get_preset("quick", dataset="digits"))
    train, val = kt_data.split_validation(data.train, 0.1, seed=0)
    assert len(train) + len(val) == len(data.train)
    assert abs(len(val) - 0.1 * len(data.train)) <= 10
    assert set(np.unique(val.y)) == set(range(10))
    # Disjoint: no training image is also a validation image.
    train_rows = {row.tobytes() for row in train.x.reshape(len(train), -1)}
    overlap = sum(row.tobytes() in train_rows for row in val.x.reshape(len(val), -1))
    assert overlap <= 2  # digits holds a couple of pixel-identical duplicates


@pytest.mark.slow
def test_tuner_runs_trials_in_the_search_space(tmp_path):
    config = htcnn.get_preset(
        "quick", dataset="digits", epochs=1, steps_per_epoch=5, shallow_steps=5
    )
    data = htcnn.load_data(config)
    tuner = htcnn_tuner(config, data, str(tmp_path / "tuner"), max_trials=2, seed=0)
    tuner.search()
    rows = tuning.trial_table(tuner)
    assert len(rows) == 2
    assert rows[0]["score"] >= rows[1]["score"]  # best first
    for row in rows:
        hp = row["hyperparameters"]
        assert 1e-3 <= hp["learning_rate"] <= 1e-1
        assert hp["num_shallow"] in (2, 4, 8, 16) and hp["shallow_steps"] in (1, 2, 5)
        assert 0.0 <= row["score"] <= 1.0
        assert row["metrics"][tuning.OBJECTIVE] == row["score"]
    assert (tmp_path / "tuner" / "htcnn").is_dir()
