"""hrsod_tf.overlap: the next items worked on in threads while the caller works, results in the items' order,
bounded, and ended without cutting a running call short."""

import threading

import pytest

from hrsod_tf.overlap import overlapped_map

WAIT = 30  # seconds: a bound against a hang, never reached when the code is right


def test_two_calls_run_at_once_and_the_results_come_in_the_items_order():
    both_started = threading.Barrier(2, timeout=WAIT)  # the first two calls pass only if they run together
    second_done, finished = threading.Event(), []

    def work(item):
        if item < 2:
            both_started.wait()
        if item == 0:  # the first item finishes last: its result must still come first
            assert second_done.wait(WAIT)
        finished.append(item)
        if item == 1:
            second_done.set()
        return item * 10

    assert list(overlapped_map(work, range(6), ahead=1)) == [0, 10, 20, 30, 40, 50]
    assert finished[:2] == [1, 0]


def test_drawing_the_next_item_overlaps_the_call_in_flight():
    drawn = [threading.Event() for _ in range(5)]

    def items():  # a generator doing work in the caller's thread, as the networks between decoding and writing
        for item in range(5):
            drawn[item].set()
            yield item

    def work(item):  # returns only once the next item has been drawn: without overlap it would wait in vain
        assert item == 4 or drawn[item + 1].wait(WAIT)
        return item

    assert list(overlapped_map(work, items(), ahead=1)) == list(range(5))


def test_at_most_ahead_items_are_started_beyond_those_handed_back():
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
    for result in overlapped_map(work, range(20), ahead=1):
        handed_back.append(result)
        with lock:
            most_ahead = max(most_ahead, len(started) - len(handed_back))
    assert handed_back == list(range(20))
    assert most_ahead <= 1 and most_running[0] <= 2


def test_nothing_ahead_runs_each_call_in_the_calling_thread():
    threads = set(overlapped_map(lambda _: threading.get_ident(), range(3), ahead=0))
    assert threads == {threading.get_ident()}


def test_an_error_is_raised_at_its_items_turn_and_nothing_new_starts_after_it():
    started = []

    def work(item):
        started.append(item)
        if item == 2:
            raise KeyboardInterrupt  # as Ctrl-C while the networks run
        return item

    results = []
    with pytest.raises(KeyboardInterrupt):
        for result in overlapped_map(work, range(10), ahead=1):
            results.append(result)
    assert results == [0, 1]
    assert max(started) <= 3  # the item in flight beside it, no more


def test_closing_early_waits_for_the_running_calls_to_end():
    release, second_started, started, ended = threading.Event(), threading.Event(), [], []

    def work(item):
        started.append(item)
        if item > 0:
            second_started.set()
            assert release.wait(WAIT)
        ended.append(item)
        return item

    results = overlapped_map(work, range(5), ahead=1)
    assert next(results) == 0
    assert second_started.wait(WAIT)  # item 1 is running now, blocked (a busy machine may start it late)
    threading.Timer(0.05, release.set).start()
    results.close()  # returns only once item 1 has ended; item 2 never starts
    assert sorted(ended) == sorted(started) and 1 in started and 2 not in started
