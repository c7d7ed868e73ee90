"""``GridSearchCV`` and ``RandomizedSearchCV`` that train groupable candidate x fold fits together.

They are scikit-learn's searches (same constructor, attributes and results); only the fits change. Before
scikit-learn evaluates a batch of candidates, the fits of an nnkit estimator that the stacked trainer can
reproduce exactly (:mod:`nnkit.model_selection.members`) are grouped by network shape and batch schedule
and trained together (:mod:`nnkit.model_selection.stacked`). scikit-learn then scores every fit as usual:
the fits trained in a stack arrive already fitted, the others are fitted one by one as before.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from inspect import signature
from itertools import product
from typing import Any

import numpy as np
from sklearn import model_selection as sk
from sklearn.base import clone
from sklearn.model_selection import _search
from sklearn.utils.validation import indexable

from nnkit.model_selection.members import Member, Unsupported, finish, prepare
from nnkit.model_selection.stacked import train_group
from nnkit.wrappers.keras_api import KerasWrapper

_PATCH_LOCK = threading.RLock()
_SCORED_BY = _search._fit_and_score  # scikit-learn's own fit-and-score, which scores the stacked fits too
_KNOWS_CALLER = "caller" in signature(_SCORED_BY).parameters


class StackedSearchMixin:
    """The stacked fitting of :class:`GridSearchCV` and :class:`RandomizedSearchCV` (see the module)."""

    def fit(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Run the search as scikit-learn does, training groupable fits together; returns ``self``."""
        self._stack_inputs = (X, y, params)
        try:
            return super().fit(X, y, **params)
        finally:
            del self._stack_inputs

    def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:
        def evaluate(candidate_params: Any, cv: Any = None, more_results: Any = None, **kwargs: Any) -> Any:
            candidate_params = list(candidate_params)
            fitted = self._stacked_fits(candidate_params, cv or self._checked_cv_orig)
            with _prefitted(self, fitted):
                return evaluate_candidates(candidate_params, cv, more_results, **kwargs)

        if "callback_ctx" in signature(super()._run_search).parameters:
            super()._run_search(evaluate, callback_ctx=callback_ctx)
        else:  # pragma: no cover - scikit-learn < 1.9
            super()._run_search(evaluate)

    def _stacked_fits(self, candidate_params: list[dict[str, Any]], cv: Any) -> dict[tuple[int, int], Any]:
        """``{(candidate, split): (fitted estimator, fit time)}`` for the fits trained in stacks."""
        X, y, params = self._stack_inputs
        total = len(candidate_params) * self.n_splits_
        whole = None
        if not isinstance(self.estimator, KerasWrapper):
            whole = f"the estimator is a {type(self.estimator).__name__}"
        elif params:
            whole = f"fit parameters ({', '.join(sorted(params))})"
        elif self.n_jobs not in (None, 1):
            whole = f"n_jobs={self.n_jobs} (fits run in worker processes)"
        elif not _KNOWS_CALLER:
            whole = "a scikit-learn without the caller of _fit_and_score (before 1.9)"
        X, y = indexable(X, y)
        splits = _repeatable_splits(cv, X, y) if whole is None else []
        if splits is None:  # scikit-learn splits again: the stacked fits must train on its folds
            whole = "the cv splits change from call to call"
        if whole is not None:
            self._say_groups([], total, Counter({whole: total}))
            return {}
        reasons: Counter[str] = Counter()
        base = clone(self.estimator)
        groups: dict[tuple, list[tuple[tuple[int, int], Member]]] = defaultdict(list)
        for (c, candidate), (s, (train, _)) in product(enumerate(candidate_params), enumerate(splits)):
            try:
                member = prepare(base, candidate, X, y, train)
            except Unsupported as reason:
                reasons[str(reason)] += 1
                continue
            except Exception as exc:  # fitted one by one, where error_score handles it
                reasons[f"{type(exc).__name__} while building"] += 1
                continue
            groups[member.key].append(((c, s), member))
        fitted: dict[tuple[int, int], Any] = {}
        formed = []
        for group in groups.values():
            if len(group) < 2:
                reasons["no other fit shares its network and schedule"] += 1
                continue
            start = time.time()
            try:
                histories = train_group([member for _, member in group])
            except Exception as exc:  # e.g. a loss vmap cannot batch: these fits run one by one instead
                reasons[f"stacked training failed ({type(exc).__name__}: {exc})"] += len(group)
                continue
            share = (time.time() - start) / len(group)
            for (where, member), history in zip(group, histories):
                fitted[where] = (finish(member, history), share)
            formed.append(len(group))
        self._say_groups(formed, total, reasons)
        return fitted

    def _say_groups(self, formed: list[int], total: int, reasons: Counter[str]) -> None:
        if not self.verbose:
            return
        print(f"Stacked training: {sum(formed)} of {total} fits in {len(formed)} groups {sorted(formed, reverse=True)}"
              + ("" if not reasons else "; one by one: " + ", ".join(f"{n} x {r}" for r, n in reasons.items())))


def _repeatable_splits(cv: Any, X: Any, y: Any) -> list[tuple[Any, Any]] | None:
    """The folds of ``cv``, or ``None`` when splitting again gives other folds (a shared random generator)."""
    splits = list(cv.split(X, y))
    again = list(cv.split(X, y))
    same = len(again) == len(splits) and all(np.array_equal(a, b) for first, second in zip(splits, again)
                                             for a, b in zip(first, second))
    return splits if same else None


class _AlreadyFitted:
    """Stands in for ``fit`` on an estimator trained in a stack (an instance attribute, removed after use)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.estimator


class _ScoreFitted:
    """scikit-learn's ``_fit_and_score``, handed the already fitted estimator for the stacked fits."""

    def __init__(self, search: Any, fitted: dict[tuple[int, int], Any]) -> None:
        self.search, self.fitted = search, fitted

    def __call__(self, estimator: Any, X: Any, y: Any, **kwargs: Any) -> dict[str, Any]:
        where = (kwargs["candidate_progress"][0], kwargs["split_progress"][0])
        # only this search's fits: another search running meanwhile (another thread) is left alone
        entry = self.fitted.get(where) if kwargs.get("caller") is self.search else None
        if entry is None:
            return _SCORED_BY(estimator, X, y, **kwargs)
        trained, fit_time = entry
        trained.fit = _AlreadyFitted(trained)
        try:
            result = _SCORED_BY(trained, X, y, **kwargs)
        finally:
            del trained.fit
        if "fit_time" in result:
            result["fit_time"] = fit_time
        return result


@contextmanager
def _prefitted(search: Any, fitted: dict[tuple[int, int], Any]) -> Any:
    """While scikit-learn evaluates candidates, its fit-and-score takes the stacked fits as fitted."""
    if not fitted:
        yield
        return
    with _PATCH_LOCK:
        previous = _search._fit_and_score
        _search._fit_and_score = _ScoreFitted(search, fitted)
        try:
            yield
        finally:
            _search._fit_and_score = previous


class GridSearchCV(StackedSearchMixin, sk.GridSearchCV):
    """scikit-learn's ``GridSearchCV``; fits of an nnkit estimator that can be trained together are.

    Same constructor, attributes and ``cv_results_`` as scikit-learn's. With ``verbose >= 1`` it prints the
    groups formed and why other fits ran one by one.

    Example:
        >>> search = GridSearchCV(KerasClassifier(build_fn=create_model, random_state=0),
        ...                       {"l2": [0.0, 0.01], "learning_rate": [1e-3, 1e-2]}, cv=3)
        >>> search.fit(X, y)  # doctest: +SKIP
    """


class RandomizedSearchCV(StackedSearchMixin, sk.RandomizedSearchCV):
    """scikit-learn's ``RandomizedSearchCV``; fits of an nnkit estimator that can be trained together are.

    See :class:`GridSearchCV`.
    """


