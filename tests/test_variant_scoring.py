"""hrsod_tf.evaluation.variant_scoring: scoring the variants in worker processes changes nothing but the time."""

import numpy as np
import pytest

from hrsod_tf.evaluation import variant_report
from hrsod_tf.evaluation.variant_scoring import VariantScorer
from hrsod_tf.pipeline.crf import crf_available


class _NoisyPipeline:
    """predict_variants of a pipeline whose maps differ per image and variant (seeded): no TensorFlow."""

    rps_is_trained = True

    def predict_variants(self, image, variants):
        seed = int(image[0, 0, 0])
        return {v: np.random.default_rng([seed, i]).random(image.shape[:2] + (1,), np.float32)
                for i, v in enumerate(variants)}


def _examples(count=5):
    rng = np.random.default_rng(7)
    examples = []
    for i in range(count):
        image = np.full((48, 64, 3), 40, np.uint8)
        image[10:30, 20:50] = 200  # a bright object the CRF can snap to
        image[0, 0, 0] = i
        mask = np.zeros((48, 64, 1), np.uint8)
        mask[10:30, 20:50] = 255
        mask[rng.integers(0, 48, 20), rng.integers(0, 64, 20)] = 255
        examples.append({"image": image, "mask": mask, "image/filename": f"im{i}.png"})
    return examples


@pytest.mark.skipif(not crf_available(), reason="pydensecrf2 is not installed (the crf extra)")
def test_two_scoring_processes_give_the_same_results_maps_and_example_grid_as_one_process(tmp_path):
    variants = ("gsn", "gsn+crf", "gsn+aps+lrn", "gsn+aps+lrn+crf", "full")
    runs = {}
    for workers in (0, 2):
        runs[workers] = variant_report.evaluate_pipeline(
            _NoisyPipeline(), _examples(), variants, save_maps_dir=tmp_path / f"maps{workers}", progress=False,
            num_examples=3, example_side=32, workers=workers)
    alone, parallel = runs[0], runs[2]
    assert list(parallel.results) == list(variants)
    for variant in variants:
        assert parallel.results[variant].to_dict() == alone.results[variant].to_dict(), variant
        for i in range(5):
            a = (tmp_path / "maps0" / variant / f"im{i}.png").read_bytes()
            assert (tmp_path / "maps2" / variant / f"im{i}.png").read_bytes() == a
    assert [e.stem for e in parallel.examples] == ["im0", "im1", "im2"]
    for a, b in zip(alone.examples, parallel.examples):
        assert list(b.maps) == list(variants)
        for variant in variants:
            np.testing.assert_array_equal(a.maps[variant], b.maps[variant])
    assert max(parallel.examples[0].image.shape[:2]) == 32


def test_the_crf_rows_share_one_worker_and_the_other_rows_are_dealt_to_the_rest():
    variants = ("gsn", "gsn+crf", "gsn+rps+lrn", "gsn+aps+lrn", "gsn+aps+lrn+crf", "full")
    with VariantScorer(variants, workers=3) as scorer:
        shares = scorer._shares
    assert shares == [("gsn+crf", "gsn+aps+lrn+crf"), ("gsn", "gsn+aps+lrn"), ("gsn+rps+lrn", "full")]
    with VariantScorer(("gsn", "full"), workers=2) as scorer:
        assert scorer._shares == [("gsn",), ("full",)]
