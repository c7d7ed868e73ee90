"""Sequential: structure, building, training behaviour, config and the plain torch module inside."""

from __future__ import annotations

import io
import math
import runpy
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import nnkit
from nnkit.callbacks import Callback
from nnkit.errors import NotReadyError
from nnkit.layers import Activation, Dense, Dropout, Flatten, Input, Reshape
from nnkit.models import Sequential
from tests.helpers import assert_close

ROOT = Path(__file__).resolve().parents[2]


def _classifier(**dense_kwargs) -> Sequential:
    return Sequential([Dense(16, activation="relu", input_dim=4, **dense_kwargs), Dense(3, activation="softmax")])


def _blobs(rng, n=300):
    """Three well-separated Gaussian blobs in 4-D: an easy, learnable problem."""
    labels = rng.integers(3, size=n)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=float)
    return centers[labels] + 0.3 * rng.standard_normal((n, 4)), labels


def test_seed_program_runs_with_only_imports_changed():
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_path(str(ROOT / "examples" / "seed_program.py"), run_name="__main__")
    text = out.getvalue()
    assert text.count("Epoch 10/10") == 2
    assert "accuracy:" in text and "loss:" in text


def test_add_pop_and_layers_exclude_input():
    model = Sequential(name="m")
    model.add(Input(shape=(4,)))
    model.add(Dense(8))
    model.add(Dense(2))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    popped = model.pop()
    assert popped.units == 2 and len(model.layers) == 1
    assert model.output_shape == (None, 8)
    assert isinstance(model.module, nn.Sequential) and list(dict(model.module.named_children())) == ["dense"]


def test_input_shape_from_input_input_dim_input_shape_or_data(rng):
    assert Sequential([Input(shape=(5,)), Dense(2)]).input_shape == (None, 5)
    assert Sequential([Dense(2, input_dim=5)]).input_shape == (None, 5)
    assert Sequential([Dense(2, input_shape=(5,))]).input_shape == (None, 5)
    lazy = Sequential([Dense(3), Dense(1)])
    assert not lazy.built
    with pytest.raises(NotReadyError, match="input_shape"):
        lazy.module  # noqa: B018
    lazy.compile(optimizer="sgd", loss="mse")
    lazy.fit(rng.random((10, 7)), rng.random(10), verbose=0)
    assert lazy.input_shape == (None, 7) and lazy.output_shape == (None, 1)
    explicit = Sequential([Dense(3)])
    explicit.build((None, 6))
    assert explicit.count_params() == 6 * 3 + 3


def test_default_initializers_are_glorot_uniform_kernel_and_zero_bias():
    model = Sequential([Dense(300, input_dim=200)])
    kernel, bias = model.get_weights()
    limit = math.sqrt(6 / (200 + 300))
    assert kernel.shape == (200, 300)
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit  # really uses the whole range
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.01 * limit
    assert np.all(bias == 0)


def test_training_lowers_the_loss_and_learns(rng):
    x, labels = _blobs(rng)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels, epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["accuracy"][-1] > 0.95
    assert (model.predict(x, verbose=0).argmax(1) == labels).mean() > 0.95


def test_two_seeded_fits_give_bit_identical_weights(rng):
    x, labels = _blobs(rng)
    results = []
    for _ in range(2):
        nnkit.utils.set_random_seed(7)
        model = Sequential([Dense(16, activation="relu", input_dim=4), Dropout(0.3), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=2, batch_size=32, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_epoch_loss_is_batch_size_weighted_mean_of_batch_losses(rng):
    """Keras logs the mean over samples: batches weighted by their size (last batch smaller)."""
    x, y = rng.random((10, 4)), rng.random((10, 1))
    model = Sequential([Dense(1, input_dim=4)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    logged = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    pred = model.predict(x, verbose=0)
    batch_losses = [np.mean((pred[i:i + 4] - y[i:i + 4]) ** 2) for i in (0, 4, 8)]
    assert_close(logged, (4 * batch_losses[0] + 4 * batch_losses[1] + 2 * batch_losses[2]) / 10, rtol=1e-5)
    assert_close(model.evaluate(x, y, verbose=0), np.mean((pred - y) ** 2), rtol=1e-5)


def test_saturated_softmax_output_trains_without_nan_or_inf():
    model = Sequential([Dense(2, activation="softmax", input_dim=1, kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.array([[2000.0], [-2000.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])  # the output is saturated on the wrong class
    model.set_weights([np.array([[1000.0, -1000.0]]), np.zeros(2)])
    loss = model.evaluate(x, y, verbose=0)
    assert math.isfinite(loss) and loss > 1e5  # the exact cross-entropy, not a clipped 16.1
    model.fit(x, y, epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_binary_sigmoid_output_uses_stable_logits_path():
    model = Sequential([Dense(1, activation="sigmoid", input_dim=1)])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.set_weights([np.array([[500.0]]), np.zeros(1)])
    loss = model.evaluate(np.array([[1.0], [-1.0]]), np.array([0.0, 1.0]), verbose=0)
    assert_close(loss, 500.0, rtol=1e-5)


def test_recompile_keeps_weights_and_changes_loss(rng):
    x = rng.random((64, 4))
    y = nnkit.utils.to_categorical(rng.integers(3, size=64), 3)
    model = _classifier()
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    before = model.get_weights()
    model.compile(loss="mean_squared_error", optimizer="adam", metrics=["accuracy"])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(model.evaluate(x, y, verbose=0)[0], np.mean((model.predict(x, verbose=0) - y) ** 2), rtol=1e-5)
    assert isinstance(model.optimizer, nnkit.optimizers.Adam)


def test_loss_weights_scale_the_loss(rng):
    x, y = rng.random((32, 4)), rng.random((32, 1))
    model = Sequential([Dense(1, input_dim=4)])
    model.compile(optimizer="sgd", loss="mse")
    plain = model.evaluate(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="mse", loss_weights=2.5)
    assert_close(model.evaluate(x, y, verbose=0), 2.5 * plain, rtol=1e-6)


def test_module_is_plain_torch_and_matches_predict(rng):
    model = Sequential([Input(shape=(2, 3)), Flatten(), Dense(4, activation="tanh"), Reshape((2, 2)),
                        Activation("softmax")])
    x = rng.random((5, 2, 3)).astype("float32")
    module = model.module
    assert type(module) is nn.Sequential
    with torch.no_grad():
        by_hand = module(torch.from_numpy(x)).numpy()
    assert_close(model.predict(x, verbose=0), by_hand)
    assert model.output_shape == (None, 2, 2)
    assert_close(by_hand.sum(-1), np.ones((5, 2)), rtol=1e-5)
    # the module trains in a hand-written loop too
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    loss = module(torch.from_numpy(x)).square().sum()
    loss.backward()
    optimizer.step()


def test_train_test_predict_on_batch(rng):
    x, labels = _blobs(rng, n=64)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, labels)
    model.train_on_batch(x, labels)
    assert model.optimizer.iterations == 1
    after = model.test_on_batch(x, labels, return_dict=True)
    assert set(after) == {"loss", "accuracy"} and after["loss"] < before[0]
    assert model.predict_on_batch(x).shape == (64, 3)


def test_config_round_trip_rebuilds_same_architecture(rng):
    model = Sequential([Input(shape=(4,)), Dense(8, activation="relu", kernel_regularizer="l2"), Dropout(0.5),
                        Dense(3, activation="softmax", use_bias=False)], name="net")
    clone = Sequential.from_config(model.get_config())
    assert clone.name == "net"
    assert [layer.get_config() for layer in clone.layers] == [layer.get_config() for layer in model.layers]
    clone.set_weights(model.get_weights())
    x = rng.random((6, 4))
    assert_close(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_frozen_layer_is_not_trained(rng):
    model = _classifier()
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    frozen = model.layers[0].get_weights()
    x, labels = _blobs(rng, n=32)
    model.fit(x, labels, epochs=1, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_summary_lists_layers_shapes_and_counts():
    model = Sequential([Dense(64, activation="relu", input_dim=20), Dense(10, activation="softmax")])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "sequential"' in text
    assert "dense (Dense)" in text and "(None, 64)" in text and "1,344" in text and "650" in text
    assert "Total params: 1,994" in text and "Non-trainable params: 0" in text


class _Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events: list[str] = []

    def on_train_begin(self, logs=None): self.events.append("train_begin")
    def on_epoch_begin(self, epoch, logs=None): self.events.append(f"epoch_begin {epoch}")
    def on_train_batch_end(self, batch, logs=None): self.events.append(f"batch_end {batch} {sorted(logs)}")
    def on_test_begin(self, logs=None): self.events.append("test_begin")
    def on_epoch_end(self, epoch, logs=None): self.events.append(f"epoch_end {epoch} {sorted(logs)}")
    def on_train_end(self, logs=None): self.events.append("train_end")


def test_callback_hooks_order_params_and_logs(rng):
    x, labels = _blobs(rng, n=40)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = _Recorder()
    model.fit(x, labels, epochs=2, batch_size=16, validation_split=0.2, callbacks=[recorder], verbose=0)
    assert recorder.model is model and recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert recorder.events == [
        "train_begin", "epoch_begin 0", "batch_end 0 ['accuracy', 'loss']", "batch_end 1 ['accuracy', 'loss']",
        "test_begin", "epoch_end 0 ['accuracy', 'loss', 'val_accuracy', 'val_loss']",
        "epoch_begin 1", "batch_end 0 ['accuracy', 'loss']", "batch_end 1 ['accuracy', 'loss']",
        "test_begin", "epoch_end 1 ['accuracy', 'loss', 'val_accuracy', 'val_loss']", "train_end",
    ]


def test_stop_training_from_a_callback_stops_after_the_batch(rng):
    class StopAtThird(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    x, labels = _blobs(rng, n=100)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, labels, epochs=5, batch_size=10, callbacks=[StopAtThird()], verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 3


def test_verbose_modes_print_keras_style_progress(rng, capsys):
    x, labels = _blobs(rng, n=40)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "2/2 - " in out and "loss: " in out
    model.fit(x, labels, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out
    model.fit(x, labels, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_list_expands_per_class_metrics(rng):
    x, labels = _blobs(rng, n=60)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", nnkit.metrics.Precision(average=None)])
    logs = model.evaluate(x, labels, verbose=0, return_dict=True)
    values = model.evaluate(x, labels, verbose=0)
    assert values == [logs["loss"], logs["accuracy"], logs["precision_0"], logs["precision_1"], logs["precision_2"]]
    assert len(model.test_on_batch(x, labels)) == 5


def test_model_with_activity_regularizer_pickles_and_copies_cleanly(rng):
    import copy
    import pickle

    x, y = rng.random((20, 4)), rng.random((20, 1))
    model = Sequential([Dense(3, activation="relu", input_dim=4, activity_regularizer="l2"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert_close(twin.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
        hooks = sorted(type(hook).__name__ for hook in twin.layers[0].module._forward_hooks.values())
        assert hooks == ["ActivityPenalty", "ActivityRecorder"]  # the copied hooks were replaced, not doubled


def test_fully_frozen_model_evaluates_and_refuses_fit_clearly(rng):
    x, labels = _blobs(rng, n=20)
    model = _classifier()
    model.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.evaluate(x, labels, verbose=0))
    with pytest.raises(ValueError, match="no trainable weights"):
        model.fit(x, labels, verbose=0)


def test_get_weights_returns_copies_like_keras(rng):
    x, labels = _blobs(rng, n=32)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    snapshot = [w.copy() for w in before]
    model.fit(x, labels, epochs=1, verbose=0)
    for kept, original in zip(before, snapshot):
        np.testing.assert_array_equal(kept, original)


def test_optimizer_state_survives_a_rebuilt_training_loop(rng):
    x, labels = _blobs(rng, n=64)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, batch_size=16, verbose=0)
    torch_optimizer = model.optimizer.torch_optimizer
    model.trainable = True  # drops the cached loop, keeps the same weights
    model.fit(x, labels, epochs=1, batch_size=16, verbose=0)
    assert model.optimizer.torch_optimizer is torch_optimizer
    steps = [state["step"] for state in torch_optimizer.state.values()]
    assert all(int(step) == 8 for step in steps) and steps


def test_to_carries_the_optimizer_state_over_to_the_moved_weights():
    """On devices where moving makes new parameter objects (``meta`` here; a GPU keeps them), the running
    optimizer follows them with its moments, step count and learning rate, and predict forgets its path."""
    model = Sequential([Dense(4, activation="relu", input_dim=3), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.optimizer.learning_rate = 0.005
    model.predict(x, verbose=0)
    steps = {k: v.clone() for k, v in model.optimizer.torch_optimizer.state_dict()["state"][0].items()}
    model.to("meta")
    running = model.optimizer.torch_optimizer
    assert [id(p) for group in running.param_groups for p in group["params"]] == list(map(id, model.module.parameters()))
    first = running.state[next(iter(model.module.parameters()))]
    assert first["exp_avg"].device.type == "meta" and first["exp_avg"].shape == steps["exp_avg"].shape
    assert float(first["step"]) == float(steps["step"]) == 4
    assert model.optimizer.learning_rate == 0.005 and model.optimizer.iterations == 4
    assert model._predict_cache is None
