"""A GAN on scikit-learn's 8x8 digits, written as Keras's "Customizing fit() with PyTorch" guide writes it
(only the imports changed): a generator and a discriminator, a custom ``train_step`` with two optimizers,
loss trackers reset every epoch. Run: ``python examples/gan.py`` (about half a minute on a CPU); it saves a
grid of generated digits to ``gan_digits.png`` when given ``--plot``.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from sklearn.datasets import load_digits

import nnkit as keras
from nnkit import layers, ops

LATENT_DIM = 16


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        batch_size = real_images.shape[0]
        # Train the discriminator on generated (label 1) and real (label 0) images, with a little label noise.
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(labels.shape, seed=self.seed_generator)
        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        # Train the generator to make the discriminator say "real" (label 0).
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_gan() -> GAN:
    discriminator = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, 3, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, 3, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(), layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")
    generator = keras.Sequential([
        keras.Input(shape=(LATENT_DIM,)),
        layers.Dense(2 * 2 * 64), layers.LeakyReLU(negative_slope=0.2), layers.Reshape((2, 2, 64)),
        layers.Conv2DTranspose(64, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(32, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ], name="generator")
    return GAN(discriminator=discriminator, generator=generator, latent_dim=LATENT_DIM)


def main(epochs: int = 20, verbose: int = 2) -> dict[str, list[float]]:
    """Train the GAN; returns its History."""
    keras.utils.set_random_seed(0)
    images = (load_digits().images[..., None] / 16.0).astype("float32")
    gan = build_gan()
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                loss_fn=keras.losses.BinaryCrossentropy())
    history = gan.fit(images, epochs=epochs, batch_size=64, verbose=verbose)
    if "--plot" in sys.argv:
        samples = gan.generator(keras.random.normal((16, LATENT_DIM), seed=1)).detach().numpy()[..., 0]
        grid = np.concatenate([np.concatenate(list(row), axis=1) for row in samples.reshape(4, 4, 8, 8)], axis=0)
        import matplotlib.pyplot as plt

        plt.imsave("gan_digits.png", grid, cmap="gray")
    return history.history


if __name__ == "__main__":
    main()
