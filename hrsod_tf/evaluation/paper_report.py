"""The paper's Table 1 or Table 2 in its own layout, with the rows measured here beside its quoted ones.

Table 1: per data set adaptive F-beta ("Fβ", threshold twice the mean saliency), S-measure ("S-m") and MAE;
Table 2: the boundary displacement error (BDE, pixels) on HRSOD-Test and DAVIS-S. The columns are the table's
data sets, then any other data set that was evaluated (e.g. the synthetic set); the rows are this project's
(marked "measured") followed by the paper's (marked "quoted", from `hrsod_tf.evaluation.paper_tables`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hrsod_tf.evaluation import paper_tables
from hrsod_tf.evaluation.folders import EvaluationResult, as_result

__all__ = ["PAPER_TABLES", "column_name", "paper_table_markdown"]

# table number -> (its data sets, its metrics (result keys), its quoted rows)
PAPER_TABLES = {
    1: (paper_tables.TABLE1_DATASETS, paper_tables.TABLE1_METRICS, paper_tables.table1),
    2: (paper_tables.TABLE2_DATASETS, ("BDE",), paper_tables.table2),
}
_TITLES = {"Fbeta_adaptive": "Fβ", "S_measure": "S-m", "MAE": "MAE", "BDE": "BDE"}
_FORMATS = {"Fbeta_adaptive": "{:.3f}", "S_measure": "{:.3f}", "MAE": "{:.3f}", "BDE": "{:.2f}"}


def column_name(spec: str) -> str:
    """The paper's name of the data set `spec` names (``hrsod`` -> ``HRSOD-Test``), else `spec` itself."""
    base = spec.removeprefix("tfds:").split("/")[0].split(":")[0]
    return paper_tables.DATASET_COLUMNS.get(base, spec)


def _cell(value, key: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else _FORMATS[key].format(value)


def paper_table_markdown(table: int, measured: Mapping[str, Mapping[str, EvaluationResult | Mapping]],
                         splits: Mapping[str, str] | None = None) -> str:
    """The markdown of the paper's Table `table` (1 or 2) with the `measured` rows first.

    Args:
        table: 1 or 2.
        measured: {data set spec: {row name: result}}: what was evaluated, e.g. {"hrsod": {"full": result}}.
        splits: {data set spec: the split evaluated}, named under the table.
    """
    datasets, keys, quoted = PAPER_TABLES[table]
    columns = list(datasets) + [column_name(s) for s in measured if column_name(s) not in datasets]
    rows: dict[str, dict[str, EvaluationResult]] = {}
    for spec, results in measured.items():
        for name, result in results.items():
            rows.setdefault(name, {})[column_name(spec)] = as_result(result)
    header = ["method", "source"] + [f"{column} {_TITLES[key]}" for column in columns for key in keys]
    lines = [f"# Table {table} of the paper, with the rows measured here",
             "",
             "| " + " | ".join(header) + " |",
             "|---|---|" + "---:|" * (len(header) - 2)]
    for name, by_column in rows.items():
        cells = [_cell(by_column[c].metrics.get(key) if c in by_column else None, key) for c in columns for key in keys]
        lines.append(f"| {name} | measured | " + " | ".join(cells) + " |")
    references = paper_tables.references()
    for method, by_dataset in quoted().items():
        cells = [_cell(by_dataset.get(c, {}).get(key), key) for c in columns for key in keys]
        label = f"{method} {references.get(method, '')}".strip()
        lines.append(f"| {label} | quoted (paper, Table {table}) | " + " | ".join(cells) + " |")
    lines += ["", "Rows marked *quoted* are copied from Zeng et al., \"Towards High-Resolution Salient Object "
              f"Detection\", ICCV 2019, Table {table} (hrsod_tf/evaluation/paper_tables.py); *measured* rows are "
              "this evaluation's, with pysodmetrics' adaptive F-beta (β² = 0.3, threshold twice the mean saliency), "
              "S-measure and MAE" + (", and BDE as hrsod_tf/evaluation/metrics.py computes it" if table == 2 else "")
              + ". – : not evaluated, or not in the paper."]
    for spec, results in measured.items():
        counts = sorted({as_result(r).num_images for r in results.values()})
        split = f", split {splits[spec]}" if splits and spec in splits else ""
        lines.append(f"- {column_name(spec)}: `{spec}`{split}, {'/'.join(str(c) for c in counts)} images")
    return "\n".join(lines) + "\n"
