"""The layer-transfer experiment's headline: accuracy per (k, n), the best n per k, the table.

Reads `keras_transfer.experiments.layer_transfer_runs.run_experiment`'s accuracies; no training.
"""

from keras_transfer import metrics
from keras_transfer.experiments.layer_transfer_config import get_preset  # noqa: F401 (examples)


def headline(config, accuracy):
    """accuracy[k][n] mean/min/max, the best n per k and its gain over n = 0.

    Example:
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> h = headline(cfg, {1: {0: [0.2, 0.4], 3: [0.5, 0.7]}})
    >>> h["best_n"][1], round(h["gain_of_best_n_over_n0"][1], 6)
    (3, 0.3)
    """
    table = {k: {n: metrics.summarize_runs(accuracy[k][n]) for n in config.levels}
             for k in config.ks}
    best = {k: max(config.levels, key=lambda n: table[k][n]["mean"]) for k in config.ks}
    gain = {k: (table[k][best[k]]["mean"] - table[k][0]["mean"]) if 0 in config.levels else None
            for k in config.ks}
    return {"accuracy": table, "best_n": best, "gain_of_best_n_over_n0": gain}


def headline_table(config, head):
    """Mean target accuracy per k (rows) and n (columns), and the best n per k.

    Example:
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> print(headline_table(cfg, headline(cfg, {1: {0: [0.2], 3: [0.5]}})))
    | k \\ n |     0 |     3 | best n |
    |------:|------:|------:|-------:|
    |     1 | 0.200 | 0.500 |      3 |
    """
    from keras_transfer.report import text_table

    rows = [[str(k)] + [f"{head['accuracy'][k][n]['mean']:.3f}" for n in config.levels]
            + [str(head["best_n"][k])] for k in config.ks]
    return text_table(["k \\ n"] + [str(n) for n in config.levels] + ["best n"], rows)
