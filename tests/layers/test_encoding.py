"""CategoryEncoding and Discretization match Keras (run on the torch backend) and its docstring examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit.layers import CategoryEncoding, Dense, Discretization, Input
from nnkit.models import Sequential
from tests.helpers import assert_close


def _np(tensor):
    return tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("shape", [(5,), (5, 1), (5, 3), (2, 3, 2)])
def test_category_encoding_matches_keras(keras, rng, mode, shape):
    x = rng.integers(-1 if mode != "one_hot" else 0, 6, size=shape)
    ours = CategoryEncoding(num_tokens=6, output_mode=mode)(x)
    theirs = keras.layers.CategoryEncoding(num_tokens=6, output_mode=mode)(x)
    assert ours.dtype == torch.float32
    assert_close(ours, keras.ops.convert_to_numpy(theirs))


def test_category_encoding_docstring_examples():
    one_hot = CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1])
    assert_close(one_hot, [[0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    multi = CategoryEncoding(num_tokens=4, output_mode="multi_hot")([[0, 1], [0, 0], [1, 2], [3, 1]])
    assert_close(multi, [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    count = CategoryEncoding(num_tokens=4, output_mode="count")(
        [[0, 1], [0, 0], [1, 2], [3, 1]], count_weights=np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]]))
    assert_close(count, [[.1, .2, 0, 0], [.2, 0, 0, 0], [0, .2, .3, 0], [0, .2, 0, .4]])


def test_category_encoding_errors_are_clear():
    with pytest.raises(ValueError, match=r"num_tokens=3, so its inputs must lie in \[0, 2\].*received the value 3"):
        CategoryEncoding(num_tokens=3)([[0, 3]])
    with pytest.raises(ValueError, match="positive int"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode"):
        CategoryEncoding(num_tokens=3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="count_weights only with output_mode='count'"):
        CategoryEncoding(num_tokens=3, output_mode="multi_hot")([[0, 1]], count_weights=np.ones((1, 2)))


def test_discretization_docstring_examples():
    x = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])
    out = Discretization(bin_boundaries=[0., 1., 2.])(x)
    assert out.dtype == torch.int32
    np.testing.assert_array_equal(_np(out), [[0, 2, 3, 1], [1, 3, 2, 1]])
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(x)
    np.testing.assert_array_equal(_np(layer(x)), [[0, 2, 3, 2], [1, 3, 3, 1]])


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_with_boundaries_matches_keras(keras, rng, mode):
    x = rng.normal(size=(6, 3)).astype("float32")
    x[0, 0] = 0.5  # exactly on a boundary: it belongs to the bin on its right
    boundaries = [-1.0, 0.0, 0.5, 1.0]
    ours = Discretization(bin_boundaries=boundaries, output_mode=mode)(x)
    theirs = keras.layers.Discretization(bin_boundaries=boundaries, output_mode=mode)(x)
    assert_close(ours, keras.ops.convert_to_numpy(theirs))


@pytest.mark.parametrize("epsilon", [0.01, 0.1])
def test_discretization_adapt_matches_keras_quantiles(keras, rng, epsilon):
    """Keras's adapt needs TensorFlow to iterate; its quantile summary code is plain NumPy: run it."""
    from keras.src.layers.preprocessing import discretization as reference

    batches = [rng.gamma(2.0, size=(n, 2)).astype("float32") for n in (300, 57, 120)]
    summary = np.array([[], []], dtype="float32")
    for batch in batches:
        summary = reference.merge_summaries(reference.summarize(batch, epsilon), summary, epsilon)
    expected = reference.get_bin_boundaries(summary, 5)
    layer = Discretization(num_bins=5, epsilon=epsilon)
    layer.adapt(iter([(torch.as_tensor(b), torch.zeros(len(b))) for b in batches]))  # (x, y) batches
    assert_close(layer.bin_boundaries, expected)
    assert len(layer.bin_boundaries) == 4


def test_discretization_adapted_boundaries_survive_the_config():
    layer = Discretization(num_bins=3)
    layer.adapt(np.arange(30.0))
    config = layer.get_config()
    assert config["num_bins"] == 3 and config["bin_boundaries"] == layer.bin_boundaries
    clone = Discretization.from_config(config)
    x = np.linspace(-5, 35, 17)
    np.testing.assert_array_equal(_np(clone(x)), _np(layer(x)))


def test_discretization_errors_are_clear():
    with pytest.raises(ValueError, match="not both"):
        Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="neither"):
        Discretization()
    with pytest.raises(ValueError, match="adapt\\(\\) is for layers created with num_bins"):
        Discretization(bin_boundaries=[0.0]).adapt(np.ones(3))
    with pytest.raises(RuntimeError, match=r"no bin boundaries yet: call layer\.adapt"):
        Discretization(num_bins=2)(np.ones((2, 1)))


def test_adapting_a_built_discretization_updates_its_model(rng):
    layer = Discretization(num_bins=2)
    model = Sequential([Input(shape=(1,)), layer])
    model.build()
    layer.adapt(np.array([[1.0], [2.0], [3.0], [4.0]]))
    np.testing.assert_array_equal(_np(model(np.array([[0.0], [9.0]]))), [[0], [1]])


def test_category_encoding_and_discretization_train_in_a_model(rng):
    x = rng.normal(size=(64, 1)).astype("float32")
    y = (x > 0.3).astype("float32")
    model = Sequential([Input(shape=(1,)), Discretization(bin_boundaries=[-0.5, 0.3, 1.0]),
                        CategoryEncoding(num_tokens=4, output_mode="one_hot"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=40, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.count_params() == 5 and model.layers[0].get_weights() == []
