"""The paper's Tables 1 and 2, as hrsod_tf.evaluation.paper_tables holds them, equal the tables' lines of the paper
(copied into tests/fixtures/), number by number."""

from pathlib import Path

import pytest

from hrsod_tf.evaluation import paper_tables

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _table1_lines():
    """{method: the 15 numbers of its row} from the fixture (method names as printed, reference dropped)."""
    rows = {}
    for line in (FIXTURES / "paper_table1.txt").read_text(encoding="utf-8").splitlines():
        words = line.replace("[", " [").split()
        if len(words) > 15 and all(w.replace(".", "").isdigit() for w in words[-15:]):
            rows[words[0]] = [float(w) for w in words[-15:]]
    return rows


def test_table1_data_equal_the_papers_rows_number_by_number():
    printed = _table1_lines()
    data = paper_tables.table1()
    assert list(data) == list(printed) and len(data) == 11  # nine competitors, Ours-D, Ours-DH, in order
    for method, numbers in printed.items():
        ours = [data[method][dataset][metric]
                for dataset in paper_tables.TABLE1_DATASETS for metric in paper_tables.TABLE1_METRICS]
        assert ours == pytest.approx(numbers, abs=1e-9), method


def test_table1_columns_are_the_papers():
    header = (FIXTURES / "paper_table1.txt").read_text(encoding="utf-8").splitlines()
    assert " ".join(paper_tables.TABLE1_DATASETS) in header
    assert "Fβ S-m MAE " * 4 + "Fβ S-m MAE" in header


def test_table2_data_equal_the_papers_rows():
    lines = (FIXTURES / "paper_table2.txt").read_text(encoding="utf-8").splitlines()
    methods = next(line for line in lines if line.startswith("Dataset ")).split()[1:]
    data = paper_tables.table2()
    assert list(data) == methods
    for dataset in paper_tables.TABLE2_DATASETS:
        printed = [float(w) for w in next(line for line in lines if line.startswith(dataset + " ")).split()[1:]]
        assert [data[m][dataset]["BDE"] for m in methods] == pytest.approx(printed, abs=1e-9), dataset
