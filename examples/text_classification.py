"""Classify token sequences with Embedding + Bidirectional LSTM and with Embedding + GlobalAveragePooling1D.

The "documents" are synthetic: random filler words, of random length, with two keywords of their
topic and one of another topic somewhere inside; the model has to find and count them. Documents
longer than 40 tokens are cut to their last 40, which may lose keywords, as real truncation does. Sequences are padded with zeros at the front
(``pad_sequences``'s default), and ``mask_zero=True`` makes both models ignore the padding.

Run: ``python examples/text_classification.py`` (synthetic data, no download).
"""

from __future__ import annotations

import numpy as np

import nnkit as keras
from nnkit.layers import LSTM, Bidirectional, Dense, Embedding, GlobalAveragePooling1D, Input
from nnkit.models import Sequential

VOCAB = 60  # id 0 is padding; 1..9 are topic keywords; 10..59 are filler words
TOPICS = {0: (1, 2, 3), 1: (4, 5, 6), 2: (7, 8, 9)}
MAXLEN = 40


def documents(n: int, rng: np.random.Generator) -> tuple[list[list[int]], np.ndarray]:
    """Token lists of 5 to 50 words and their topic labels: two keywords of the topic and one of
    another topic (a distractor) among filler words, so the model has to count, not just spot."""
    docs, labels = [], rng.integers(len(TOPICS), size=n)
    for label in labels:
        words = list(rng.integers(10, VOCAB, size=rng.integers(5, 51)))
        other = (label + rng.integers(1, len(TOPICS))) % len(TOPICS)
        keywords = [*rng.choice(TOPICS[label], size=2), rng.choice(TOPICS[other])]
        for position, keyword in zip(rng.choice(len(words), size=3, replace=False), keywords):
            words[position] = keyword
        docs.append(words)
    return docs, labels


def pad_sequences(sequences: list[list[int]], maxlen: int) -> np.ndarray:
    """Keras's ``pad_sequences`` defaults: zeros in front, long sequences keep their end."""
    padded = np.zeros((len(sequences), maxlen), dtype="int64")
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:]
        padded[row, maxlen - len(tail):] = tail
    return padded


def train(model: Sequential, x_train: np.ndarray, y_train: np.ndarray, epochs: int) -> Sequential:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=0)
    return model


def main() -> dict[str, float]:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    docs, labels = documents(2000, rng)
    x = pad_sequences(docs, MAXLEN)
    x_train, y_train, x_test, y_test = x[:1500], labels[:1500], x[1500:], labels[1500:]
    print(f"{len(x_train)} training documents, padded to {MAXLEN} tokens; first one: {x_train[0][-12:]}...")

    models = {
        "Embedding + Bidirectional LSTM": (Sequential([
            Input(shape=(MAXLEN,)),
            Embedding(VOCAB, 16, mask_zero=True),
            Bidirectional(LSTM(16)),
            Dense(len(TOPICS), activation="softmax"),
        ]), 4),
        "Embedding + GlobalAveragePooling1D": (Sequential([
            Input(shape=(MAXLEN,)),
            Embedding(VOCAB, 16, mask_zero=True),
            GlobalAveragePooling1D(),
            Dense(16, activation="relu"),
            Dense(len(TOPICS), activation="softmax"),
        ]), 12),
    }
    accuracies = {}
    for name, (model, epochs) in models.items():
        train(model, x_train, y_train, epochs)
        accuracies[name] = float(model.evaluate(x_test, y_test, verbose=0)[1])
        print(f"{name}: test accuracy {accuracies[name]:.3f}")
    return accuracies


if __name__ == "__main__":
    main()
