"""Hyperparameter searches that train groupable candidate x fold fits together (scikit-learn's API)."""

from nnkit.model_selection.search import GridSearchCV, RandomizedSearchCV

__all__ = ["GridSearchCV", "RandomizedSearchCV"]
