"""The layer-transfer experiment's headline: accuracy per (k, n), the best n per k, the table.

Reads the accuracies of `keras_transfer.experiments.layer_transfer.run`; no training.
"""

from keras_transfer import metrics
from keras_transfer.report import save_figure


def headline(config, accuracy):
    """accuracy[k][n] mean/min/max, the best n per k and its gain over n = 0.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> h = headline(cfg, {1: {0: [0.2, 0.4], 3: [0.5, 0.7]}})
    >>> h["best_n"][1], round(h["gain_of_best_n_over_n0"][1], 6)
    (3, 0.3)
    """
    table = {
        k: {n: metrics.summarize_runs(accuracy[k][n]) for n in config.levels} for k in config.ks
    }
    best = {k: max(config.levels, key=lambda n: table[k][n]["mean"]) for k in config.ks}
    gain = {
        k: (table[k][best[k]]["mean"] - table[k][0]["mean"]) if 0 in config.levels else None
        for k in config.ks
    }
    return {"accuracy": table, "best_n": best, "gain_of_best_n_over_n0": gain}


def headline_table(config, head):
    """Mean target accuracy per k (rows) and n (columns), and the best n per k.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> print(headline_table(cfg, headline(cfg, {1: {0: [0.2], 3: [0.5]}})))
    | k \\ n |     0 |     3 | best n |
    |------:|------:|------:|-------:|
    |     1 | 0.200 | 0.500 |      3 |
    """
    from keras_transfer.report import text_table

    rows = [
        [str(k)]
        + [f"{head['accuracy'][k][n]['mean']:.3f}" for n in config.levels]
        + [str(head["best_n"][k])]
        for k in config.ks
    ]
    return text_table(["k \\ n"] + [str(n) for n in config.levels] + ["best n"], rows)


def plot_layer_transfer(path, table, title="", detail_ks=(1, 10, 40)):
    """Layer-transfer plots: accuracy vs retained levels per k (paper Fig. 2) and min/mean/max
    for a few k (Figs. 3-5), side by side.

    Args:
        path: PNG file to write.
        table: ``{k: {n: {"mean", "min", "max"}}}`` (see `metrics.summarize_runs`).
        detail_ks: the k shown with their min/mean/max band (those present).

    Example:
    >>> import tempfile
    >>> t = {1: {0: {"mean": .3, "min": .2, "max": .4}, 1: {"mean": .5, "min": .4, "max": .6}}}
    >>> plot_layer_transfer(tempfile.mkdtemp() + "/c.png", t)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    details = [k for k in detail_ks if k in table]
    fig, axes = plt.subplots(
        1, 1 + len(details), figsize=(5 * (1 + len(details)), 4), squeeze=False
    )
    ax = axes[0, 0]
    for k in sorted(table, reverse=True):
        levels = sorted(table[k])
        ax.plot(levels, [table[k][n]["mean"] for n in levels], marker="o", label=f"k={k}")
    ax.set_title(title or "Accuracy vs retained levels")
    ax.set_xlabel("Retained levels n")
    ax.set_ylabel("Testing accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    for ax, k in zip(axes[0, 1:], details):
        levels = sorted(table[k])
        for stat, style in (("max", "--"), ("mean", "-"), ("min", ":")):
            ax.plot(levels, [table[k][n][stat] for n in levels], style, marker="o", label=stat)
        ax.set_title(f"{k} sample(s) per class")
        ax.set_xlabel("Retained levels n")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
