r"""Recipe: coarse-to-fine incremental training (8x8 -> 16x16 -> 32x32) vs. training from scratch.

Paper: coarse2fine-incremental-training.txt (Figs. 5-6 and 10). Trains a
Table I network (net-2) on 8x8 images, upscales it to 16x16 (kernels and
dense layers mapped so the function is kept, section III-A/B), widens it to
net-3 (section III-C), trains on, upscales to 32x32 and trains on; the
baseline trains the same final network on 32x32 images from scratch for the
same number of steps (--baseline_epochs). --repeats times. Settings:
`keras_transfer.experiments.coarse2fine.Coarse2FineConfig` (every field is a
flag).

Usage:
    python recipes/coarse2fine.py --dataset=tiny_imagenet50 --preset=quick
    python recipes/coarse2fine.py --dataset=cifar10 --net=net-4 --widen_at=0 \
        --stage_epochs=10,5,10

Writes into --output_dir: summary.json (headline: final accuracy of both, the
incremental run's time to the baseline's final accuracy and its ratio to the
baseline's time, the accuracy dip at each transform), history.csv,
curves.png (accuracy vs. wall time), tensorboard logs under runs/, and both
final models under --export_dir/coarse2fine/<run name>/ unless --noexport.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_transfer.experiments import runner

if __name__ == "__main__":
    runner.main("coarse2fine")
