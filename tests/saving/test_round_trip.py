"""Every layer survives ``model.save`` -> ``load_model``: same predictions, config and weights; compile
settings and optimizer state come back too, and weights load from torch and safetensors files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

import nnkit
from nnkit import constraints, initializers, layers, losses, metrics, optimizers, regularizers
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer
from nnkit.models import Model, Sequential, load_model, model_from_json
from nnkit.optimizers import schedules
from nnkit.saving import register_serializable, serialize

N_SAMPLES = 8


@register_serializable(package="test_round_trip")
def round_trip_double(x: torch.Tensor) -> torch.Tensor:
    """A named Lambda function: saved by name, so it loads in safe mode."""
    return 2.0 * x - 1.0


@register_serializable(package="test_round_trip")
def round_trip_loss(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Per-sample mean absolute error with a different name."""
    return (y_true - y_pred).abs().mean(dim=-1)


def round_trip_metric(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """A custom metric that is not registered: loading needs custom_objects."""
    return (y_true - y_pred).pow(2).mean(dim=-1)


@register_serializable(package="test_round_trip")
class RoundTripScale(Layer):
    """A user layer: multiplies by a learned per-feature scale plus a constant offset."""

    def __init__(self, offset: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.offset = offset

    def build(self, input_shape):
        return _ScaleModule(input_shape[-1], self.offset), input_shape


class _ScaleModule(nn.Module):
    def __init__(self, features: int, offset: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, features))
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset


@dataclass
class Case:
    """A small model holding one layer type: the sample shape and the layers after ``Input``.

    ``make`` receives the training inputs (so ``Normalization`` can adapt on them). ``vocabulary`` means
    integer token ids in ``[0, vocabulary)`` instead of floats.
    """

    shape: tuple[int, ...]
    make: Callable[[np.ndarray], list]
    vocabulary: int | None = None
    graph: Callable[[object], object] | None = None  # a functional body: input tensor -> output tensor


def _two_branches(merge: Callable[[], Layer]) -> Case:
    """A merge layer joining two Dense branches of one input (a functional model)."""
    return Case((4,), lambda x: [],
                graph=lambda t: merge()([layers.Dense(3)(t), layers.Dense(3, activation="tanh")(t)]))


def _inner_functional():
    inner = layers.Input(shape=(4,))
    return Model(inner, layers.Dense(3, activation="relu")(inner), name="inner")


def _adapted_normalization(x: np.ndarray) -> list:
    norm = layers.Normalization(axis=-1)
    norm.adapt(x)
    return [norm, layers.Normalization(mean=[0.5, 1.0, 0.0, 2.0], variance=[4.0, 1.0, 0.25, 1.0], invert=True)]


def _adapted_discretization(x: np.ndarray) -> list:
    bins = layers.Discretization(num_bins=4, output_mode="one_hot")
    bins.adapt(x)
    return [bins]


def _adapted_integer_lookup(x: np.ndarray) -> list:
    lookup = layers.IntegerLookup(output_mode="count", mask_token=0)
    lookup.adapt(x)
    return [lookup]


#: Layers that take strings, so they live in the data pipeline, not inside a model: their configs round-trip.
DATA_PIPELINE_ONLY = {"string_lookup": lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=2),
                      "text_vectorization": lambda: layers.TextVectorization(max_tokens=20, ngrams=2)}

CASES: dict[str, Case] = {
    "category_encoding": Case((3,), lambda x: [layers.CategoryEncoding(num_tokens=10, output_mode="count")],
                              vocabulary=10),
    "discretization": Case((4,), _adapted_discretization),
    "hashing": Case((3,), lambda x: [layers.Hashing(num_bins=5, output_mode="multi_hot", salt=3)], vocabulary=10),
    "integer_lookup": Case((3,), _adapted_integer_lookup, vocabulary=10),
    "activation": Case((4,), lambda x: [layers.Dense(3), layers.Activation("gelu")]),
    "center_crop": Case((6, 5, 2), lambda x: [layers.CenterCrop(4, 3)]),
    "pipeline": Case((6, 6, 2), lambda x: [layers.Pipeline([layers.Resizing(4, 4), layers.RandomFlip(seed=1)])]),
    "random_brightness": Case((4, 4, 2), lambda x: [layers.RandomBrightness(0.2, value_range=(-3, 3), seed=1)]),
    "random_contrast": Case((4, 4, 2), lambda x: [layers.RandomContrast((0.1, 0.3), value_range=(-3, 3))]),
    "random_crop": Case((6, 6, 2), lambda x: [layers.RandomCrop(4, 3, seed=2)]),
    "random_flip": Case((4, 4, 2), lambda x: [layers.RandomFlip("horizontal", data_format="channels_last")]),
    "random_rotation": Case((5, 5, 2), lambda x: [layers.RandomRotation(0.1, fill_mode="constant", fill_value=0.5)]),
    "random_translation": Case((5, 5, 2), lambda x: [
        layers.RandomTranslation(0.2, (-0.1, 0.3), fill_mode="wrap", interpolation="nearest")]),
    "random_zoom": Case((5, 5, 2), lambda x: [layers.RandomZoom(0.2, 0.1, fill_mode="nearest", seed=3)]),
    "resizing": Case((5, 7, 2), lambda x: [layers.Resizing(3, 4, pad_to_aspect_ratio=True, fill_value=1.0)]),
    "add": _two_branches(layers.Add),
    "additive_attention": Case((5, 4), lambda x: [], graph=lambda t: layers.AdditiveAttention()([t, t])),
    "attention": Case((5, 4), lambda x: [], graph=lambda t: layers.Attention(use_scale=True)([t, t, t])),
    "average": _two_branches(layers.Average),
    "concatenate": _two_branches(lambda: layers.Concatenate(axis=-1)),
    "dot": _two_branches(lambda: layers.Dot(axes=1, normalize=True)),
    "functional": Case((4,), lambda x: [_inner_functional()]),
    "maximum": _two_branches(layers.Maximum),
    "minimum": _two_branches(layers.Minimum),
    "multi_head_attention": Case(
        (5, 4), lambda x: [], graph=lambda t: layers.MultiHeadAttention(2, 3, dropout=0.1)(t, t, use_causal_mask=True)),
    "multiply": _two_branches(layers.Multiply),
    "sequential": Case((4,), lambda x: [Sequential([layers.Dense(3, activation="relu"), layers.Dense(3)])]),
    "subtract": _two_branches(layers.Subtract),
    "activity_regularization": Case((4,), lambda x: [layers.Dense(3), layers.ActivityRegularization(l1=0.01, l2=0.1)]),
    "adaptive_average_pooling1d": Case((7, 2), lambda x: [layers.AdaptiveAveragePooling1D(3)]),
    "adaptive_average_pooling2d": Case((2, 5, 4), lambda x: [layers.AdaptiveAveragePooling2D((2, 3), "channels_first")]),
    "adaptive_average_pooling3d": Case((3, 4, 5, 1), lambda x: [layers.AdaptiveAveragePooling3D(2)]),
    "adaptive_max_pooling1d": Case((7, 2), lambda x: [layers.AdaptiveMaxPooling1D(4)]),
    "adaptive_max_pooling2d": Case((5, 4, 2), lambda x: [layers.AdaptiveMaxPooling2D((3, 2))]),
    "adaptive_max_pooling3d": Case((3, 4, 5, 1), lambda x: [layers.AdaptiveMaxPooling3D((1, 2, 3))]),
    "rms_normalization": Case((3, 4), lambda x: [layers.RMSNormalization(axis=[1, 2], epsilon=1e-3)]),
    "spectral_normalization": Case(
        (5, 5, 2), lambda x: [layers.SpectralNormalization(layers.Conv2D(3, 3, kernel_regularizer="l2"), 2)]
    ),
    "rnn": Case(
        (5, 3), lambda x: [layers.RNN([layers.LSTMCell(4, dropout=0.1), layers.GRUCell(3, reset_after=False)],
                                      return_sequences=True, go_backwards=True)]
    ),
    "conv_lstm1d": Case((3, 5, 2), lambda x: [layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True)]),
    "conv_lstm2d": Case((3, 4, 4, 1), lambda x: [layers.ConvLSTM2D(2, 3, recurrent_regularizer="l2")]),
    "conv_lstm3d": Case((2, 1, 3, 3, 3), lambda x: [layers.ConvLSTM3D(1, 2, data_format="channels_first")]),
    "alpha_dropout": Case(
        (4,),
        lambda x: [
            layers.Dense(3, activation="selu", kernel_initializer="lecun_normal"),
            layers.AlphaDropout(0.3, seed=1),
        ],
    ),
    "average_pooling1d": Case((6, 2), lambda x: [layers.AveragePooling1D(pool_size=3, strides=1, padding="same")]),
    "average_pooling2d": Case((4, 5, 2), lambda x: [layers.AveragePooling2D((2, 2), padding="same")]),
    "average_pooling3d": Case((2, 4, 4, 4), lambda x: [layers.AveragePooling3D(2, data_format="channels_first")]),
    "batch_normalization": Case(
        (4,),
        lambda x: [
            layers.Dense(5),
            layers.BatchNormalization(
                momentum=0.5,
                epsilon=1e-2,
                gamma_regularizer="l2",
                beta_constraint="non_neg",
                moving_variance_initializer="ones",
            ),
        ],
    ),
    "bidirectional": Case(
        (5, 3), lambda x: [layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode="ave")]
    ),
    "conv1d": Case(
        (6, 3),
        lambda x: [
            layers.Conv1D(
                4,
                3,
                padding="same",
                dilation_rate=2,
                activation="relu",
                kernel_regularizer=regularizers.L2(0.01),
                kernel_constraint=constraints.MaxNorm(2.0),
                bias_initializer="ones",
            )
        ],
    ),
    "conv1d_transpose": Case((4, 3), lambda x: [layers.Conv1DTranspose(2, 3, strides=2, padding="same")]),
    "conv2d": Case(
        (5, 5, 2),
        lambda x: [
            layers.Conv2D(
                3,
                (3, 3),
                strides=2,
                padding="same",
                kernel_initializer="he_normal",
                activation="elu",
                bias_regularizer="l1",
            )
        ],
    ),
    "conv2d_transpose": Case(
        (3, 3, 2), lambda x: [layers.Conv2DTranspose(2, 3, strides=2, padding="valid", data_format="channels_last")]
    ),
    "conv3d": Case((2, 4, 4, 4), lambda x: [layers.Conv3D(2, 2, data_format="channels_first", use_bias=False)]),
    "conv3d_transpose": Case((2, 2, 2, 1), lambda x: [layers.Conv3DTranspose(2, 2, strides=2)]),
    "cropping1d": Case((6, 2), lambda x: [layers.Cropping1D((1, 2))]),
    "cropping2d": Case((5, 5, 2), lambda x: [layers.Cropping2D(((1, 0), (0, 2)))]),
    "cropping3d": Case((4, 4, 4, 1), lambda x: [layers.Cropping3D(1)]),
    "dense": Case(
        (4,),
        lambda x: [
            layers.Dense(
                3,
                activation="tanh",
                kernel_initializer=initializers.RandomNormal(stddev=0.3, seed=2),
                kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.02),
                bias_regularizer="l1",
                kernel_constraint="unit_norm",
                bias_constraint=constraints.MinMaxNorm(0.0, 1.0),
            )
        ],
    ),
    "depthwise_conv1d": Case(
        (6, 3), lambda x: [layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", depthwise_regularizer="l2")]
    ),
    "depthwise_conv2d": Case(
        (5, 5, 2), lambda x: [layers.DepthwiseConv2D((3, 3), depth_multiplier=2, activation="relu")]
    ),
    "dropout": Case((4,), lambda x: [layers.Dense(5), layers.Dropout(0.5, seed=3)]),
    "elu": Case((4,), lambda x: [layers.Dense(3), layers.ELU(alpha=0.5)]),
    "embedding": Case(
        (5,),
        lambda x: [layers.Embedding(10, 4, mask_zero=True, embeddings_regularizer="l2"), layers.LSTM(3)],
        vocabulary=10,
    ),
    "einsum_dense": Case((3, 4), lambda x: [layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3),
                                                                bias_axes="de", kernel_regularizer="l2")]),
    "flatten": Case((3, 2, 2), lambda x: [layers.Flatten(data_format="channels_first")]),
    "gaussian_dropout": Case((4,), lambda x: [layers.Dense(3), layers.GaussianDropout(0.3, seed=4)]),
    "gaussian_noise": Case((4,), lambda x: [layers.Dense(3), layers.GaussianNoise(0.2)]),
    "global_average_pooling1d": Case((5, 3), lambda x: [layers.GlobalAveragePooling1D(keepdims=True)]),
    "global_average_pooling2d": Case(
        (2, 3, 3), lambda x: [layers.GlobalAveragePooling2D(data_format="channels_first")]
    ),
    "global_average_pooling3d": Case((2, 2, 2, 3), lambda x: [layers.GlobalAveragePooling3D(keepdims=True)]),
    "global_max_pooling1d": Case((5, 3), lambda x: [layers.GlobalMaxPooling1D(data_format="channels_first")]),
    "global_max_pooling2d": Case((3, 3, 2), lambda x: [layers.GlobalMaxPooling2D(keepdims=True)]),
    "global_max_pooling3d": Case((2, 2, 2, 2), lambda x: [layers.GlobalMaxPooling3D()]),
    "group_normalization": Case(
        (3, 4), lambda x: [layers.GroupNormalization(groups=2, epsilon=1e-2, gamma_initializer="random_uniform")]
    ),
    "gru": Case(
        (5, 3),
        lambda x: [
            layers.GRU(4, return_sequences=True, go_backwards=True, activation="softsign", recurrent_regularizer="l2")
        ],
    ),
    "identity": Case((4,), lambda x: [layers.Dense(3), layers.Identity()]),
    "input_layer": Case((4,), lambda x: [layers.Dense(3)]),  # every case starts with an InputLayer
    "lambda": Case((4,), lambda x: [layers.Lambda(round_trip_double, output_shape=(4,))]),
    "layer_normalization": Case(
        (3, 4), lambda x: [layers.LayerNormalization(epsilon=1e-4, center=False, gamma_regularizer="l2")]
    ),
    "leaky_re_lu": Case((4,), lambda x: [layers.Dense(3), layers.LeakyReLU(negative_slope=0.1)]),
    "lstm": Case(
        (5, 3),
        lambda x: [
            layers.LSTM(
                4, return_sequences=True, recurrent_activation="hard_sigmoid", unit_forget_bias=False, dropout=0.2
            ),
            layers.LSTM(2),
        ],
    ),
    "masking": Case((5, 3), lambda x: [layers.Masking(mask_value=0.0), layers.SimpleRNN(3)]),
    "max_pooling1d": Case((6, 2), lambda x: [layers.MaxPooling1D(pool_size=2, strides=1, padding="valid")]),
    "max_pooling2d": Case((5, 5, 2), lambda x: [layers.MaxPooling2D((2, 2), strides=(1, 2), padding="same")]),
    "max_pooling3d": Case((4, 4, 4, 1), lambda x: [layers.MaxPooling3D(2)]),
    "normalization": Case((4,), _adapted_normalization),
    "p_re_lu": Case(
        (3, 3, 2),
        lambda x: [
            layers.PReLU(alpha_initializer=initializers.Constant(0.25), shared_axes=[1, 2], alpha_regularizer="l2")
        ],
    ),
    "permute": Case((3, 4), lambda x: [layers.Permute((2, 1))]),
    "re_lu": Case((4,), lambda x: [layers.Dense(3), layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.05)]),
    "repeat_vector": Case((4,), lambda x: [layers.RepeatVector(3)]),
    "rescaling": Case((4,), lambda x: [layers.Rescaling(scale=1 / 255, offset=-1.0)]),
    "reshape": Case((6,), lambda x: [layers.Reshape((3, 2))]),
    "separable_conv1d": Case(
        (6, 3), lambda x: [layers.SeparableConv1D(4, 3, depth_multiplier=2, padding="same", pointwise_regularizer="l2")]
    ),
    "separable_conv2d": Case((5, 5, 2), lambda x: [layers.SeparableConv2D(3, 3, strides=2, activation="relu")]),
    "simple_rnn": Case((5, 3), lambda x: [layers.SimpleRNN(4, activation="relu", go_backwards=True)]),
    "softmax": Case((3, 4), lambda x: [layers.Softmax(axis=1)]),
    "spatial_dropout1d": Case((5, 3), lambda x: [layers.SpatialDropout1D(0.4)]),
    "spatial_dropout2d": Case((3, 3, 2), lambda x: [layers.SpatialDropout2D(0.4, data_format="channels_last")]),
    "spatial_dropout3d": Case((2, 2, 2, 2), lambda x: [layers.SpatialDropout3D(0.4, seed=5)]),
    "time_distributed": Case((3, 4), lambda x: [layers.TimeDistributed(layers.Dense(2, activation="relu"))]),
    "torch_module": Case(
        (6, 3),
        lambda x: [layers.TorchModule(nn.Conv1d(3, 4, kernel_size=3, padding=1, bias=False), channels_first=True)],
    ),
    "unit_normalization": Case((3, 4), lambda x: [layers.UnitNormalization(axis=[1, 2])]),
    "up_sampling1d": Case((3, 2), lambda x: [layers.UpSampling1D(3)]),
    "up_sampling2d": Case((2, 3, 2), lambda x: [layers.UpSampling2D((2, 1), interpolation="bilinear")]),
    "up_sampling3d": Case((2, 2, 2, 1), lambda x: [layers.UpSampling3D(2)]),
    "zero_padding1d": Case((4, 2), lambda x: [layers.ZeroPadding1D((2, 1))]),
    "zero_padding2d": Case((3, 3, 2), lambda x: [layers.ZeroPadding2D(((1, 0), (2, 1)))]),
    "zero_padding3d": Case((2, 2, 2, 1), lambda x: [layers.ZeroPadding3D(1)]),
}


def _inputs(case: Case, rng: np.random.Generator) -> np.ndarray:
    if case.vocabulary is not None:
        ids = rng.integers(0, case.vocabulary, size=(N_SAMPLES, *case.shape))
        ids[:, -2:] = 0  # padding at the end, so mask_zero matters
        return ids
    x = rng.normal(size=(N_SAMPLES, *case.shape)).astype(np.float32)
    x[::2, -1:] = 0.0  # a masked last step for Masking (harmless elsewhere)
    return x


def _trained_model(name: str, rng: np.random.Generator) -> tuple[Sequential, np.ndarray]:
    """The case's model with a Dense head, compiled and fitted for one epoch on random data."""
    case = CASES[name]
    x = _inputs(case, rng)
    if case.graph is not None:
        inputs = layers.Input(shape=case.shape)
        model = Model(inputs, layers.Dense(2)(layers.Flatten()(case.graph(inputs))))
    else:
        model = Sequential([layers.Input(shape=case.shape), *case.make(x), layers.Flatten(), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    y = rng.normal(size=(N_SAMPLES, 2)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    return model, x


def _json_config(model: Sequential) -> object:
    """The config in its saved (JSON) form, so torch modules and functions compare by what is stored."""
    return serialize(model.get_config(), "model config", allow_bytecode=True)


def _assert_same_weights(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


IN_MODELS = [name for name in LAYERS.names() if name not in DATA_PIPELINE_ONLY]


def test_every_registered_layer_has_a_case():
    assert sorted([*CASES, *DATA_PIPELINE_ONLY]) == LAYERS.names()


@pytest.mark.parametrize("name", sorted(DATA_PIPELINE_ONLY))
def test_data_pipeline_layer_configs_round_trip(name):
    layer = DATA_PIPELINE_ONLY[name]()
    config = serialize(layer.get_config(), "layer config")
    rebuilt = LAYERS.get(name).from_config(config)
    assert serialize(rebuilt.get_config(), "layer config") == config


@pytest.mark.parametrize("name", IN_MODELS)
def test_layer_survives_save_and_load_model(name, tmp_path, rng):
    assert name in CASES, f"Layer '{name}' is registered but has no round-trip case in CASES; add one."
    model, x = _trained_model(name, rng)
    class_names = [entry["class_name"] for entry in model.get_config()["layers"]]
    assert LAYERS.get(name).__name__ in class_names
    expected = model.predict(x, verbose=0)

    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")

    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    assert _json_config(loaded) == _json_config(model)
    assert loaded.get_build_config() == model.get_build_config()
    _assert_same_weights(loaded.get_weights(), model.get_weights())
    assert loaded.module.state_dict().keys() == model.module.state_dict().keys()


@pytest.mark.parametrize("name", IN_MODELS)
def test_layer_survives_json_and_save_weights(name, tmp_path, rng):
    model, x = _trained_model(name, rng)
    text = model.to_json()
    assert model_from_json(text).to_json() == text

    model.save_weights(tmp_path / "w.weights.h5")
    fresh = type(model).from_config(model.get_config())
    fresh.build((None, *CASES[name].shape))
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_batch_normalization_moving_statistics_round_trip(tmp_path, rng):
    model, _ = _trained_model("batch_normalization", rng)
    norm = model.layers[1]
    moving_mean = norm.module.running_mean.detach().cpu().numpy()
    assert np.abs(moving_mean).max() > 1e-3  # training moved the statistics away from their initial zeros
    model.save(tmp_path / "bn.keras")
    loaded = load_model(tmp_path / "bn.keras")
    np.testing.assert_array_equal(loaded.layers[1].module.running_mean.cpu().numpy(), moving_mean)
    np.testing.assert_array_equal(
        loaded.layers[1].module.running_var.cpu().numpy(), norm.module.running_var.detach().cpu().numpy()
    )


def test_adapted_normalization_statistics_round_trip(tmp_path, rng):
    model, x = _trained_model("normalization", rng)
    model.save(tmp_path / "norm.keras")
    loaded = load_model(tmp_path / "norm.keras")
    np.testing.assert_allclose(loaded.layers[0].module.mean.cpu().numpy().ravel(), x.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        loaded.layers[0].module.variance.cpu().numpy().ravel(), x.var(axis=0), rtol=1e-5, atol=1e-6
    )


def _regression_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(16, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)


def _small_model() -> Sequential:
    return Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])


def test_reloaded_model_continues_training_identically(tmp_path, rng):
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")

    assert loaded.optimizer.iterations == model.optimizer.iterations == 4
    saved_moments = model.optimizer.state_dict()["torch"]["state"]
    restored_moments = loaded.optimizer.state_dict()["torch"]["state"]
    assert restored_moments.keys() == saved_moments.keys() and len(saved_moments) == 4
    for key, moments in saved_moments.items():
        for moment in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(restored_moments[key][moment].cpu().numpy(), moments[moment].cpu().numpy())

    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    loaded_history = loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    assert loaded_history == history
    _assert_same_weights(loaded.get_weights(), model.get_weights())
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    after = model.optimizer.torch_optimizer.state_dict()["state"]
    loaded_after = loaded.optimizer.torch_optimizer.state_dict()["state"]
    for key, moments in after.items():
        for moment in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(loaded_after[key][moment].cpu().numpy(), moments[moment].cpu().numpy())


def test_a_fresh_optimizer_would_train_differently(tmp_path, rng):
    """The check above is meaningful: recompiling (resetting Adam's moments) changes the next epoch."""
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    reset = load_model(tmp_path / "m.keras", compile=False)
    reset.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    reset.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert not np.array_equal(reset.get_weights()[0], model.get_weights()[0])


def test_compile_false_gives_an_uncompiled_model_with_the_weights(tmp_path, rng):
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled
    assert loaded.optimizer is None and loaded.get_compile_config() is None
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(nnkit.errors.NotReadyError, match="compile"):
        loaded.fit(x, y, epochs=1, verbose=0)


def test_an_uncompiled_model_round_trips_uncompiled(tmp_path, rng):
    x, _ = _regression_data(rng)
    model = _small_model()
    model.build()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def _compile_summary(model: Sequential) -> dict:
    config = model.get_compile_config()
    return {
        "optimizer": (type(config["optimizer"]), config["optimizer"].get_config()),
        "loss": (type(config["loss"]), serialize(config["loss"], "loss")),
        "metrics": serialize(config["metrics"], "metrics"),
        "weighted_metrics": serialize(config["weighted_metrics"], "weighted_metrics"),
        "loss_weights": config["loss_weights"],
    }


def test_loss_optimizer_metrics_and_schedule_round_trip(tmp_path, rng):
    x, y = _regression_data(rng)
    model = _small_model()
    schedule = schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5, staircase=True)
    model.compile(
        optimizer=optimizers.Adam(learning_rate=schedule, beta_1=0.8, clipnorm=1.0),
        loss=losses.Huber(delta=0.5),
        metrics=["mae", metrics.RootMeanSquaredError(name="rms")],
        weighted_metrics=[metrics.MeanSquaredError()],
        loss_weights=0.5,
    )
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")

    assert _compile_summary(loaded) == _compile_summary(model)
    assert isinstance(loaded.optimizer.schedule, schedules.ExponentialDecay)
    assert loaded.optimizer.schedule.get_config() == schedule.get_config()
    assert loaded.optimizer.learning_rate == pytest.approx(model.optimizer.learning_rate) == 0.05 * 0.5**2
    np.testing.assert_array_equal(
        list(loaded.evaluate(x, y, verbose=0, return_dict=True).values()),
        list(model.evaluate(x, y, verbose=0, return_dict=True).values()),
    )


def test_registered_custom_loss_function_round_trips(tmp_path, rng):
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer="sgd", loss=round_trip_loss)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.loss.fn is round_trip_loss
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_custom_metric_function_loads_through_custom_objects(tmp_path, rng):
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer="sgd", loss="mse", metrics=[round_trip_metric])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")

    with pytest.raises(ConfigError, match="round_trip_metric") as missing:
        load_model(tmp_path / "m.keras")
    assert "custom_objects" in str(missing.value)

    loaded = load_model(tmp_path / "m.keras", custom_objects={"round_trip_metric": round_trip_metric})
    assert loaded.get_compile_config()["metrics"] == [round_trip_metric]
    logs = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == model.evaluate(x, y, verbose=0, return_dict=True)
    assert "round_trip_metric" in logs


def test_registered_custom_layer_round_trips(tmp_path, rng):
    x, y = _regression_data(rng)
    model = Sequential([layers.Input(shape=(3,)), RoundTripScale(offset=0.25, name="scale"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], RoundTripScale)
    assert loaded.layers[0].offset == 0.25
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model_from_json(model.to_json()).get_config() == model.get_config()


def test_torch_save_state_dict_loads_with_load_weights(tmp_path, rng):
    x, _ = _regression_data(rng)
    model = _small_model()
    model.build()
    torch.save(model.module.state_dict(), tmp_path / "weights.pt")
    other = _small_model()
    other.build()
    assert not np.array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    other.load_weights(tmp_path / "weights.pt")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_plain_safetensors_file_loads_with_load_weights(tmp_path, rng):
    x, _ = _regression_data(rng)
    model = _small_model()
    model.build()
    safetensors.torch.save_file(model.module.state_dict(), tmp_path / "weights.safetensors")
    same_names = Sequential.from_config(model.get_config())
    same_names.build()
    same_names.load_weights(tmp_path / "weights.safetensors")
    np.testing.assert_array_equal(same_names.predict(x, verbose=0), model.predict(x, verbose=0))


def test_plain_safetensors_file_with_other_layer_names_is_refused_not_guessed(tmp_path):
    """safetensors keeps no tensor order, so a model built again in code (other automatic layer names:
    dense_2 instead of dense) cannot be matched by position: the error says so instead of guessing."""
    model = _small_model()
    model.build()
    safetensors.torch.save_file(model.module.state_dict(), tmp_path / "weights.safetensors")
    other = _small_model()
    other.build()
    with pytest.raises(ConfigError, match="do not line up layer by layer"):
        other.load_weights(tmp_path / "weights.safetensors")


def test_plain_safetensors_weights_are_never_loaded_into_the_wrong_tensors(tmp_path):
    """safetensors stores tensors sorted by name (``bias`` before ``weight``), so matching by position
    must not pair LayerNormalization's gamma with its beta: load them right or refuse."""
    model = Sequential([layers.Input(shape=(3,)), layers.LayerNormalization()])
    model.build()
    model.set_weights([np.array([1.0, 2.0, 3.0], np.float32), np.array([10.0, 20.0, 30.0], np.float32)])
    safetensors.torch.save_file(model.module.state_dict(), tmp_path / "weights.safetensors")
    other = Sequential([layers.Input(shape=(3,)), layers.LayerNormalization()])  # layer_normalization_1
    other.build()
    try:
        other.load_weights(tmp_path / "weights.safetensors")
    except ConfigError:
        return
    _assert_same_weights(other.get_weights(), model.get_weights())


def _model_whose_file_starts_with_the_pickle_byte(path, save: str) -> Sequential:
    """A built model that ``save`` ("save" or "save_weights") writes to ``path`` as a file whose first byte,
    the low byte of the safetensors header length, is 0x80 (found by varying a layer name)."""
    for length in range(1, 120):
        model = Sequential([layers.Input(shape=(3,)), layers.Dense(2, name="d" * length), layers.Dense(1)])
        model.build()
        getattr(model, save)(path)
        if path.read_bytes()[:1] == b"\x80":
            return model
    raise AssertionError("no layer name gave a header length starting with byte 0x80")


def test_a_model_file_starting_with_the_pickle_byte_loads(tmp_path, rng):
    """A safetensors file starts with its header length (little-endian, a multiple of 8), so one file in 32
    begins with 0x80, the byte that also starts a pickle; such files are still nnkit files and must load."""
    x, _ = _regression_data(rng)
    model = _model_whose_file_starts_with_the_pickle_byte(tmp_path / "m.keras", "save")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_weights_file_starting_with_the_pickle_byte_loads(tmp_path, rng):
    x, _ = _regression_data(rng)
    model = _model_whose_file_starts_with_the_pickle_byte(tmp_path / "m.weights", "save_weights")
    fresh = Sequential.from_config(model.get_config())
    fresh.build()
    fresh.load_weights(tmp_path / "m.weights")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loaded_weights_live_on_the_default_device(tmp_path):
    model = _small_model()
    model.build()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    device = nnkit.config.default_device()
    assert {p.device.type for p in loaded.module.state_dict().values()} == {device.type}
    assert loaded.device.type == device.type


def test_evaluate_builds_no_optimizer_and_keeps_the_saved_one(tmp_path, rng):
    """`nnkit evaluate` spent seconds building an optimizer it never stepped (torch's first optimizer imports
    much of torch); evaluating a loaded model builds none, and saving it again keeps the loaded moments."""
    x, y = _regression_data(rng)
    model = _small_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    loss = loaded.evaluate(x, y, verbose=0)
    assert loaded.optimizer.torch_optimizer is None and loss == model.evaluate(x, y, verbose=0)
    loaded.save(tmp_path / "again.keras")
    again = load_model(tmp_path / "again.keras")
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    assert again.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history == history
    assert loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history == history
