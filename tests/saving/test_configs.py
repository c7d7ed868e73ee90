"""Every registered object (optimizer, loss, metric, regularizer, initializer, constraint, schedule,
callback) survives get_config -> JSON -> from_config, and user code loads only when named explicitly."""

import json

import numpy as np
import pytest
import torch

import nnkit
from nnkit import callbacks, constraints, initializers, losses, metrics, optimizers, regularizers
from nnkit.callbacks import CALLBACKS
from nnkit.constraints import CONSTRAINTS
from nnkit.errors import ConfigError
from nnkit.initializers import INITIALIZERS
from nnkit.layers import Dense, Lambda
from nnkit.losses import LOSSES
from nnkit.metrics.base import METRICS
from nnkit.models import Sequential, load_model, model_from_json
from nnkit.optimizers.base import OPTIMIZERS
from nnkit.optimizers.schedules import SCHEDULES
from nnkit.regularizers import REGULARIZERS
from nnkit.saving import custom_object_scope, deserialize, register_serializable, serialize

# Arguments for the objects that have required ones (and non-defaults worth checking).
ARGUMENTS = {
    "backup_and_restore": {"backup_dir": "backup"}, "csv_logger": {"filename": "log.csv", "separator": ";"},
    "model_checkpoint": {"filepath": "best.keras", "save_best_only": True},
    "learning_rate_scheduler": {"schedule": "__registered__"}, "early_stopping": {"patience": 3, "mode": "max"},
    "ExponentialDecay": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    "PiecewiseConstantDecay": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]},
    "PolynomialDecay": {"initial_learning_rate": 0.1, "decay_steps": 10}, "CosineDecay": {"initial_learning_rate": 0.1,
    "decay_steps": 10, "warmup_target": 0.2, "warmup_steps": 5}, "InverseTimeDecay": {"initial_learning_rate": 0.1,
    "decay_steps": 10, "decay_rate": 0.5}, "CosineDecayRestarts": {"initial_learning_rate": 0.1, "first_decay_steps": 5},
    "io_u": {"num_classes": 3, "target_class_ids": [0, 2]}, "mean_io_u": {"num_classes": 3},
    "one_hot_io_u": {"num_classes": 3, "target_class_ids": [1]}, "one_hot_mean_io_u": {"num_classes": 3},
    "precision_at_recall": {"recall": 0.5}, "recall_at_precision": {"precision": 0.8},
    "sensitivity_at_specificity": {"specificity": 0.5}, "specificity_at_sensitivity": {"sensitivity": 0.5},
}


@register_serializable(package="tests")
def halve_every_epoch(epoch, learning_rate):
    return learning_rate / 2


def _json_round_trip(obj):
    return deserialize(json.loads(json.dumps(serialize(obj))))


def _cases():
    for registry, get in ((OPTIMIZERS, optimizers.get), (LOSSES, losses.get), (METRICS, metrics.get),
                          (REGULARIZERS, regularizers.get), (INITIALIZERS, initializers.get),
                          (CONSTRAINTS, constraints.get), (CALLBACKS, callbacks.get)):
        for name in registry.names():
            yield pytest.param(registry, get, name, id=f"{registry.kind}-{name}")


@pytest.mark.parametrize(("registry", "get", "name"), list(_cases()))
def test_every_registered_object_round_trips_through_json(registry, get, name):
    if name == "tensorboard":
        pytest.importorskip("tensorboard")
    arguments = dict(ARGUMENTS.get(name, {}))
    if arguments.get("schedule") == "__registered__":
        arguments["schedule"] = halve_every_epoch
    if registry is CALLBACKS:
        obj = get({"type": name, **arguments})
    else:  # objects that need arguments (IoU's num_classes, ...) are made with them
        obj = registry.get(name)(**arguments) if arguments else get(name)
    back = get(_json_round_trip(obj))
    assert type(back) is type(obj)
    assert back.get_config() == obj.get_config()
    for key, value in arguments.items():
        assert back.get_config()[key] == value


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_round_trips_inside_an_optimizer(name):
    schedule = SCHEDULES.get(name)(**ARGUMENTS[name])
    optimizer = optimizers.Adam(learning_rate=schedule)
    back = optimizers.get(_json_round_trip(optimizer))
    assert type(back.schedule) is type(schedule) and back.schedule.get_config() == schedule.get_config()
    steps = torch.arange(0, 30)
    assert [back.schedule(s) for s in steps] == pytest.approx([schedule(s) for s in steps])


def test_callback_names_are_forgiving_and_typos_get_a_suggestion():
    assert type(callbacks.get("EarlyStopping")) is type(callbacks.get("early_stopping")) is callbacks.EarlyStopping
    with pytest.raises(ConfigError, match="Did you mean 'early_stopping'"):
        callbacks.get("early_stoping")
    with pytest.raises(ConfigError, match="patiense"):
        callbacks.get({"type": "EarlyStopping", "patiense": 3})


def test_functions_are_stored_by_name_and_found_through_custom_objects():
    def triple(x):
        return 3 * x

    entry = serialize(triple)
    assert entry == {"class_name": "__function__", "config": "triple"}
    with pytest.raises(ConfigError, match=r"custom_objects=\{'triple'"):
        deserialize(entry)
    with custom_object_scope({"triple": triple}):
        assert deserialize(entry) is triple
    assert deserialize(serialize(torch.tanh)) is torch.tanh
    assert serialize(nnkit.activations.get("relu")) == "relu"


def test_a_lambda_layer_is_refused_in_safe_mode_and_runs_only_when_allowed(tmp_path):
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(6, 2)
    model = Sequential([Dense(3, input_dim=2), Lambda(lambda t: t * t + 1)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ConfigError, match="safe_mode=False"):
        load_model(path)
    with pytest.raises(ConfigError, match="safe_mode=False"):
        model_from_json(model.to_json())
    loaded = load_model(path, safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_registered_function_in_a_lambda_loads_in_safe_mode(tmp_path):
    @register_serializable(package="tests")
    def shifted_square(t):
        return t * t - 1

    x = np.linspace(-1, 1, 12, dtype="float32").reshape(6, 2)
    model = Sequential([Dense(3, input_dim=2), Lambda(shifted_square)])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.layers[1].function is shifted_square
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_checkpoint_files_are_model_files(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 2, 40)
    model = Sequential([Dense(5, activation="relu", input_dim=4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "precision"])
    path = tmp_path / "best.keras"
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(path, monitor="loss")])
    loaded = load_model(path)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert loaded.metrics_names == model.metrics_names
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_a_named_function_is_stored_by_name_never_as_bytecode(tmp_path):
    def doubled_mse(y_true, y_pred):
        return 2 * ((y_true - y_pred) ** 2).mean(dim=-1)

    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model = Sequential([Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss=doubled_mse)
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    assert '"__lambda__"' not in model.to_json() and "bytecode" not in (tmp_path / "m.keras").read_bytes().decode(
        "latin-1")
    with pytest.raises(ConfigError, match=r"custom_objects=\{'doubled_mse'"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"doubled_mse": doubled_mse})
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert load_model(tmp_path / "m.keras", compile=False).predict(x, verbose=0).shape == (8, 1)


def test_model_from_json_runs_a_lambda_only_with_safe_mode_off():
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(4, 2)
    model = Sequential([Dense(2, input_dim=2), Lambda(lambda t: t * 3)])
    rebuilt = model_from_json(model.to_json(), safe_mode=False)
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))


def test_an_unregistered_custom_layer_names_the_two_ways_to_find_it(tmp_path):
    class Scaled(Dense):
        pass

    model = Sequential([Scaled(2, input_dim=3)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match=r"unknown layer class 'Scaled'.*custom_objects=\{'Scaled'.*register_serial"):
        load_model(tmp_path / "m.keras")
    assert isinstance(load_model(tmp_path / "m.keras", custom_objects={"Scaled": Scaled}).layers[0], Scaled)


def test_weights_files_name_their_tensors_like_torch(tmp_path):
    from safetensors import safe_open

    model = Sequential([Dense(3, input_dim=2), Dense(1)])
    model.save_weights(tmp_path / "w.safetensors")
    with safe_open(tmp_path / "w.safetensors", "pt") as f:
        assert sorted(f.keys()) == sorted(f"weights/{k}" for k in model.module.state_dict())
        for key, tensor in model.module.state_dict().items():
            assert torch.equal(f.get_tensor(f"weights/{key}"), tensor.cpu())


def test_text_files_are_named_as_such(tmp_path):
    path = tmp_path / "config.keras"
    path.write_text('{"class_name": "Sequential"}')
    with pytest.raises(ValueError, match="is a text file"):
        load_model(path)
