"""fit / evaluate / predict read a PyDataset (keras.utils.PyDataset) as Keras 3 does."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import nnkit
from nnkit.errors import DataError
from nnkit.layers import Dense, Input
from nnkit.models import Sequential
from nnkit.utils import PyDataset, Sequence
from tests.helpers import assert_close


def batches_class(base):
    """The keras.utils.PyDataset docstring's example (arrays instead of image files) on either library's base."""

    class Batches(base):
        def __init__(self, x_set, y_set, batch_size, weights=None, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size, self.weights = x_set, y_set, batch_size, weights
            self.begun = self.ended = 0
            self.fetched = []

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):
            self.fetched.append(idx)
            low = idx * self.batch_size
            high = min(low + self.batch_size, len(self.x))
            if self.y is None:
                return (self.x[low:high],)
            if self.weights is not None:
                return self.x[low:high], self.y[low:high], self.weights[low:high]
            return self.x[low:high], self.y[low:high]

        def on_epoch_begin(self):
            self.begun += 1

        def on_epoch_end(self):
            self.ended += 1

    return Batches


Batches = batches_class(PyDataset)


def _pair(keras, compile_kwargs=None):
    k_model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(3, activation="softmax")])
    n_model = Sequential([Input(shape=(6,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    n_model.set_weights(k_model.get_weights())
    compile_kwargs = compile_kwargs or {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy",
                                        "metrics": ["accuracy"]}
    k_model.compile(**compile_kwargs)
    n_model.compile(**compile_kwargs)
    return n_model, k_model


@pytest.fixture
def data(rng):
    x = rng.random((50, 6)).astype("float32")
    y = rng.integers(3, size=50)
    return x[:40], y[:40], x[40:], y[40:]


def test_a_py_dataset_trains_like_keras_and_like_the_same_arrays(keras, data):
    x, y, x_val, y_val = data
    n_model, k_model = _pair(keras)
    arrays, _ = _pair(keras)
    arrays.set_weights(n_model.get_weights())
    kwargs = {"epochs": 3, "shuffle": False, "verbose": 0}
    ours = n_model.fit(Batches(x, y, 16), validation_data=Batches(x_val, y_val, 4), **kwargs).history
    theirs = k_model.fit(batches_class(keras.utils.PyDataset)(x, y, 16),
                         validation_data=batches_class(keras.utils.PyDataset)(x_val, y_val, 4), **kwargs).history
    plain = arrays.fit(x, y, batch_size=16, validation_data=(x_val, y_val), **kwargs).history
    assert list(ours) == list(theirs) == list(plain)
    for key in theirs:
        assert_close(ours[key], theirs[key], rtol=2e-4, atol=1e-5)
        assert_close(ours[key], plain[key], rtol=1e-6, atol=1e-7)
    for a, b in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(a, b, rtol=1e-3, atol=2e-5)
    assert_close(n_model.evaluate(Batches(x_val, y_val, 3), verbose=0),
                 k_model.evaluate(batches_class(keras.utils.PyDataset)(x_val, y_val, 3), verbose=0), rtol=1e-5)
    assert_close(n_model.predict(Batches(x_val, None, 4), verbose=0),
                 k_model.predict(batches_class(keras.utils.PyDataset)(x_val, None, 4), verbose=0), rtol=1e-5)


def test_epoch_hooks_run_once_around_every_pass(data):
    # Keras calls them once per epoch too, plus extra calls from its own peeks and resets (e.g. 4 for
    # fit(epochs=3)); nnkit calls them exactly around each pass over the batches.
    x, y, x_val, y_val = data
    model = _model()
    events = []

    class Logged(Batches):
        def __init__(self, tag, *args):
            super().__init__(*args)
            self.tag = tag

        def __getitem__(self, idx):
            events.append(f"{self.tag}{idx}")
            return super().__getitem__(idx)

        def on_epoch_begin(self):
            events.append(f"{self.tag}-begin")

        def on_epoch_end(self):
            events.append(f"{self.tag}-end")

    class Epochs(nnkit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch{epoch}")

    train, val = Logged("t", x, y, 20), Logged("v", x_val, y_val, 10)
    model.fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0, validation_freq=2, callbacks=[Epochs()])
    assert events == ["t0", "v0",  # read once to build and check the model: no hooks
                      "t-begin", "t0", "t1", "t-end", "epoch0",
                      "t-begin", "t0", "t1", "t-end", "v-begin", "v0", "v-end", "epoch1"]
    events.clear()
    model.evaluate(val, verbose=0)
    model.predict(train, verbose=0)
    assert events == ["v0", "v-begin", "v0", "v-end", "t0", "t-begin", "t0", "t1", "t-end"]


def test_the_dataset_is_reshuffled_by_batch_each_epoch_when_fit_shuffles(data):
    x, y, _, _ = data
    model = _model()
    train = Batches(x, y, 5)  # 8 batches
    model.fit(train, epochs=2, verbose=0)  # shuffle=True by default, as in Keras
    first, second = train.fetched[1:9], train.fetched[9:]  # fetched[0]: the first batch, read to build the model
    assert sorted(first) == sorted(second) == list(range(8))
    nnkit.utils.set_random_seed(3)
    random.seed(3)
    expected = list(range(8))
    random.shuffle(expected)
    nnkit.utils.set_random_seed(3)
    again = Batches(x, y, 5)
    model.fit(again, epochs=1, verbose=0)
    assert again.fetched[1:] == expected


def _model():
    model = Sequential([Input(shape=(6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("options", [{"workers": 3, "max_queue_size": 2}, {"workers": 2, "use_multiprocessing": True}])
def test_parallel_workers_give_the_same_training_as_one(data, options):
    x, y, _, _ = data
    model = _model()
    start = model.get_weights()
    alone = model.fit(Batches(x, y, 8), epochs=2, shuffle=False, verbose=0).history
    model.set_weights(start)
    parallel = Batches(x, y, 8, **options)
    together = model.fit(parallel, epochs=2, shuffle=False, verbose=0).history
    assert_close(together["loss"], alone["loss"], rtol=1e-6)
    assert parallel.ended == 2


def test_sample_weights_and_class_weights_weigh_batches_like_arrays(data):
    x, y, _, _ = data
    weights = np.linspace(0.5, 2.0, len(x)).astype("float32")
    model = _model()
    start = model.get_weights()
    kwargs = {"epochs": 2, "shuffle": False, "verbose": 0}
    ours = model.fit(Batches(x, y, 10, weights), **kwargs).history
    model.set_weights(start)
    plain = model.fit(x, y, sample_weight=weights, batch_size=10, **kwargs).history
    assert_close(ours["loss"], plain["loss"], rtol=1e-6)

    model.set_weights(start)
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0}
    ours = model.fit(Batches(x, y, 10), class_weight=class_weight, **kwargs).history
    model.set_weights(start)
    plain = model.fit(x, y, class_weight=class_weight, batch_size=10, **kwargs).history
    assert_close(ours["loss"], plain["loss"], rtol=1e-6)
    with pytest.raises(DataError, match="class_weight` and `sample_weight` at the same time"):
        model.fit(Batches(x, y, 10, weights), class_weight=class_weight, verbose=0)


def test_targets_weights_or_validation_split_beside_a_py_dataset_are_refused_like_keras(keras, data):
    x, y, _, _ = data
    n_model, k_model = _pair(keras)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        k_model.fit(batches_class(keras.utils.PyDataset)(x, y, 8), y, verbose=0)
    with pytest.raises(DataError, match=r"PyDataset, `y` should not be passed.*Batches.__getitem__"):
        n_model.fit(Batches(x, y, 8), y, verbose=0)
    with pytest.raises(DataError, match="`sample_weight` should not be passed"):
        n_model.evaluate(Batches(x, y, 8), sample_weight=np.ones(len(x)), verbose=0)
    with pytest.raises(DataError, match="validation_split` is only supported for tensors or NumPy arrays"):
        n_model.fit(Batches(x, y, 8), validation_split=0.2, verbose=0)


def test_batch_size_is_ignored_for_a_py_dataset_as_in_keras(keras, data):
    x, y, _, _ = data
    n_model, k_model = _pair(keras)
    ours = n_model.evaluate(Batches(x, y, 8), batch_size=3, verbose=0)
    theirs = k_model.evaluate(batches_class(keras.utils.PyDataset)(x, y, 8), batch_size=3, verbose=0)
    assert_close(ours, theirs, rtol=1e-5)
    assert_close(ours, n_model.evaluate(x, y, batch_size=8, verbose=0), rtol=1e-6)


def test_bad_batches_and_missing_methods_fail_clearly(data):
    x = data[0]
    model = _model()

    class Dicts(PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return {"x": x[:4]}

    with pytest.raises(DataError, match=r"must return a batch \(x,\), \(x, y\).*Received a dict"):
        model.fit(Dicts(), verbose=0)

    class NoLength(PyDataset):
        pass

    with pytest.raises(NotImplementedError, match="NoLength must implement __len__"):
        NoLength().num_batches  # noqa: B018


def test_an_endless_dataset_continues_across_epochs_with_steps_per_epoch(data):
    x, y, _, _ = data

    class Endless(PyDataset):
        def __init__(self):
            super().__init__()
            self.fetched = []

        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            self.fetched.append(index)
            window = slice(index % 5 * 8, index % 5 * 8 + 8)
            return x[window], y[window]

    model = _model()
    endless = Endless()
    model.fit(endless, epochs=2, steps_per_epoch=3, verbose=0)
    assert endless.fetched == [0, 0, 1, 2, 3, 4, 5]  # the first batch is read once to build the model


def test_sequence_is_the_legacy_name_and_super_init_is_checked_like_keras():
    assert Sequence is PyDataset

    class Forgetful(PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

    dataset = Forgetful()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert dataset.workers == 1
    assert dataset.num_batches == 1 and "Forgetful(num_batches=1" in repr(dataset)


def test_custom_train_step_models_read_a_py_dataset(data):
    x, y, x_val, y_val = data

    class Counting(nnkit.Model):
        def train_step(self, batch):
            inputs, targets = batch
            self.seen = getattr(self, "seen", 0) + len(inputs)
            return {"loss": torch.tensor(float(targets.shape[0]))}

        def test_step(self, batch):
            return {"loss": torch.tensor(float(len(batch[0])))}

    inputs = Input(shape=(6,))
    model = Counting(inputs, Dense(3)(inputs))
    model.compile(optimizer="sgd")
    history = model.fit(Batches(x, y, 16), validation_data=Batches(x_val, y_val, 4), epochs=2,
                        shuffle=False, verbose=0)
    assert model.seen == 2 * len(x)
    assert history.history["loss"] == [8.0, 8.0] and history.history["val_loss"] == [2.0, 2.0]
