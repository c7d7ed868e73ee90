"""Attention layers against Keras on the same weights: MultiHeadAttention, Attention, AdditiveAttention,
EinsumDense."""

from __future__ import annotations

import pytest

import nnkit
from nnkit.errors import ConfigError
from tests.helpers import assert_close

MHA_CASES = {
    "self": ({"num_heads": 2, "key_dim": 3}, (4, 5), None),
    "cross, no bias, own sizes": ({"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 6, "use_bias": False},
                                  (4, 5), (6, 7)),
}


def _same(keras, k_layer, n_layer, *args, **kwargs):
    k_out = k_layer(*args, **kwargs)
    n_layer(*args, **kwargs)
    n_layer.set_weights(k_layer.get_weights())
    assert [w.shape for w in n_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    assert_close(n_layer(*args, **kwargs).detach(), keras.ops.convert_to_numpy(k_out), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(MHA_CASES))
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_keras(keras, rng, case, causal):
    args, query_shape, value_shape = MHA_CASES[case]
    query = rng.normal(size=(2, *query_shape)).astype("float32")
    value = query if value_shape is None else rng.normal(size=(2, *value_shape)).astype("float32")
    _same(keras, keras.layers.MultiHeadAttention(**args), nnkit.layers.MultiHeadAttention(**args), query, value,
          use_causal_mask=causal)


def test_multi_head_attention_mask_and_scores_match_keras(keras, rng):
    query = rng.normal(size=(2, 4, 5)).astype("float32")
    mask = rng.integers(0, 2, size=(2, 4, 4)).astype(bool)
    mask[:, :, 0] = True
    k_layer, n_layer = keras.layers.MultiHeadAttention(2, 3), nnkit.layers.MultiHeadAttention(2, 3)
    k_out, k_scores = k_layer(query, query, attention_mask=mask, return_attention_scores=True)
    n_layer(query, query)
    n_layer.set_weights(k_layer.get_weights())
    n_out, n_scores = n_layer(query, query, attention_mask=mask, return_attention_scores=True)
    assert_close(n_out.detach(), keras.ops.convert_to_numpy(k_out), rtol=1e-5, atol=1e-6)
    assert_close(n_scores.detach(), keras.ops.convert_to_numpy(k_scores), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda layers: layers.Attention(),
    lambda layers: layers.Attention(use_scale=True),
    lambda layers: layers.Attention(score_mode="concat"),
    lambda layers: layers.AdditiveAttention(),
    lambda layers: layers.AdditiveAttention(use_scale=False),
])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_matches_keras(keras, rng, make, with_key):
    inputs = [rng.normal(size=(2, 4, 5)).astype("float32"), rng.normal(size=(2, 6, 5)).astype("float32")]
    if with_key:
        inputs.append(rng.normal(size=(2, 6, 5)).astype("float32"))
    k_layer, n_layer = make(keras.layers), make(nnkit.layers)
    k_layer(inputs)
    k_layer.set_weights([w * 1.5 + 0.1 for w in k_layer.get_weights()])  # away from the initial ones
    _same(keras, k_layer, n_layer, inputs)
    _same(keras, k_layer, n_layer, inputs, use_causal_mask=True)


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape"), [
    ("ab,bc->ac", 4, "c", (5,)),
    ("abc,cd->abd", (None, 6), None, (3, 5)),
    ("abc,cde->abde", (None, 2, 3), "de", (3, 5)),
    ("abc,cde->abde", (3, 2, 4), "e", (3, 5)),
    ("...x,xy->...y", 4, "y", (3, 5)),  # an ellipsis for the leading axes (the batch and any after it)
    ("...x,xy->...y", 4, None, (5,)),
    ("...bc,cd->...bd", (3, 6), "d", (2, 3, 5)),
    ("ab...,bc->ac...", (4,), "c", (5, 3)),  # ... for the trailing axes
    ("abc...,cd->abd...", (None, 4), "d", (3, 5, 2)),
])
def test_einsum_dense_matches_keras(keras, rng, equation, output_shape, bias_axes, shape):
    x = rng.normal(size=(2, *shape)).astype("float32")
    _same(keras, keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes),
          nnkit.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes), x)


def test_bad_attention_arguments_are_refused():
    with pytest.raises(ConfigError, match="num_heads"):
        nnkit.layers.MultiHeadAttention(0, 4)
    with pytest.raises(ConfigError, match=r"\[query, value\]"):
        nnkit.layers.Attention()(nnkit.Input(shape=(3, 4)))
    with pytest.raises(ConfigError, match="equation"):
        nnkit.layers.EinsumDense("ab->b", output_shape=3)
    with pytest.raises(ConfigError, match="names 3 input axes"):
        nnkit.layers.EinsumDense("abc,cd->abd", output_shape=(None, 2))(nnkit.Input(shape=(4,)))
    with pytest.raises(ConfigError, match="equation such as"):
        nnkit.layers.EinsumDense("a...b,bc->ac", output_shape=3)
    with pytest.raises(ConfigError, match="sizes of the 1 output axes 'y'"):
        nnkit.layers.EinsumDense("...x,xy->...y", output_shape=(2, 3))(nnkit.Input(shape=(4,)))
    with pytest.raises(ConfigError, match="bias axis 'z'"):
        nnkit.layers.EinsumDense("...x,xy->...y", output_shape=3, bias_axes="z")(nnkit.Input(shape=(4,)))


def test_einsum_dense_with_an_ellipsis_reports_keras_shapes(keras):
    def shapes(lib):
        layer = lib.layers.EinsumDense("...x,xy->...y", output_shape=64, bias_axes="y")
        output = layer(lib.Input(shape=[32, 128]))
        return tuple(output.shape), [tuple(w.shape) for w in layer.get_weights()]

    assert shapes(nnkit) == shapes(keras) == ((None, 32, 64), [(128, 64), (64,)])


def test_attention_scores_come_out_of_a_graph_as_in_keras(keras, rng):
    def build(lib):
        tokens = lib.Input(shape=(5, 4))
        attended, scores = lib.layers.MultiHeadAttention(2, 3, name="mha")(tokens, tokens, return_attention_scores=True)
        mixed, weights = lib.layers.Attention(name="att")([attended, tokens], return_attention_scores=True)
        return lib.Model(tokens, [mixed, scores, weights])

    k_model, n_model = build(keras), build(nnkit)
    n_model.set_weights(k_model.get_weights())
    assert [tuple(t.shape) for t in n_model.outputs] == [tuple(t.shape) for t in k_model.outputs]
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    for ours, theirs in zip(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0)):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
