r"""Recipe: layer transfer between LeNet-5 style nets (lenet5-knowledge-transfer-nist.txt).

A source LeNet-5 learns one set of classes; target nets for new classes keep
its bottom n levels fixed and learn the rest from k samples per class.
NIST SD19 is not available here: the default is MNIST digits 0-4 -> 5-9;
``--dataset=cifar100`` (grayscale, 20 source -> 20 target classes) is closer
to the paper's 20 -> 20 characters. Settings:
`keras_transfer.experiments.layer_transfer.LayerTransferConfig` (every field
is a flag; class lists take ranges, ``--source_classes=0-19``).

Usage:
    python recipes/layer_transfer.py --dataset=mnist --preset=quick
    python recipes/layer_transfer.py --dataset=cifar100 --preset=quick \
        --source_classes=0-19 --target_classes=20-39
    python recipes/layer_transfer.py --dataset=mnist --preset=paper --output=softmax

Writes into --output_dir: summary.json (accuracy[k][n] mean/min/max, best n per
k, gain over n = 0, parameter counts), history.csv, curves.png (Fig. 2 and
Figs. 3-5), tensorboard/, and the source net under
--export_dir/layer_transfer/<run name>/ unless --noexport.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_transfer.experiments import runner

if __name__ == "__main__":
    runner.main("layer_transfer")
