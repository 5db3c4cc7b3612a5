r"""Recipe: hierarchical transfer CNN (HTCNN) vs the plain cloud CNN (CCNN).

Reproduces the HTCNN paper's comparison (htcnn-hierarchical-transfer.txt,
section IV): m shallow CNNs initialise the cloud CNN's first layer; HTCNN and
CCNN are trained from the same weights on the same batches and compared by
AAG, PBP, accuracy gain per epoch and time-to-accuracy (the shallow CNNs'
training counted). Settings: `keras_transfer.experiments.htcnn.HTCNNConfig`
(every field is a flag; ``--help`` lists them with the presets' values).

Usage:
    python recipes/htcnn.py --dataset=digits --preset=quick --output_dir=runs/htcnn_digits
    python recipes/htcnn.py --dataset=cifar10 --setting=locality --preset=paper
    python recipes/htcnn.py --dataset=tiny_imagenet50 --arch=alexnet --preset=quick
    python recipes/htcnn.py --dataset=digits --tune --tune_trials=4

Writes into --output_dir: summary.json, history.csv, curves.png, tensorboard/,
runs/ (per-training files, which make ``--resume`` continue a killed run), and
the final HTCNN and CCNN under --export_dir/htcnn/<run name>/ unless --noexport.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_transfer.experiments import runner

if __name__ == "__main__":
    runner.main("htcnn")
