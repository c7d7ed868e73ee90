"""Parameters: get/set_params, clone, routing to build function, optimizer, loss, callbacks, fit, predict."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sklearn.base import clone

from nnkit.callbacks import Callback
from nnkit.layers import Dense, Dropout
from nnkit.models import Sequential
from nnkit.optimizers import SGD, Adam
from nnkit.wrappers import KerasClassifier, KerasRegressor
from tests.helpers import assert_close
from tests.wrappers.models import softmax_mlp, uncompiled_mlp


class EpochCounter(Callback):
    """Counts epochs; keeps its argument as an attribute, so it can be rebuilt with new ones."""

    def __init__(self, start: int = 0, label: str = "count") -> None:
        super().__init__()
        self.start, self.label, self.seen = start, label, start

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        logs[self.label] = self.seen  # History records the logs after this callback


def test_layer_arguments_are_searchable_parameters():
    hidden = [Dense(64, activation="relu"), Dropout(0.2)]
    clf = KerasClassifier(layers=hidden, optimizer="adam", epochs=20)
    params = clf.get_params()
    assert params["layers__0__units"] == 64 and params["layers__1__rate"] == 0.2
    assert "layers__0__units" not in clf.get_params(deep=False)
    clf.set_params(layers__0__units=32, layers__1__rate=0.5)
    assert clf.get_params()["layers__0__units"] == 32 and clf.layers[1].rate == 0.5
    assert hidden[0].units == 64 and hidden[1].rate == 0.2  # the user's specs are not modified
    with pytest.raises(TypeError, match="Did you mean 'units'"):
        clf.set_params(layers__0__unit=3)
    with pytest.raises(ValueError, match="Did you mean 'layers__0__units'"):
        clf.set_params(layer__0__units=3)
    with pytest.raises(ValueError, match="does not name a layer"):
        clf.set_params(layers__5__units=3)


def test_clone_reproduces_routed_and_build_function_parameters():
    clf = KerasClassifier(softmax_mlp, l2=0.01, model__units=4, optimizer__learning_rate=0.1, epochs=3)
    clf.set_params(learning_rate=0.05, callbacks__0__start=2)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert copy.get_params(deep=False)["l2"] == 0.01 and copy.get_params()["learning_rate"] == 0.05
    with pytest.raises(ValueError, match="Did you mean 'l2'"):
        clf.set_params(l3=0.1)
    with pytest.raises(ValueError, match="optimizer__learning_rate"):
        KerasClassifier(layers=[Dense(4)]).set_params(lr=0.1)


def test_build_function_receives_bare_and_routed_arguments_and_fit_settings(multiclass):
    x, y = multiclass
    received = {}

    def build(units=3, epochs=None, batch_size=None, meta=None):
        received.update(units=units, epochs=epochs, batch_size=batch_size, meta=meta)
        return uncompiled_mlp(units, meta)

    clf = KerasClassifier(build, units=5, epochs=2, random_state=0).fit(x, np.array(["a", "b", "c"])[y])
    assert received["units"] == 5 and received["epochs"] == 2 and received["batch_size"] is None
    assert received["meta"]["n_features_in_"] == 6 and list(received["meta"]["classes_"]) == ["a", "b", "c"]
    assert clf.model_.layers[0].units == 5
    assert clf.model_.optimizer.name == "rmsprop"  # compiled by the estimator, Keras's default optimizer
    assert clf.model_.loss.name == "sparse_categorical_crossentropy"
    KerasClassifier(build, model__units=7, units=5, epochs=1).fit(x, y)
    assert received["units"] == 7  # model__units wins over the bare name
    with pytest.raises(ValueError, match="has no argument 'unit'"):
        KerasClassifier(build, model__unit=7).fit(x, y)
    with pytest.raises(ValueError, match="Invalid parameter 'hidden'"):
        KerasClassifier(build, hidden=7).fit(x, y)


def test_optimizer_parameters_reach_the_compiled_optimizer(multiclass):
    x, y = multiclass
    routed = KerasClassifier(softmax_mlp, optimizer__learning_rate=0.123, epochs=1).fit(x, y)
    assert isinstance(routed.model_.optimizer, Adam) and routed.model_.optimizer.learning_rate == pytest.approx(0.123)
    replaced = KerasClassifier(softmax_mlp, optimizer=SGD(momentum=0.5), epochs=1).fit(x, y)
    assert isinstance(replaced.model_.optimizer, SGD) and replaced.model_.optimizer.momentum == 0.5
    assert replaced.model_.loss.name == "categorical_crossentropy"  # the rest of the compile is kept
    assert replaced.optimizer.torch_optimizer is None  # the parameter itself is never built or trained

    def takes_optimizer(optimizer="adam"):
        model = softmax_mlp()
        model.compile(optimizer=optimizer, loss="categorical_crossentropy")
        return model

    own = KerasClassifier(takes_optimizer, optimizer="sgd", optimizer__learning_rate=0.3, epochs=1).fit(x, y)
    assert isinstance(own.model_.optimizer, SGD) and own.model_.optimizer.learning_rate == pytest.approx(0.3)


def test_loss_parameters(multiclass):
    x, y = multiclass
    clf = KerasClassifier(layers=[Dense(8)], loss="categorical_crossentropy", loss__label_smoothing=0.1,
                          epochs=1).fit(x, y)
    assert clf.model_.loss.get_config()["label_smoothing"] == 0.1
    assert clf.model_.output_shape == (None, 3)


def test_callbacks_are_fresh_copies_built_from_routed_arguments(multiclass):
    x, y = multiclass
    instance = EpochCounter()
    clf = KerasClassifier(layers=[Dense(4)], callbacks=[instance], epochs=3, random_state=0).fit(x, y)
    assert clf.history_["count"] == [1, 2, 3] and instance.seen == 0 and instance.model is None
    clf.set_params(callbacks__0__start=10).fit(x, y)
    assert clf.history_["count"] == [11, 12, 13]
    by_class = KerasClassifier(layers=[Dense(4)], callbacks={"counter": EpochCounter}, callbacks__counter__label="n",
                               epochs=2).fit(x, y)
    assert by_class.history_["n"] == [1, 2]
    with pytest.raises(ValueError, match="does not name a callback"):
        KerasClassifier(layers=[Dense(4)], callbacks=[EpochCounter], callbacks__1__start=1).fit(x, y)
    with pytest.raises(TypeError, match="Callback instance or class"):
        KerasClassifier(layers=[Dense(4)], callbacks=["early_stopping"]).fit(x, y)


def test_fit_and_predict_settings_route(multiclass):
    x, y = multiclass
    names = np.array(["a", "b", "c"])[y]
    clf = KerasClassifier(layers=[Dense(4)], epochs=4, fit__validation_freq=2, predict__batch_size=7,
                          metrics=["accuracy"], random_state=0)
    clf.fit(x[:100], names[:100], validation_data=(x[100:], names[100:]))
    assert len(clf.history_["val_loss"]) == 2 and len(clf.history_["accuracy"]) == 4
    assert clf.fit(x, names, epochs=2).history_["loss"].__len__() == 2  # fit's own arguments win
    with pytest.raises(TypeError, match="Did you mean 'validation_split'"):
        clf.fit(x, names, validation_splits=0.1)
    with pytest.raises(ValueError, match="only predict__batch_size"):
        clf.set_params(predict__verbose=1).predict(x)


def test_conflicting_model_sources_are_refused(multiclass):
    x, y = multiclass
    with pytest.raises(ValueError, match="not both"):
        KerasClassifier(softmax_mlp, build_fn=softmax_mlp).fit(x, y)
    with pytest.raises(ValueError, match="cannot be combined"):
        KerasClassifier(softmax_mlp, layers=[Dense(3)]).fit(x, y)
    with pytest.raises(ValueError, match="not given as one"):
        KerasClassifier(layers=[Dense(3)], model__units=3).fit(x, y)


def test_random_state_is_deterministic_and_leaves_global_generators_alone(regression):
    x, y = regression
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    make = lambda seed: KerasRegressor(layers=[Dense(8), Dropout(0.3)], epochs=3, random_state=seed)  # noqa: E731
    first, second, other = make(0).fit(x, y), make(0).fit(x, y), make(1).fit(x, y)
    after = (torch.rand(3), np.random.rand(3), random.random())
    assert_close(after[0], expected[0], rtol=0, atol=0)
    assert_close(after[1], expected[1], rtol=0, atol=0)
    assert after[2] == expected[2]
    assert_close(first.predict(x), second.predict(x), rtol=0, atol=0)
    assert not np.allclose(first.predict(x), other.predict(x))


def test_quiet_by_default_and_progress_on_request(multiclass, capsys):
    x, y = multiclass
    KerasClassifier(layers=[Dense(4)], epochs=2).fit(x, y).predict(x)
    assert capsys.readouterr().out == ""
    KerasClassifier(layers=[Dense(4)], epochs=2, verbose=2).fit(x, y)
    assert "Epoch 2/2" in capsys.readouterr().out


def test_model_given_as_an_uncompiled_sequential(multiclass):
    x, y = multiclass
    model = Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    clf = KerasClassifier(model, optimizer="adam", optimizer__learning_rate=0.02, epochs=10, random_state=0).fit(x, y)
    assert not model.built and not model.compiled
    assert clf.model_.loss.name == "sparse_categorical_crossentropy" and clf.score(x, y) > 0.8
