"""Tensor arithmetic of the image layers: resizing with Keras's crop/pad-to-aspect-ratio rules, and
affine resampling with Keras's fill modes, both on whole ``(batch, channels, height, width)`` batches.

Keras's torch backend resizes with ``F.interpolate`` and resamples with an index-based
``map_coordinates`` (output pixel ``(x, y)`` reads input ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``).
The resampling here gives the same values from one ``grid_sample`` per batch: Keras's ``reflect``
is torch's ``reflection`` about the pixel edges, ``nearest`` is ``border``, ``constant`` is ``zeros``
shifted by the fill value, and ``wrap`` samples a circularly padded image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Keras's interpolation names and the ``F.interpolate`` mode of each (Keras's torch backend uses the same).
RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}

#: Fill modes of the affine augmentation layers (Keras's ``_SUPPORTED_FILL_MODE``).
FILL_MODES = ("reflect", "wrap", "constant", "nearest")

#: Interpolations of the affine augmentation layers.
AFFINE_INTERPOLATIONS = ("bilinear", "nearest")


def aspect_window(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)``: the largest centred window with the target aspect ratio.

    Integer arithmetic exactly as Keras's ``smart_resize`` / ``crop_to_aspect_ratio``.
    """
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_height) / 2), int(float(width - crop_width) / 2), crop_height, crop_width


def pad_to_aspect(images: Tensor, target_height: int, target_width: int, fill_value: float) -> Tensor:
    """Pad ``images`` evenly on the short side to the target aspect ratio, as Keras's ``pad_to_aspect_ratio``."""
    height, width = images.shape[-2:]
    pad_height = max(height, int(float(width * target_height) / target_width))
    pad_width = max(width, int(float(height * target_width) / target_height))
    top, left = int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)
    if top == 0 and left == 0:
        return images
    return F.pad(images, (left, left, top, top), value=float(fill_value))  # Keras pads both sides equally


def resize(images: Tensor, size: tuple[int, int], interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
           fill_value: float = 0.0) -> Tensor:
    """``(batch, channels, height, width)`` float images resized to ``size``, as ``keras.ops.image.resize``."""
    if crop_to_aspect_ratio:
        top, left, crop_height, crop_width = aspect_window(*images.shape[-2:], *size)
        images = images[..., top:top + crop_height, left:left + crop_width]
    elif pad_to_aspect_ratio:
        images = pad_to_aspect(images, *size, fill_value)
    if tuple(images.shape[-2:]) == tuple(size) and not antialias:
        # Interpolating to the same size is the identity for every mode (a copy Keras pays, nnkit need not).
        return images
    smooth = interpolation in ("bilinear", "bicubic")
    return F.interpolate(images, size=tuple(size), mode=RESIZE_MODES[interpolation],
                         align_corners=False if smooth else None, antialias=antialias and smooth)


def center_crop_or_resize(images: Tensor, height: int, width: int) -> Tensor:
    """Keras's ``CenterCrop`` (and ``RandomCrop`` at inference): a centred crop when the image is at least
    ``height x width``, else the largest centred window of that aspect ratio resized bilinearly."""
    in_height, in_width = images.shape[-2:]
    if in_height >= height and in_width >= width:
        top, left = (in_height - height) // 2, (in_width - width) // 2
        return images[..., top:top + height, left:left + width]
    return resize(images, (height, width), crop_to_aspect_ratio=True)


def pixel_grid(height: int, width: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Column (``x``) and row (``y``) indices of every output pixel, shaped ``(1, height, width)``."""
    ys = torch.arange(height, dtype=like.dtype, device=like.device).view(1, height, 1)
    xs = torch.arange(width, dtype=like.dtype, device=like.device).view(1, 1, width)
    return xs.expand(1, height, width), ys.expand(1, height, width)


def affine_sample(images: Tensor, matrix: Tensor, interpolation: str = "bilinear", fill_mode: str = "reflect",
                  fill_value: float = 0.0) -> Tensor:
    """Resample ``(batch, channels, height, width)`` images through per-image affine maps.

    Args:
        images: Float images, channels first.
        matrix: ``(batch, 2, 3)``: output pixel ``(x, y, 1)`` (column, row) reads input pixel
            ``matrix @ (x, y, 1)``, in pixel units with pixel centres at integers (Keras's convention).
        interpolation: ``'bilinear'`` or ``'nearest'``.
        fill_mode: How points outside the input are filled: ``'reflect'`` (``d c b a | a b c d | d c b a``),
            ``'wrap'`` (``a b c d | a b c d``), ``'nearest'`` (``a a a a | a b c d | d d d d``) or
            ``'constant'`` (``fill_value``).
        fill_value: The value outside the image for ``fill_mode='constant'``.

    Returns:
        The resampled images, shaped like ``images``.
    """
    height, width = images.shape[-2:]
    matrix = matrix.to(images.dtype)
    xs, ys = pixel_grid(height, width, images)
    a = matrix[:, :, :, None, None]  # (batch, 2, 3, 1, 1) against (1, height, width) grids
    x_in = a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2]
    y_in = a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2]
    source, padding = images, {"reflect": "reflection", "nearest": "border"}.get(fill_mode, "zeros")
    if fill_mode == "wrap":  # one circular pixel each side lets the last pixel blend with the first
        source = F.pad(images, (1, 1, 1, 1), mode="circular")
        x_in, y_in = torch.remainder(x_in, width) + 1, torch.remainder(y_in, height) + 1
    elif fill_mode == "constant" and fill_value != 0:
        source = images - fill_value  # outside points read 0, i.e. fill_value once it is added back
    in_height, in_width = source.shape[-2:]
    # Pixel coordinates to grid_sample's [-1, 1] (align_corners=False: -1 and 1 are the outer pixel edges).
    grid = torch.stack(((2 * x_in + 1) / in_width - 1, (2 * y_in + 1) / in_height - 1), dim=-1)
    out = F.grid_sample(source, grid, mode=interpolation, padding_mode=padding, align_corners=False)
    return out + fill_value if fill_mode == "constant" and fill_value != 0 else out
