"""A variational autoencoder on scikit-learn's 8x8 digits, in Keras's style with only the imports changed: a
custom ``Sampling`` layer draws the latent code and adds the KL divergence with ``add_loss``; ``fit``
minimizes reconstruction + KL. Run: ``python examples/vae.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

from sklearn.datasets import load_digits

import nnkit as keras
from nnkit import layers, ops

LATENT_DIM = 2


class Sampling(layers.Layer):
    """Draws ``z = mean + exp(log_var / 2) * epsilon`` and adds the KL divergence to the loss."""

    def __init__(self, kl_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.kl_weight = kl_weight
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = ops.shape(z_mean)
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        kl = -0.5 * ops.mean(ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        self.add_loss(self.kl_weight * kl / 64.0)  # per pixel, like the reconstruction loss's mean
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_vae() -> keras.Model:
    images = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(64, activation="relu")(images)
    z_mean = layers.Dense(LATENT_DIM, name="z_mean")(hidden)
    z_log_var = layers.Dense(LATENT_DIM, name="z_log_var")(hidden)
    z = Sampling(name="sampling")([z_mean, z_log_var])
    decoded = layers.Dense(64, activation="relu")(z)
    return keras.Model(images, layers.Dense(64, activation="sigmoid", name="reconstruction")(decoded), name="vae")


def main(epochs: int = 30, verbose: int = 2) -> dict[str, list[float]]:
    """Train the VAE; returns its History."""
    keras.utils.set_random_seed(0)
    pixels = (load_digits().data / 16.0).astype("float32")
    vae = build_vae()
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss="binary_crossentropy")
    history = vae.fit(pixels, pixels, epochs=epochs, batch_size=64, validation_split=0.1, verbose=verbose)
    if verbose:
        vae.summary()
    return history.history


if __name__ == "__main__":
    main()
