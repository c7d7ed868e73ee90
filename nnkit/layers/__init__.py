"""Layers mirroring ``keras.layers``: callable ``torch.nn.Module`` objects, each running a plain torch module."""

from nnkit.layers.base import LAYERS, Layer
from nnkit.layers.core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer, Reshape
from nnkit.layers.symbolic import KerasTensor

__all__ = ["LAYERS", "Activation", "Dense", "Dropout", "Flatten", "Identity", "Input", "InputLayer",
           "KerasTensor", "Layer", "Reshape", "get"]


# Normalization, regularization, activation and utility layers.
from nnkit.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from nnkit.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from nnkit.layers.preprocessing import Normalization, Rescaling
from nnkit.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from nnkit.layers.utility import Lambda, TorchModule

__all__ += ["ELU", "ActivityRegularization", "AlphaDropout", "BatchNormalization", "GaussianDropout", "GaussianNoise",
            "GroupNormalization", "Lambda", "LayerNormalization", "LeakyReLU", "Normalization", "PReLU", "ReLU",
            "Rescaling", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "TorchModule",
            "UnitNormalization"]


# Convolution, pooling and spatial reshaping layers.
from nnkit.layers.convolutional import Conv1D, Conv2D, Conv3D  # noqa: E402
from nnkit.layers.convolutional_depthwise import (  # noqa: E402
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from nnkit.layers.convolutional_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose  # noqa: E402
from nnkit.layers.pooling import (  # noqa: E402
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from nnkit.layers.reshaping import (  # noqa: E402
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)

Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
GlobalAvgPool3D, GlobalMaxPool3D = GlobalAveragePooling3D, GlobalMaxPooling3D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
__all__ += ["Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose", "GlobalAvgPool3D",
            "GlobalMaxPool3D", "SeparableConvolution1D", "SeparableConvolution2D"]

__all__ += ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
            "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Convolution1D",
            "Convolution2D", "Convolution3D", "Cropping1D", "Cropping2D", "Cropping3D", "DepthwiseConv1D",
            "DepthwiseConv2D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool2D",
            "GlobalMaxPool2D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
            "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "SeparableConv1D", "SeparableConv2D", "UpSampling1D",
            "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]


# Recurrent, embedding and sequence layers.
from nnkit.layers.bidirectional import Bidirectional  # noqa: E402
from nnkit.layers.embedding import Embedding, Masking  # noqa: E402
from nnkit.layers.recurrent import GRU, LSTM, SimpleRNN  # noqa: E402
from nnkit.layers.sequence import Permute, RepeatVector, TimeDistributed  # noqa: E402
from nnkit.layers.sequence_pooling import GlobalAveragePooling1D, GlobalMaxPooling1D  # noqa: E402

GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D

__all__ += ["GRU", "LSTM", "Bidirectional", "Embedding", "GlobalAveragePooling1D", "GlobalAvgPool1D",
            "GlobalMaxPool1D", "GlobalMaxPooling1D", "Masking", "Permute", "RepeatVector", "SimpleRNN",
            "TimeDistributed"]


# Merging layers and their function forms.
from nnkit.layers.merging import (  # noqa: E402
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)

__all__ += ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
            "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]


# Attention layers.
from nnkit.layers.attention import AdditiveAttention, Attention, EinsumDense, MultiHeadAttention  # noqa: E402

__all__ += ["AdditiveAttention", "Attention", "EinsumDense", "MultiHeadAttention"]


# Adaptive pooling layers.
from nnkit.layers.adaptive_pooling import (  # noqa: E402
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)

__all__ += ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
            "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]


# RMS and spectral normalization.
from nnkit.layers.rms_normalization import RMSNormalization  # noqa: E402
from nnkit.layers.spectral_normalization import SpectralNormalization  # noqa: E402

__all__ += ["RMSNormalization", "SpectralNormalization"]


# Recurrent cells and the generic RNN.
from nnkit.layers.rnn import RNN, StackedRNNCells  # noqa: E402
from nnkit.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell  # noqa: E402

__all__ += ["RNN", "GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"]

from nnkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D  # noqa: E402

__all__ += ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]


# Non-image preprocessing: category encoding, discretization, hashing, lookups and text vectorization.
from nnkit.layers.encoding import CategoryEncoding, Discretization  # noqa: E402
from nnkit.layers.hashing import Hashing  # noqa: E402
from nnkit.layers.lookup import IntegerLookup, StringLookup  # noqa: E402
from nnkit.layers.text_vectorization import TextVectorization  # noqa: E402

__all__ += ["CategoryEncoding", "Discretization", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"]


# Image preprocessing and augmentation.
from nnkit.layers.augmentation import RandomBrightness, RandomContrast, RandomCrop, RandomFlip  # noqa: E402
from nnkit.layers.augmentation_affine import RandomRotation, RandomTranslation, RandomZoom  # noqa: E402
from nnkit.layers.image_preprocessing import CenterCrop, Resizing  # noqa: E402
from nnkit.layers.pipeline import Pipeline  # noqa: E402

__all__ += ["CenterCrop", "Pipeline", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Resizing"]


def get(identifier):
    """A layer from an instance or a ``{"class_name": ..., "config": {...}}`` dict."""
    if isinstance(identifier, Layer):
        return identifier
    from nnkit.errors import ConfigError

    if isinstance(identifier, dict) and "class_name" in identifier:
        return LAYERS.get(identifier["class_name"]).from_config(identifier.get("config", {}))
    raise ConfigError(f"Expected a layer or a {{'class_name', 'config'}} dict. Received: {identifier!r}.")



from nnkit.registry import serializers  # noqa: E402

serialize, deserialize = serializers(get, "layer")
__all__ += ["deserialize", "serialize"]
