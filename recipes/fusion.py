r"""Recipe: transferred fusion learning with cross-network skip connections.

Paper: transferred-fusion-skipped-networks.txt (Tables 2 and 3). Pre-trains
model 1 on --dataset_1 and model 2 on --dataset_2 (or loads them, e.g.
--weights_2=imagenet), then on --dataset (the retraining dataset), --repeats
times: each model alone transfer-learned frozen (new head only) and fine-tuned
(--single_protocols), the hybrid for every --hybrids exchange/train
combination, and the baselines a user would pick instead (--baselines: the
ensemble of the two single models, the better single model trained for the
hybrid's wall time). Settings: `keras_transfer.experiments.fusion.FusionConfig`
(every field is a flag; ``--dataset`` sets the retraining dataset).

Usage:
    python recipes/fusion.py --preset=quick --output_dir=runs/fusion
    python recipes/fusion.py --model_1=custom --model_2=EfficientNetLite0 --weights_2=imagenet \
        --dataset_1=cifar100 --dataset=natural_images
    python recipes/fusion.py --hybrids=gated/all --single_protocols=finetuned

Writes into --output_dir: summary.json (headline: every run's accuracy,
mean/min/max, parameters, FLOPs and seconds, a Table 3-shaped markdown table),
history.csv, curves.png, tensorboard logs under runs/, and the most accurate
hybrid under --export_dir/fusion/<run name>/ unless --noexport.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_transfer.experiments import runner

if __name__ == "__main__":
    runner.main("fusion")
