"""The project's progress bars (hrsod_tf.progress): a live bar on a terminal, a few whole lines in a log file."""

import io
import itertools

from tqdm import tqdm

from hrsod_tf.progress import LogLineProgress, progress_bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_file_gets_a_line_per_tenth_not_a_redraw_per_step():
    log = io.StringIO()
    assert sum(1 for _ in progress_bar(range(10_000), desc="evaluating", unit="img", file=log)) == 10_000
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in log.getvalue()
    assert lines[0].startswith("evaluating: 1000/10000 img (10%), ")
    assert lines[-1].startswith("evaluating: 10000/10000 img (100%), ") and "left" in lines[-1]


def test_a_slow_loop_writes_a_line_every_interval_with_its_rate_time_left_and_postfix():
    log, clock = io.StringIO(), itertools.count(0.0, 1.0)  # one second per step
    bar = LogLineProgress(total=1000, initial=100, desc="train gsn", unit="step", file=log, interval=30,
                          clock=lambda: next(clock))
    for _ in range(95):
        bar.update(1)
        bar.set_postfix(loss="0.2134", refresh=False)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4  # at 30, 60 and 90 s, and the end
    assert lines[0] == "train gsn: 130/1000 step (13%), 00:30 elapsed, 14:30 left, 1.00step/s, loss=0.2134"
    assert lines[-1].startswith("train gsn: 195/1000 step (20%), 01:36 elapsed, ")  # close reads the clock once more


def test_a_bar_without_a_total_or_progress_still_ends_with_one_line():
    log = io.StringIO()
    with progress_bar(total=None, desc="video.mp4", unit="frame", file=log) as bar:
        bar.update(3)
    assert log.getvalue().startswith("video.mp4: 3 frame, ") and log.getvalue().count("\n") == 1
    empty = io.StringIO()
    progress_bar([], desc="nothing", file=empty).close()
    assert empty.getvalue().count("\n") == 1


def test_a_terminal_keeps_the_live_bar_and_a_disabled_bar_writes_nothing():
    terminal = _Terminal()
    bar = progress_bar(total=5, desc="train gsn", unit="step", file=terminal)
    assert isinstance(bar, tqdm) and not isinstance(bar, LogLineProgress)
    bar.update(5)
    bar.close()
    assert "\r" in terminal.getvalue() and "step/s" in terminal.getvalue()
    log = io.StringIO()
    assert list(progress_bar(range(3), desc="quiet", enabled=False, file=log)) == [0, 1, 2]
    assert log.getvalue() == ""
