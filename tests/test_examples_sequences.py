"""The sequence examples run and reach what they promise: forecasts beating the naive baseline, and
token classifiers that learn their topics."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_lstm_and_gru_beat_the_naive_sine_forecast(capsys):
    namespace = runpy.run_path(str(EXAMPLES / "sine_forecast.py"), run_name="sine_forecast")
    results = namespace["main"]()
    assert results["LSTM"] < 0.8 * results["naive last value"]
    assert results["GRU"] < 0.8 * results["naive last value"]
    out = capsys.readouterr().out
    assert "LSTM beats the naive forecast: True" in out and "GRU beats the naive forecast: True" in out


def test_embedding_classifiers_learn_the_topics(capsys):
    namespace = runpy.run_path(str(EXAMPLES / "text_classification.py"), run_name="text_classification")
    accuracies = namespace["main"]()
    assert accuracies["Embedding + Bidirectional LSTM"] >= 0.9
    assert accuracies["Embedding + GlobalAveragePooling1D"] >= 0.9
    assert "test accuracy" in capsys.readouterr().out
