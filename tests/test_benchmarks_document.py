"""docs/BENCHMARKS.md's header, when run_all.py --only keeps sections of earlier runs: it says when those were
first measured, and a busy-machine warning names the steps it concerns."""
from helpers import run_beside_the_benchmarks


def test_kept_sections_note_carries_the_first_runs_date_and_machine_also_from_the_earlier_wording():
    run_beside_the_benchmarks("""
        import run_all
        header = ["# Benchmarks", "", "- date: 2026-12-02 (now)", "- machine: this one",
                  "- the sections kept from the previous document were measured by an earlier run "
                  "(date: 2026-11-28; machine: AMD EPYC)"]
        assert run_all._kept_note(header) == run_all.KEPT_NOTE + " (date: 2026-11-28; machine: AMD EPYC)"
        assert run_all._kept_note(header[:4]) == run_all.KEPT_NOTE + " (date: 2026-12-02 (now); machine: this one)"
    """)


def test_busy_machine_warning_names_the_steps_this_run_measured_and_is_absent_when_idle():
    run_beside_the_benchmarks("""
        import run_all
        busy, idle = {"load_average_1_5_15": [1.5, 1, 1], "usable_cores": 2}, {"load_average_1_5_15": [0.3, 1, 1],
                                                                               "usable_cores": 2}
        assert "this run (its steps: runtime_accuracy) started" in run_all._load_warning(busy, ["runtime_accuracy"])[0]
        assert "this run started" in run_all._load_warning(busy, [])[0]
        assert run_all._load_warning(idle, ["runtime_accuracy"]) == []
    """)
