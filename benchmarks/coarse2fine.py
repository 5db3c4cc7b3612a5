r"""Benchmark: coarse-to-fine incremental training vs. from scratch, as a RESULTS.md section.

Runs recipes/coarse2fine.py (unless its folder already holds a finished run,
which is loaded) and writes section "coarse2fine" of benchmarks/RESULTS.md:
the headline (final accuracy of both, the incremental run's time to the
baseline's final accuracy and its ratio to the baseline's time, the dip at
each transform), every repeat, every stage, the recipe's wall time against
the issue's 40-minute budget, and the accuracy-vs-time plot (copied to
benchmarks/figures/).

    python benchmarks/coarse2fine.py                    # tiny_imagenet50, quick preset
    python benchmarks/coarse2fine.py --setting='--upscale_mode=exact' --nowrite
    python benchmarks/coarse2fine.py --ablations='--upscale_mode=exact;--repeats=2 --widen_at=0'

"""

import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

from benchmarks.results import REPO_ROOT
from benchmarks.results import define_recipe_flags
from benchmarks.results import ran_on
from benchmarks.results import run_folder
from benchmarks.results import run_preset_recipe

FLAGS = flags.FLAGS
define_recipe_flags("coarse2fine")
flags.DEFINE_string(
    "ablations",
    "",
    "';'-separated extra recipe flags, one run each on top of "
    "--setting (same preset and seed), compared in one table.",
)

SECTION = "coarse2fine"
RESULTS = os.path.join(REPO_ROOT, "benchmarks", "RESULTS.md")
TIME_LIMIT_SECONDS = 40 * 60  # the issue's budget for the quick preset on 2 cores
PAPER = (
    "Paper (ImageNet, 1,000 classes, single thread, Figs. 5-6 and 10; no numbers in the "
    "text): incremental 8 -> 16 -> 32 training reaches a higher accuracy clearly faster "
    "than training at 32x32 from scratch, with an accuracy dip at each re-mapping that "
    "grows with more upscaling steps."
)


def _fmt(value, spec=".4f"):
    return "-" if value is None else format(value, spec)


def peaks(folder):
    """Per (run, repeat): the best test accuracy, and for the incremental run the first wall
    time it reaches the baseline's best (``None``: never), from the run's history.csv."""
    import csv

    from keras_transfer.metrics import time_to_accuracy

    curves = {}
    with open(os.path.join(folder, "history.csv"), newline="") as f:
        for row in csv.DictReader(f):
            curves.setdefault((row["run"], int(row["repeat"])), []).append(
                (float(row["wall_seconds"]), float(row["test_accuracy"]))
            )
    best = {key: max(a for _, a in rows) for key, rows in curves.items()}
    for (run, r), rows in list(curves.items()):
        if run == "incremental":
            hit = time_to_accuracy(
                [a for _, a in rows], [t for t, _ in rows], best[("baseline", r)]
            )
            best[("reach_baseline_best", r)] = None if hit is None else hit["seconds"]
    return best


def section(summary, figure, best):
    """Markdown of one coarse2fine recipe summary (see the module docstring)."""
    from keras_transfer.report import markdown_table

    cfg, head, wall = summary["settings"], summary["headline"], summary["wall_seconds"]
    lines = [
        f"{cfg['dataset']} (area-downscaled to {', '.join(str(r) for r in cfg['resolutions'])}"
        f" px), start network {cfg['net']} (Table I), upscale mode {cfg['upscale_mode']} "
        f"(noise {cfg['noise_stddev']}), widened to {cfg['widen_to'] if cfg['widen_at'] else '-'}"
        f" at {cfg['widen_at'] or '-'} px ({cfg['widen_init']} init), SGD lr "
        f"{cfg['learning_rate']} momentum 0.9, batch {cfg['batch_size']}, epochs of "
        f"{cfg['steps_per_epoch']} steps, dropout {cfg['dropout']}; baseline: the same final "
        f"network from scratch at {cfg['resolutions'][-1]} px for "
        f"{cfg['baseline_epochs'] or sum(cfg['stage_epochs'])} epochs (the same number of "
        f"steps as the incremental run); {summary['repeats']} repeats. Wall time is training "
        f"time plus transform time (evaluation excluded).",
        *ran_on(summary),
        "",
        head["table"],
        "",
        PAPER,
        "",
        markdown_table(
            [
                "repeat",
                "incremental final",
                "baseline final",
                "incremental best",
                "baseline best",
                "incremental s",
                "baseline s",
                "incremental s to baseline final",
                "ratio",
                "incremental s to baseline best",
            ],
            [
                [
                    r,
                    _fmt(i["final_accuracy"]),
                    _fmt(b["final_accuracy"]),
                    _fmt(best[("incremental", r)]),
                    _fmt(best[("baseline", r)]),
                    f"{i['seconds']:.0f}",
                    f"{b['seconds']:.0f}",
                    _fmt(t, ".0f"),
                    _fmt(None if t is None else t / b["seconds"], ".2f"),
                    _fmt(best[("reach_baseline_best", r)], ".0f"),
                ]
                for r, (i, b, t) in enumerate(
                    zip(
                        summary["incremental"],
                        summary["baseline"],
                        head["seconds_to_baseline_final"],
                    )
                )
            ],
        ),
        "",
        "Best: the highest test accuracy over the run's evaluations (one per epoch); the last "
        "column: the incremental run's first wall time at or above the baseline's best "
        "(- : never).",
        "",
        "Stages (repeat 0):",
        "",
        markdown_table(
            [
                "stage",
                "px",
                "epochs",
                "starts at s",
                "transform s",
                "acc. before transform",
                "acc. after",
                "final acc.",
                "max logit change on replicated images",
            ],
            [
                [
                    s["stage"],
                    s["resolution"],
                    s["epochs"],
                    f"{s['start_seconds']:.1f}",
                    f"{s['transform_seconds']:.2f}",
                    _fmt(s["accuracy_before_transform"]),
                    _fmt(s["accuracy_after_transform"]),
                    _fmt(s["final_accuracy"]),
                    _fmt(s["check"], ".2e"),
                ]
                for s in summary["incremental"][0]["stages"]
            ],
        ),
        "",
        f"![accuracy vs wall time]({os.path.relpath(figure, os.path.dirname(RESULTS))})"
        if figure
        else "",
        "",
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in wall.items()]),
        "",
        f"Whole recipe {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} min: "
        f"{'met' if wall['total'] < TIME_LIMIT_SECONDS else 'NOT met'}).",
    ]
    return "\n".join(lines)


def ablation_table(rows):
    """One row per setting: final/best accuracy of both runs, time ratio, dips (means)."""
    from keras_transfer.report import markdown_table

    body = []
    for setting, summary, best in rows:
        head = summary["headline"]
        n = summary["repeats"]
        mean_best = {
            run: sum(best[(run, r)] for r in range(n)) / n for run in ("incremental", "baseline")
        }
        ratio = head["time_ratio"]
        dips = ", ".join(f"{k} {v['mean']:+.4f}" for k, v in head["dip_at_transform"].items())
        reached_best = sum(best[("reach_baseline_best", r)] is not None for r in range(n))
        body.append(
            [
                f"`{setting}`" if setting else "(preset)",
                n,
                _fmt(head["incremental_final_accuracy"]["mean"]),
                _fmt(head["baseline_final_accuracy"]["mean"]),
                _fmt(mean_best["incremental"]),
                _fmt(mean_best["baseline"]),
                f"{_fmt(ratio['mean'], '.2f')} ({head['incremental_reached_baseline']} of {n})",
                f"{reached_best} of {n}",
                dips,
                " ".join(ran_on(summary)).removeprefix("Ran ").rstrip(".") or "-",
            ]
        )
    return markdown_table(
        [
            "setting",
            "repeats",
            "incremental final",
            "baseline final",
            "incremental best",
            "baseline best",
            "time ratio to baseline final (reached in)",
            "incremental reaches baseline best in",
            "dips",
            "ran",
        ],
        body,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from benchmarks.results import publish

    summary = run_preset_recipe("coarse2fine")
    folder = run_folder(FLAGS.output_dir, FLAGS.preset, shlex.split(FLAGS.setting))
    figure = None
    if FLAGS.write:  # runs/ is not tracked: keep the plot next to RESULTS.md
        figure = os.path.join(
            REPO_ROOT, "benchmarks", "figures", f"{SECTION}_{os.path.basename(folder)}.png"
        )
        os.makedirs(os.path.dirname(figure), exist_ok=True)
        shutil.copyfile(os.path.join(folder, "curves.png"), figure)
    best = peaks(folder)
    markdown = section(summary, figure, best)
    settings = [a.strip() for a in FLAGS.ablations.split(";") if a.strip()]
    if settings:
        rows = [(FLAGS.setting, summary, best)]
        for extra in settings:
            setting = f"{FLAGS.setting} {extra}".strip()
            rows.append(
                (
                    setting,
                    run_preset_recipe("coarse2fine", setting),
                    peaks(run_folder(FLAGS.output_dir, FLAGS.preset, shlex.split(setting))),
                )
            )
        markdown += (
            "\n\nAblations (each a separate run of the recipe with these extra flags, "
            "same seed; means over repeats):\n\n" + ablation_table(rows)
        )
    publish(SECTION, markdown, FLAGS.write)


if __name__ == "__main__":
    app.run(main)
