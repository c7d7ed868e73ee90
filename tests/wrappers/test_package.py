"""Import paths: Keras 2's legacy path, lazy ``nnkit.wrappers``, and a light ``import nnkit``."""

from __future__ import annotations

import subprocess
import sys

import nnkit


def test_legacy_keras_2_path_and_lazy_attribute():
    from nnkit.wrappers import KerasClassifier, KerasRegressor
    from nnkit.wrappers.scikit_learn import KerasClassifier as LegacyClassifier
    from nnkit.wrappers.scikit_learn import KerasRegressor as LegacyRegressor

    assert LegacyClassifier is KerasClassifier and LegacyRegressor is KerasRegressor
    assert nnkit.wrappers.SKLearnClassifier.__name__ == "SKLearnClassifier"


def test_import_nnkit_does_not_import_scikit_learn():
    code = "import sys, nnkit; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
