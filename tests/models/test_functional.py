"""The functional API: the same program runs under ``import keras`` and ``import nnkit as keras`` and gives
the same numbers on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit import layers
from nnkit.errors import ConfigError, NotReadyError
from nnkit.models import Model, Sequential, clone_model, load_model, model_from_json
from tests.helpers import assert_close


def two_inputs(keras):
    a = keras.Input(shape=(8,), name="a")
    b = keras.Input(shape=(4,), name="b")
    joined = keras.layers.concatenate([keras.layers.Dense(6, activation="relu", name="da")(a), b], name="join")
    hidden = keras.layers.Dense(5, activation="tanh", name="hidden")(joined)
    return keras.Model([a, b], keras.layers.Dense(3, activation="softmax", name="out")(hidden), name="two_inputs")


def residual(keras):
    inputs = keras.Input(shape=(6,), name="x")
    hidden = keras.layers.Dense(6, activation="relu", name="d1")(inputs)
    skip = keras.layers.add([inputs, keras.layers.Dense(6, name="d2")(hidden)], name="skip")
    scaled = keras.layers.multiply([skip, keras.layers.Dense(6, activation="sigmoid", name="gate")(inputs)], name="mul")
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(scaled))


def siamese(keras):
    encoder = keras.layers.Dense(4, activation="tanh", name="encoder")  # one layer, called twice
    left, right = keras.Input(shape=(5,), name="left"), keras.Input(shape=(5,), name="right")
    similarity = keras.layers.Dot(axes=1, normalize=True, name="cosine")([encoder(left), encoder(right)])
    diff = keras.layers.subtract([encoder(left), encoder(right)], name="diff")
    merged = keras.layers.concatenate([similarity, keras.layers.maximum([diff, keras.layers.minimum([diff, diff])])])
    return keras.Model([left, right], keras.layers.Dense(1, activation="sigmoid", name="out")(merged))


def nested(keras):
    block = keras.Sequential([keras.layers.Dense(4, activation="relu", name="s1"), keras.layers.Dense(3, name="s2")],
                             name="block")
    inputs = keras.Input(shape=(6,), name="x")
    hidden = block(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.average([hidden, hidden])))


def convnet(keras):
    image = keras.Input(shape=(8, 8, 3), name="image")
    first = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(image)
    second = keras.layers.Conv2D(4, 3, padding="same", name="c2")(first)
    pooled = keras.layers.MaxPooling2D(name="pool")(keras.layers.add([first, second], name="res"))
    features = keras.layers.concatenate([keras.layers.Flatten(name="flat")(pooled),
                                         keras.layers.GlobalAveragePooling2D(name="gap")(first)])
    return keras.Model(image, keras.layers.Dense(2, name="out")(features))


def attention_block(keras):
    tokens = keras.Input(shape=(5, 4), name="tokens")
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(tokens, tokens)
    normed = keras.layers.LayerNormalization(name="norm")(keras.layers.add([tokens, attended]))
    mixed = keras.layers.Attention(name="att")([normed, tokens])
    projected = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d", name="ein")(mixed)
    return keras.Model(tokens, keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling1D()(projected)))


GRAPHS = {"two_inputs": two_inputs, "residual": residual, "siamese": siamese, "nested": nested, "convnet": convnet,
          "attention": attention_block}


def _copy_weights(k_model, n_model):
    n_model.set_weights(k_model.get_weights())


def _inputs(model, rng):
    return [rng.normal(size=(7, *t.shape[1:])).astype("float32") for t in model.inputs]


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_matches_keras_on_the_same_weights(keras, rng, name):
    k_model, n_model = GRAPHS[name](keras), GRAPHS[name](nnkit)
    assert n_model.count_params() == k_model.count_params()
    _copy_weights(k_model, n_model)
    x = _inputs(k_model, rng)
    feed = x if len(x) > 1 else x[0]
    expected = keras.ops.convert_to_numpy(k_model(feed))
    assert_close(n_model(feed).detach(), expected, rtol=1e-5, atol=1e-6)
    assert_close(n_model.predict(feed, verbose=0), k_model.predict(feed, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["two_inputs", "residual", "siamese", "nested", "attention"])
def test_graph_trains_like_keras(keras, rng, name):
    k_model, n_model = GRAPHS[name](keras), GRAPHS[name](nnkit)
    _copy_weights(k_model, n_model)
    x = _inputs(k_model, rng)
    feed = x if len(x) > 1 else x[0]
    units = k_model.output_shape[-1]
    y = rng.normal(size=(7, units)).astype("float32") if units != 3 else np.eye(3)[rng.integers(0, 3, 7)]
    loss = "categorical_crossentropy" if units == 3 else "mse"
    k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=["mae"])
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss=loss, metrics=["mae"])
    k_history = k_model.fit(feed, y, epochs=3, batch_size=7, shuffle=False, verbose=0).history
    n_history = n_model.fit(feed, y, epochs=3, batch_size=7, shuffle=False, verbose=0).history
    assert list(n_history) == list(k_history)
    for key in k_history:
        assert_close(n_history[key], k_history[key], rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_layers_called_on_data_build_themselves_and_match_keras(keras, rng):
    x = rng.normal(size=(2, 4)).astype("float32")
    k_dense, n_dense = keras.layers.Dense(3), layers.Dense(3)
    k_out = k_dense(x)
    n_out = n_dense(x)
    assert isinstance(n_out, torch.Tensor) and n_out.shape == (2, 3)
    n_dense.set_weights(k_dense.get_weights())
    assert_close(n_dense(x).detach(), keras.ops.convert_to_numpy(k_out))
    img = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    k_conv, n_conv = keras.layers.Conv2D(2, 3), layers.Conv2D(2, 3)
    k_conv(img)
    n_conv(img)
    n_conv.set_weights(k_conv.get_weights())
    assert_close(n_conv(img).detach(), keras.ops.convert_to_numpy(k_conv(img)), rtol=1e-5, atol=1e-5)
    seq = rng.normal(size=(2, 5, 3)).astype("float32")
    k_lstm, n_lstm = keras.layers.LSTM(4), layers.LSTM(4)
    k_lstm(seq)
    n_lstm(seq)
    n_lstm.set_weights(k_lstm.get_weights())
    assert_close(n_lstm(seq).detach(), keras.ops.convert_to_numpy(k_lstm(seq)), rtol=1e-5, atol=1e-5)
    assert layers.Dense(2)([[1.0, 2.0]]).shape == (1, 2)  # lists are data too


def test_training_flag_switches_dropout_and_nested_calls_inherit_it():
    dropout = layers.Dropout(0.5)
    ones = np.ones((4, 50), dtype="float32")
    assert torch.equal(dropout(ones), torch.ones(4, 50))  # inference unless asked
    trained = dropout(ones, training=True)
    assert set(trained.unique().tolist()) == {0.0, 2.0}
    model = Sequential([layers.Input(shape=(50,)), layers.Dropout(0.5)])
    assert set(model(ones, training=True).unique().tolist()) == {0.0, 2.0}
    assert torch.equal(model(ones), torch.ones(4, 50))


def test_symbolic_tensors_have_keras_shapes_and_names():
    inputs = nnkit.Input(shape=(20,), name="features")
    assert inputs.shape == (None, 20) and inputs.dtype == "float32" and inputs.name == "features"
    ids = nnkit.Input(shape=(None,), dtype="int32")
    assert ids.shape == (None, None) and ids.dtype == "int32"
    hidden = layers.Dense(5, name="hidden")(inputs)
    assert hidden.shape == (None, 5)
    model = Model(inputs, hidden)
    assert model.get_layer("hidden").output is hidden and model.get_layer("hidden").input is inputs
    with pytest.raises(TypeError, match="no value"):
        np.asarray(inputs)


def test_a_shared_layer_keeps_one_set_of_weights():
    encoder = layers.Dense(4, name="encoder")
    left, right = nnkit.Input(shape=(3,)), nnkit.Input(shape=(3,))
    model = Model([left, right], layers.add([encoder(left), encoder(right)]))
    assert model.count_params() == 16 and len(model.weights) == 2
    x = np.ones((2, 3), dtype="float32")
    assert_close(model([x, x]).detach(), 2 * encoder(x).detach())


def test_inputs_and_outputs_as_dicts_and_feature_extraction(rng):
    a, b = nnkit.Input(shape=(3,), name="a"), nnkit.Input(shape=(2,), name="b")
    hidden = layers.Dense(4, name="hidden")(layers.concatenate([a, b]))
    model = Model({"a": a, "b": b}, {"score": layers.Dense(1, name="s")(hidden), "code": hidden})
    x = {"a": rng.normal(size=(5, 3)), "b": rng.normal(size=(5, 2))}
    out = model(x)
    assert set(out) == {"score", "code"} and out["score"].shape == (5, 1)
    extractor = Model(inputs=model.inputs, outputs=model.get_layer("hidden").output)
    assert_close(extractor([x["a"], x["b"]]).detach(), out["code"].detach())
    with pytest.raises(ConfigError, match="missing"):
        model({"a": x["a"]})


def test_a_model_is_a_layer_inside_another_model():
    inner_in = nnkit.Input(shape=(4,))
    inner = Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    outer_in = nnkit.Input(shape=(4,))
    outer = Model(outer_in, layers.Dense(1, name="head")(inner(outer_in)))
    x = np.ones((3, 4), dtype="float32")
    expected = outer.get_layer("head")(inner(x))
    assert_close(outer(x).detach(), expected.detach())
    assert outer.count_params() == inner.count_params() + 3
    inner.trainable = False
    assert len(outer.trainable_weights) == 2


def test_graph_errors_name_the_problem():
    a, b = nnkit.Input(shape=(3,), name="a"), nnkit.Input(shape=(4,), name="b")
    out = layers.Dense(2)(a)
    with pytest.raises(ConfigError, match=r"input 'b'.*not used"):
        Model([a, b], out)
    with pytest.raises(ConfigError, match=r"Input 'a'.*not among the model's inputs"):
        Model(b, layers.add([layers.Dense(3)(b), a]))
    with pytest.raises(ConfigError, match=r"same shape.*\(None, 3\), \(None, 4\)"):
        layers.add([a, b])
    with pytest.raises(ConfigError, match="every other axis must match"):
        layers.concatenate([nnkit.Input(shape=(2, 3)), nnkit.Input(shape=(4, 3))], axis=-1)
    with pytest.raises(ConfigError, match="must be symbolic tensors"):
        Model(a, np.ones(3))
    with pytest.raises(ConfigError, match="built for inputs of shape"):
        dense = layers.Dense(2)
        dense(a)
        dense(b)
    with pytest.raises(NotReadyError, match="has not been called"):
        _ = layers.Dense(2).output


def test_unknown_sizes_are_allowed_and_refused_clearly(rng):
    tokens = nnkit.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(10, 4)(tokens)
    pooled = layers.GlobalAveragePooling1D()(embedded)
    model = Model(tokens, layers.Dense(1)(pooled))
    for length in (3, 7):
        assert model(rng.integers(0, 10, size=(2, length))).shape == (2, 1)
    with pytest.raises(ConfigError, match="unknown"):
        layers.Flatten()(nnkit.Input(shape=(None, 8)))


def test_config_json_clone_and_file_round_trips(tmp_path, rng):
    model = siamese(nnkit)
    x = _inputs(model, rng)
    expected = model.predict(x, verbose=0)
    rebuilt = model_from_json(model.to_json())
    assert rebuilt.to_json() == model.to_json()
    assert rebuilt.count_params() == model.count_params()
    clone = clone_model(model)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    model.save(tmp_path / "siamese.keras")
    loaded = load_model(tmp_path / "siamese.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    model.save_weights(tmp_path / "w.weights.h5")
    clone.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(clone.predict(x, verbose=0), expected)


def test_summary_shows_what_feeds_each_layer():
    lines: list[str] = []
    two_inputs(nnkit).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "join (Concatenate)" in text
    assert "da[0][0]" in text and "b[0][0]" in text
    assert "Total params: 127" in text


def test_the_module_is_plain_torch():
    model = convnet(nnkit)
    assert isinstance(model.module, torch.fx.GraphModule)
    code = model.module.code
    assert code.count("torch.movedim") == 2  # into the convolutions once, back before Flatten once
    x = torch.randn(2, 8, 8, 3)
    exported = torch.export.export(model.module.eval(), (x,))
    assert_close(exported.module()(x), model.module(x))


def two_heads(keras):
    a, b = keras.Input(shape=(6,), name="a"), keras.Input(shape=(3,), name="b")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(keras.layers.concatenate([a, b]))
    score = keras.layers.Dense(1, name="score")(hidden)
    label = keras.layers.Dense(3, activation="softmax", name="label")(hidden)
    return keras.Model([a, b], [score, label])


def _two_head_data(rng, n=12):
    x = [rng.normal(size=(n, 6)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")]
    y = [rng.normal(size=(n, 1)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, n)]]
    return x, y


COMPILE_FORMS = {
    "lists": {"loss": ["mse", "categorical_crossentropy"], "metrics": [["mae"], ["accuracy"]]},
    "dicts": {"loss": {"score": "mse", "label": "categorical_crossentropy"}, "metrics": {"label": ["accuracy"]},
              "loss_weights": {"score": 0.5, "label": 2.0}},
    "one loss": {"loss": "mse"},
}


@pytest.mark.parametrize("form", sorted(COMPILE_FORMS))
def test_two_outputs_log_and_train_like_keras(keras, rng, form):
    k_model, n_model = two_heads(keras), two_heads(nnkit)
    _copy_weights(k_model, n_model)
    x, y = _two_head_data(rng)
    k_model.compile(optimizer=keras.optimizers.SGD(0.05), **COMPILE_FORMS[form])
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.05), **COMPILE_FORMS[form])
    fit = {"epochs": 3, "batch_size": 4, "shuffle": False, "verbose": 0, "validation_split": 0.25}
    k_history = k_model.fit(x, y, **fit).history
    n_history = n_model.fit(x, y, **fit).history
    assert list(n_history) == list(k_history)
    for key in k_history:
        assert_close(n_history[key], k_history[key], rtol=1e-4, atol=1e-6)
    k_result = k_model.evaluate(x, y, verbose=0)
    assert_close(n_model.evaluate(x, y, verbose=0), k_result, rtol=1e-4, atol=1e-6)
    assert n_model.evaluate(x, y, verbose=0, return_dict=True).keys() == k_model.evaluate(
        x, y, verbose=0, return_dict=True).keys()
    k_pred, n_pred = k_model.predict(x, verbose=0), n_model.predict(x, verbose=0)
    assert isinstance(n_pred, list) and len(n_pred) == 2
    for ours, theirs in zip(n_pred, k_pred):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_dict_inputs_and_outputs_train_and_predict_by_name(rng):
    a, b = nnkit.Input(shape=(6,), name="a"), nnkit.Input(shape=(3,), name="b")
    hidden = layers.Dense(5, activation="relu")(layers.concatenate([a, b]))
    model = Model({"a": a, "b": b}, {"r": layers.Dense(1)(hidden), "c": layers.Dense(3, activation="softmax")(hidden)})
    model.compile(optimizer="adam", loss={"r": "mse", "c": "categorical_crossentropy"}, metrics={"c": ["accuracy"]})
    x, y = _two_head_data(rng)
    history = model.fit({"b": x[1], "a": x[0]}, {"c": y[1], "r": y[0]}, epochs=2, verbose=0)
    assert list(history.history) == ["c_accuracy", "c_loss", "loss", "r_loss"]
    prediction = model.predict({"a": x[0], "b": x[1]}, verbose=0)
    assert set(prediction) == {"r", "c"} and prediction["c"].shape == (12, 3)
    with pytest.raises(nnkit.errors.DataError, match="no targets for output 'c'"):
        model.fit({"a": x[0], "b": x[1]}, {"r": y[0]}, verbose=0)
    with pytest.raises(nnkit.errors.DataError, match="names no model"):
        model.fit({"a": x[0], "b": x[1], "z": x[1]}, {"r": y[0], "c": y[1]}, verbose=0)
    with pytest.raises(ConfigError, match="names output 'q'"):
        model.compile(optimizer="adam", loss={"q": "mse"})
    with pytest.raises(nnkit.errors.DataError, match="shape"):
        model.predict({"a": x[0][:, :4], "b": x[1]}, verbose=0)


def test_a_functional_model_saves_checkpoints_and_resumes(tmp_path, rng):
    x, y = _two_head_data(rng, 16)
    model = two_heads(nnkit)
    model.compile(optimizer="adam", loss=["mse", "categorical_crossentropy"], metrics=[[], ["accuracy"]])
    checkpoint = nnkit.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[checkpoint])
    loaded = load_model(tmp_path / "best.keras")
    assert loaded.output_names == ["score", "label"]
    assert loaded.evaluate(x, y, verbose=0, return_dict=True).keys() == model.evaluate(
        x, y, verbose=0, return_dict=True).keys()


def masked_sequence(keras):
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    states = keras.layers.LSTM(3, return_sequences=True, name="lstm")(embedded)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(states)
    return keras.Model(tokens, keras.layers.Dense(1, name="out")(pooled))


def test_masks_flow_through_the_graph_as_in_keras(keras, rng):
    k_model, n_model = masked_sequence(keras), masked_sequence(nnkit)
    _copy_weights(k_model, n_model)
    ids = rng.integers(1, 20, size=(4, 7))
    ids[:, -3:] = 0  # padding, which the mask hides from the LSTM and the pooling
    assert_close(n_model.predict(ids, verbose=0), k_model.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)
    tokens = nnkit.Input(shape=(5,), dtype="int32")
    embedded = layers.Embedding(10, 4, mask_zero=True)(tokens)
    with pytest.raises(ConfigError, match="masked sequence"):
        Model(tokens, layers.add([embedded, layers.Embedding(10, 4)(tokens)]))


def test_sequential_models_have_symbolic_inputs_and_outputs_for_feature_extraction(keras, rng):
    def build(lib):
        return lib.Sequential([lib.Input(shape=(6,)), lib.layers.Dense(5, activation="relu", name="hidden"),
                               lib.layers.Dense(2, name="out")])

    k_model, n_model = build(keras), build(nnkit)
    _copy_weights(k_model, n_model)
    assert n_model.inputs[0].shape == (None, 6) and n_model.outputs[0].shape == (None, 2)
    k_features = keras.Model(k_model.inputs, k_model.get_layer("hidden").output)
    n_features = Model(n_model.inputs, n_model.get_layer("hidden").output)
    x = rng.normal(size=(4, 6)).astype("float32")
    assert_close(n_features.predict(x, verbose=0), k_features.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    head = Model(n_model.input, layers.Dense(3)(n_model.output))  # a new head on the trained body
    assert head.count_params() == n_model.count_params() + 9


def test_a_sequential_of_unknown_length_sequences_trains_on_batches_of_any_length(rng):
    model = Sequential([nnkit.Input(shape=(None,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
                        layers.LSTM(3), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    for length in (5, 9):
        ids = rng.integers(0, 20, size=(8, length))
        model.fit(ids, rng.normal(size=(8, 1)), epochs=1, verbose=0)
        assert model.predict(ids, verbose=0).shape == (8, 1)
    assert model.layers[0].output_shape == (None, 4)


def test_sample_weights_per_output_weigh_each_output_as_in_keras(keras, rng):
    k_model, n_model, by_name = two_heads(keras), two_heads(nnkit), two_heads(nnkit)
    _copy_weights(k_model, n_model)
    _copy_weights(k_model, by_name)
    x, y = _two_head_data(rng)
    score_w, label_w = rng.uniform(0, 2, 12).astype("float32"), rng.uniform(0, 2, 12).astype("float32")
    compiled = {"loss": ["mse", "categorical_crossentropy"], "weighted_metrics": [[], ["accuracy"]]}
    k_model.compile(optimizer=keras.optimizers.SGD(0.05), **compiled)
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.05), **compiled)
    by_name.compile(optimizer=nnkit.optimizers.SGD(0.05), **compiled)
    fit = {"epochs": 2, "batch_size": 4, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, sample_weight=[score_w, label_w], **fit).history
    n_history = n_model.fit(x, y, sample_weight=[score_w, label_w], **fit).history
    assert list(n_history) == list(k_history)
    for key in k_history:
        assert_close(n_history[key], k_history[key], rtol=1e-4, atol=1e-6)
    named = by_name.fit(x, {"score": y[0], "label": y[1]}, sample_weight={"label": label_w, "score": score_w},
                        **fit).history
    assert named == n_history
