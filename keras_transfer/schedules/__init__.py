"""Training schedules of the techniques: several models trained in a paper's order.

- `shallow_cnns`: HTCNN step (ii), m shallow CNNs, one per training shard;
- `incremental`: the coarse-to-fine schedule, stages at growing resolutions.

They sit above `keras_transfer.training` (they train) and below the
experiments (they read no flags and write no reports).
"""
