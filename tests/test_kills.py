"""train.py and batch_predict.py SIGKILLed part-way and run again (reliability/kills.py, small forms): the final
weights equal an uninterrupted run's bit for bit, and the masks a clean run's byte for byte, with no partial file."""

import random

import pytest
from kills import batch_predict_kills, kill_plan, train_kills


def test_kill_plans_are_in_training_order_and_repeat_with_their_seed():
    plan = kill_plan(random.Random(3), 5)
    order = [("gsn", "lrn", "glfn").index(stage) for stage, _ in plan]
    assert order == sorted(order) and plan == kill_plan(random.Random(3), 5)
    assert all(1 <= step < 30 for _, step in plan)


@pytest.mark.slow
def test_training_killed_twice_and_resumed_gives_bit_identical_final_weights(tmp_path):
    result = train_kills(tmp_path, plans=1, kills=2, seed=1)
    plan = result["plans"][0]
    assert all(kill["status"] == -9 for kill in plan["kills"])  # really killed, not finished first
    assert plan["final_status"] == 0 and plan["identical"], plan


@pytest.mark.slow
def test_batch_predict_killed_and_rerun_writes_the_clean_runs_masks_and_no_partial_file(tmp_path):
    result = batch_predict_kills(tmp_path, images=8, kills=1)
    assert result["identical"] and result["partial_files"] == [] and result["final_status"] == 0, result
