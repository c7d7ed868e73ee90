"""ModelCheckpoint: keeps the best file by the monitored value, formats paths like Keras, saves a model that
can be rebuilt, and refuses bad arguments clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest

import nnkit
from nnkit.callbacks import ModelCheckpoint
from nnkit.callbacks.checkpointing import load_optimizer, load_weights, read_checkpoint
from tests.callbacks.helpers import Script, make_model


def _saved_weights(path, model):
    """The checkpoint's weights in Keras layout, read through a fresh copy of ``model``'s architecture."""
    clone = nnkit.Sequential.from_config(model.get_config())
    load_weights(clone, path)
    return clone.get_weights()


def test_save_best_only_keeps_the_weights_of_the_best_epoch(regression, tmp_path):
    x, y = regression
    path = tmp_path / "best.safetensors"
    script = Script("val_loss", [3.0, 2.0, 2.5, 1.5, 1.6, 1.7])
    model = make_model()
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=6, validation_split=0.25, callbacks=[script, checkpoint], verbose=0)
    assert checkpoint.best == 1.5
    for saved, best in zip(_saved_weights(path, model), script.weights[3]):
        np.testing.assert_array_equal(saved, best)


def test_max_mode_and_initial_value_threshold(regression, tmp_path):
    x, y = regression
    path = tmp_path / "ckpt-{epoch}.safetensors"
    script = Script("score", [0.5, 0.7, 0.6, 0.9, 0.8])
    checkpoint = ModelCheckpoint(path, monitor="score", mode="max", save_best_only=True,
                                 initial_value_threshold=0.65)
    make_model().fit(x, y, epochs=5, callbacks=[script, checkpoint], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-2.safetensors", "ckpt-4.safetensors"]


def test_filepath_is_formatted_with_the_epoch_and_logs_like_keras(regression, tmp_path):
    x, y = regression
    script = Script("val_loss", [0.123, 0.456, 0.789])
    pattern = str(tmp_path / "run" / "{epoch:02d}-{val_loss:.2f}.safetensors")
    make_model().fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[script, ModelCheckpoint(pattern)])
    assert sorted(os.listdir(tmp_path / "run")) == ["01-0.12.safetensors", "02-0.46.safetensors",
                                                     "03-0.79.safetensors"]


def test_full_checkpoint_rebuilds_the_model_with_its_optimizer(regression, tmp_path):
    x, y = regression
    path = tmp_path / "model.safetensors"
    model = make_model("adam")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    checkpoint = read_checkpoint(path)
    assert checkpoint["kind"] == "model" and checkpoint["config"] == model.get_config()
    assert checkpoint["optimizer"]["class_name"] == "Adam"
    rebuilt = nnkit.Sequential.from_config(checkpoint["config"])
    rebuilt.compile(optimizer=nnkit.optimizers.get({"class_name": "Adam",
                                                    "config": checkpoint["optimizer"]["config"]}), loss="mse")
    load_weights(rebuilt, checkpoint)
    load_optimizer(rebuilt, checkpoint)
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    assert rebuilt.optimizer.iterations == model.optimizer.iterations == 8
    # both continue identically: same weights, same Adam moments
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    rebuilt.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for ours, theirs in zip(rebuilt.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_weights_only_checkpoint_holds_no_optimizer(regression, tmp_path):
    x, y = regression
    path = tmp_path / "w.safetensors"
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss", save_weights_only=True)])
    checkpoint = read_checkpoint(path)
    assert checkpoint["kind"] == "weights" and set(checkpoint) == {"kind", "weights"}
    with pytest.raises(ValueError, match="holds weights only"):
        load_optimizer(model, checkpoint)


def test_save_freq_in_batches(regression, tmp_path):
    x, y = regression  # 64 rows, batch 16: 4 batches per epoch, 12 in 3 epochs
    pattern = str(tmp_path / "e{epoch}-b{batch}.safetensors")
    checkpoint = ModelCheckpoint(pattern, monitor="loss", save_freq=5, save_weights_only=True)
    make_model().fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[checkpoint])
    # saves after global batches 5 and 10: epoch 2 batch 1, epoch 3 batch 2
    assert sorted(os.listdir(tmp_path)) == ["e2-b1.safetensors", "e3-b2.safetensors"]


def test_epoch_saving_adds_no_batch_hook():
    from nnkit.callbacks import CallbackList

    assert not CallbackList([ModelCheckpoint("x.safetensors")]).train_batch_end
    assert CallbackList([ModelCheckpoint("x.safetensors", save_freq=3)]).train_batch_end


def test_loading_into_a_different_architecture_names_the_mismatch(regression, tmp_path):
    x, y = regression
    path = tmp_path / "w.safetensors"
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    other = make_model(units=3)
    with pytest.raises(ValueError, match=r"do not fit model.*different shapes.*0: dense.weight \(1, 4\) vs "
                                         r"dense_1.weight \(3, 4\)"):
        load_weights(other, path)


def test_weights_load_into_the_same_architecture_with_other_layer_names(regression, tmp_path):
    x, y = regression
    path = tmp_path / "w.safetensors"
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    twin = make_model()  # layers named dense_1, ...: matched by position
    load_weights(twin, path)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable nnkit state file"):
        read_checkpoint(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "best"}, r"`mode` to be one of 'auto', 'min', 'max'\. Received: mode='best'"),
        ({"save_freq": 0}, r"save_freq='epoch' or a positive int.*Received: save_freq=0"),
        ({"save_freq": -5}, r"save_freq=-5"),
        ({"save_freq": "batch"}, r"save_freq='batch'"),
        ({"filepath": ""}, r"expects a file path"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelCheckpoint(**{"filepath": "ckpt.safetensors", **kwargs})


def test_a_folder_that_cannot_be_created_fails_before_training(regression, tmp_path):
    x, y = regression
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    model = make_model()
    with pytest.raises(ValueError, match=r"Cannot create the folder .*a_file.* for filepath="):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(blocker / "sub" / "ckpt.safetensors")])
    assert model.optimizer.iterations == 0


def test_unknown_format_field_names_the_available_fields(regression, tmp_path):
    x, y = regression
    with pytest.raises(ValueError, match=r"cannot fill in filepath=.*'val_acc'.*Fields available: loss, epoch"):
        make_model().fit(x, y, epochs=1, verbose=0,
                         callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.safetensors"), monitor="loss")])


def test_existing_folder_as_filepath_is_refused(regression, tmp_path):
    x, y = regression
    with pytest.raises(ValueError, match="is an existing folder"):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path, monitor="loss")])
