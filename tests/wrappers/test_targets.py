"""Target encoding round trips over arbitrary label sets (property-based)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nnkit import losses
from nnkit.wrappers.targets import ClassTargets

label_values = st.one_of(
    st.lists(st.integers(-1000, 1000), min_size=2, max_size=6, unique=True),
    st.lists(st.text(min_size=1, max_size=4), min_size=2, max_size=6, unique=True),
)


@settings(max_examples=60, deadline=None)
@given(values=label_values, picks=st.lists(st.integers(0, 5), min_size=2, max_size=40))
@example(values=["0", "\x00"], picks=[0, 0])  # a NumPy str array would turn '\x00' into ''
def test_labels_survive_every_encoding_the_network_may_need(values, picks):
    y = np.array([values[i % len(values)] for i in picks] + values[:2], dtype=object if isinstance(values[0], str)
                 else None)
    targets = ClassTargets.fit(y)
    np.testing.assert_array_equal(targets.classes, np.unique(y))
    index = targets.indices(y)
    np.testing.assert_array_equal(targets.classes[index], y)
    one_hot = targets.for_model(index, targets.n_classes, losses.get("categorical_crossentropy"))
    np.testing.assert_array_equal(one_hot.argmax(axis=1), index)
    sparse = targets.for_model(index, targets.n_classes, losses.get("sparse_categorical_crossentropy"))
    np.testing.assert_array_equal(sparse, index)
    np.testing.assert_array_equal(targets.labels(one_hot.astype(np.float64)), y)
    if targets.n_classes == 2:
        column = targets.for_model(index, 1, losses.get("binary_crossentropy"))
        np.testing.assert_array_equal(targets.labels(targets.probabilities(column.astype(float), None)), y)


@settings(max_examples=30, deadline=None)
@given(values=label_values, unseen=st.integers(2000, 3000))
def test_unseen_labels_are_refused(values, unseen):
    targets = ClassTargets.fit(np.array(values, dtype=object if isinstance(values[0], str) else None))
    stranger = str(unseen) + "?" if isinstance(values[0], str) else unseen
    with pytest.raises(ValueError, match="not fitted with"):
        targets.indices(np.array([*values, stranger], dtype=object if isinstance(values[0], str) else None))
