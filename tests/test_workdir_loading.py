"""Loading a work directory's networks: a damaged or foreign weights file is refused in one line naming it, also
where Keras itself would only warn and keep randomly initialised layers."""

import warnings

import h5py
import numpy as np
import pytest

from hrsod_tf.workdir import WeightsFileError, WorkDir, load_weights_checked, make_random_workdir


@pytest.fixture
def run(tmp_path):
    return make_random_workdir(tmp_path / "run", stages=("gsn",))


def _refused(run, match):
    with pytest.raises(WeightsFileError, match=match) as raised:
        WorkDir(run.root).load_model("gsn")
    assert "\n" not in str(raised.value) and "train --stage gsn" in str(raised.value)


def test_a_weights_file_missing_a_layers_group_is_refused_in_one_line(run):
    with h5py.File(run.final_weights("gsn"), "a") as f:
        f.move("layers/conv2d", "layers/conv2dX")
    _refused(run, r"final\.weights\.h5: cannot load the GSN network \(A total of 1 objects could not be loaded")


class _LoadsWithKerasWarning:
    """What Keras does with some damaged files (found by the fuzzer): it warns, and keeps random weights."""

    def load_weights(self, path):
        warnings.warn("Skipping nested container at '_operations_by_depth/container_6': no matching group found in "
                      "the saved file. ... Affected layers will retain their freshly-initialized weights.",
                      stacklevel=2)

    def get_weights(self):
        return [np.zeros(3)]


def test_a_load_that_keras_only_warns_about_is_refused(tmp_path):
    with pytest.raises(WeightsFileError, match=r"w\.weights\.h5: cannot load the net \(Skipping nested container"):
        load_weights_checked(_LoadsWithKerasWarning(), tmp_path / "w.weights.h5", "the net", "retrain it")


@pytest.mark.parametrize("keep", [0, 100, 5000])
def test_a_truncated_or_empty_weights_file_is_refused_naming_it(run, keep):
    path = run.final_weights("gsn")
    path.write_bytes(path.read_bytes()[:keep])
    _refused(run, r"final\.weights\.h5: cannot load the GSN network \(")


def test_weights_holding_nan_are_refused(run):
    with h5py.File(run.final_weights("gsn"), "a") as f:
        kernel = f["layers/conv2d/vars/0"]
        values = kernel[()]
        values.flat[0] = np.nan
        kernel[...] = values
    _refused(run, r"some weights are NaN or infinite")


def test_an_intact_run_loads_without_warnings(run, recwarn):
    WorkDir(run.root).load_model("gsn")
    assert not [w for w in recwarn if "Skipping" in str(w.message)]
