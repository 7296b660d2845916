"""hrsod_tf.overlap: a few items at once in threads, the results in the items' order, bounded, and stopped cleanly."""

import threading

import pytest

from hrsod_tf.overlap import overlapped_map

WAIT = 30  # seconds: a bound against a hang, never reached when the code is right


def test_two_items_run_at_once_and_the_results_come_in_the_items_order():
    both_started = threading.Barrier(2, timeout=WAIT)  # the first two calls pass only if they run together
    finished = []

    def work(item):
        if item < 2:
            both_started.wait()
        if item == 0:  # the first item finishes last: its result must still come first
            assert second_done.wait(WAIT)
        finished.append(item)
        if item == 1:
            second_done.set()
        return item * 10

    second_done = threading.Event()
    assert list(overlapped_map(work, range(6), in_flight=2)) == [0, 10, 20, 30, 40, 50]
    assert finished[:2] == [1, 0]


def test_at_most_in_flight_items_are_started_beyond_those_handed_back():
    started, running, most_running = [], [0], [0]
    lock = threading.Lock()

    def work(item):
        with lock:
            started.append(item)
            running[0] += 1
            most_running[0] = max(most_running[0], running[0])
        with lock:
            running[0] -= 1
        return item

    handed_back, most_ahead = [], 0
    for result in overlapped_map(work, range(20), in_flight=2):
        handed_back.append(result)
        with lock:
            most_ahead = max(most_ahead, len(started) - len(handed_back))
    assert handed_back == list(range(20))
    assert most_ahead <= 2 and most_running[0] <= 2


def test_one_in_flight_runs_in_the_calling_thread():
    threads = set(overlapped_map(lambda _: threading.get_ident(), range(3), in_flight=1))
    assert threads == {threading.get_ident()}


def test_an_error_is_raised_at_its_items_turn_and_nothing_new_starts_after_it():
    started = []

    def work(item):
        started.append(item)
        if item == 2:
            raise KeyboardInterrupt  # as Ctrl-C while the model runs
        return item

    results = []
    with pytest.raises(KeyboardInterrupt):
        for result in overlapped_map(work, range(10), in_flight=2):
            results.append(result)
    assert results == [0, 1]
    assert max(started) <= 3  # the item in flight beside it, no more


def test_closing_early_sets_stop_and_waits_for_the_running_call():
    stop, release, ended = threading.Event(), threading.Event(), []

    def work(item):
        if item == 1:
            assert release.wait(WAIT)
            ended.append("saw stop" if stop.is_set() else "no stop")
        return item

    results = overlapped_map(work, range(5), in_flight=2, stop=stop)
    assert next(results) == 0  # item 1 is running now, blocked
    threading.Timer(0.05, release.set).start()
    results.close()  # returns only once item 1 has ended
    assert ended == ["saw stop"]
