"""Shared test fixtures: the project installed (else a clear exit), quiet TensorFlow, float32 policy restored
after each test. Data the tests read lives in tests/fixtures/."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

try:
    import hrsod_tf  # noqa: E402,F401  (before Keras imports TensorFlow: the tests run the kernels users get)
    import hrsod_tf_datasets  # noqa: E402,F401  (the TFDS builders: importable only once the project is installed)
except ModuleNotFoundError:
    pytest.exit("hrsod-tf is not installed in this Python: run `pip install -r requirements.txt` (it ends with "
                "`-e .`), or `pip install -e .`, in the repository first", returncode=4)

import keras  # noqa: E402

from hrsod_tf.deploy.saved_model import export_workdir  # noqa: E402  (after the check above)
from hrsod_tf.workdir import make_random_workdir  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """Tests that change the global dtype policy must not leak it into the next test."""
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def tiny_saved_model(tmp_path_factory):
    """A random-init `tiny` run exported once per test session with export.py's library: the version directory."""
    root = tmp_path_factory.mktemp("tiny_export")
    return export_workdir(make_random_workdir(root / "run").root, root / "models")
