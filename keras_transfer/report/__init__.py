"""What runs report: their files, plots and tables, one module per job.

- `run_files`: ``summary.json`` and ``history.csv``;
- `plots`: ``curves.png`` and the other figures;
- `tables`: console and markdown tables, `mean_range` for repeated numbers,
  `ran_on` for where a benchmark run ran.

Their names are importable from here (``from keras_transfer import report;
report.write_json(...)``).

Example:
>>> from keras_transfer import report
>>> report.mean_range({"mean": 0.5, "min": 0.4, "max": 0.6}, digits=2)
'0.50 (0.40-0.60)'
"""

from keras_transfer.report.plots import curve_matrix
from keras_transfer.report.plots import plot_bars
from keras_transfer.report.plots import plot_curves
from keras_transfer.report.plots import plot_time_curves
from keras_transfer.report.plots import save_figure
from keras_transfer.report.run_files import HISTORY_FIELDS
from keras_transfer.report.run_files import write_history
from keras_transfer.report.run_files import write_json
from keras_transfer.report.tables import markdown_table
from keras_transfer.report.tables import mean_range
from keras_transfer.report.tables import ran_on
from keras_transfer.report.tables import text_table

__all__ = [
    "HISTORY_FIELDS",
    "curve_matrix",
    "markdown_table",
    "mean_range",
    "plot_bars",
    "plot_curves",
    "plot_time_curves",
    "ran_on",
    "save_figure",
    "text_table",
    "write_history",
    "write_json",
]
