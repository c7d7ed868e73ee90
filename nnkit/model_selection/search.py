"""``GridSearchCV`` and ``RandomizedSearchCV`` that train groupable candidate x fold fits together.

They are scikit-learn's searches (same constructor, attributes and results); only the fits change. Before
scikit-learn evaluates a batch of candidates, the fits of an nnkit estimator that the stacked trainer can
reproduce exactly (:mod:`nnkit.model_selection.members`) are grouped by network shape and batch schedule
and trained together (:mod:`nnkit.model_selection.stacked`). scikit-learn then scores every fit as usual:
the fits trained in a stack arrive already fitted, the others are fitted one by one as before.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext
from inspect import signature
from itertools import product
from numbers import Integral
from typing import Any

import numpy as np
import torch
from joblib import parallel_config
from sklearn import model_selection as sk
from sklearn.base import clone, is_classifier
from sklearn.model_selection import _search
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import indexable

from nnkit.model_selection.members import Member, Unsupported, finish, prepare, run_bytes
from nnkit.model_selection.stacked import shared_runs, train_runs
from nnkit.utils.seeding import generators_kept
from nnkit.wrappers.keras_api import KerasWrapper

_PATCH_LOCK = threading.RLock()
_SPLIT_OR_WEIGHTS = {"groups", "sample_weight"}  # the fit parameters a stacked search takes
_SCORED_BY = _search._fit_and_score  # scikit-learn's own fit-and-score, which scores the stacked fits too
_KNOWS_CALLER = "caller" in signature(_SCORED_BY).parameters


class StackedSearchMixin:
    """The stacked fitting of :class:`GridSearchCV` and :class:`RandomizedSearchCV` (see the module)."""

    def fit(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Run the search as scikit-learn does, training groupable fits together; returns ``self``.

        With ``n_jobs`` other than 1, a search whose estimator can be stacked runs in this process (a stack
        uses torch's threads; worker processes would each fit one by one); other searches use the workers.
        """
        self._stack_inputs = (X, y, params)
        if hasattr(self, "stacking_"):
            del self.stacking_
        try:
            self._workers_because = None if self.n_jobs in (None, 1) else self._why_not_stacked(X, y, params)
            if self._workers_because is not None:
                return super().fit(X, y, **params)
            with parallel_config(backend="sequential") if self.n_jobs not in (None, 1) else nullcontext():
                return super().fit(X, y, **params)
        finally:
            del self._stack_inputs, self._workers_because

    def _why_not_stacked(self, X: Any, y: Any, params: dict[str, Any]) -> str | None:
        """Why the estimator as given (its own parameters) would not be trained in a stack, or ``None``."""
        whole = _why_none_stacks(self.estimator, params)
        if whole is not None:
            return whole
        try:
            X, y, groups = indexable(X, y, params.get("groups"))
            cv = sk.check_cv(self.cv, y, classifier=is_classifier(self.estimator))
            # a splitter or an unseeded build may draw from the global generators: scikit-learn's come first
            with generators_kept():
                train, _ = next(iter(cv.split(X, y, groups)))
                prepare(clone(self.estimator), {}, X, y, train, params.get("sample_weight"))
        except Unsupported as reason:
            return str(reason)
        except Exception as exc:  # an error the search itself will report
            return f"{type(exc).__name__} while building"
        return None

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
        whole = _why_none_stacks(self.estimator, params)
        if whole is None and self._workers_because is not None:
            whole = f"{self._workers_because} (with n_jobs={self.n_jobs} the fits run in worker processes)"
        X, y, groups = indexable(X, y, params.get("groups"))
        splits = _repeatable_splits(cv, X, y, groups) if whole is None else []
        if splits is None:  # scikit-learn splits again: the stacked fits must train on its folds
            whole = "the cv splits change from call to call"
        if whole is not None:
            self._say_groups([], total, Counter({whole: total}))
            return {}
        reasons: Counter[str] = Counter()
        base = clone(self.estimator)
        groups: dict[tuple, list[tuple[tuple[int, int], Member]]] = defaultdict(list)
        data: dict[tuple, tuple] = {}  # the members of a fold hold one copy of its rows
        for (c, candidate), (s, (train, _)) in product(enumerate(candidate_params), enumerate(splits)):
            try:
                member = prepare(base, candidate, X, y, train, params.get("sample_weight"))
            except Unsupported as reason:
                reasons[str(reason)] += 1
                continue
            except Exception as exc:  # fitted one by one, where error_score handles it
                reasons[f"{type(exc).__name__} while building"] += 1
                continue
            rows = data.setdefault(member.data_key, (member.x, member.y, member.sample_weight, member.validation))
            member.x, member.y, member.sample_weight, member.validation = rows
            groups[member.key].append(((c, s), member))
        fitted: dict[tuple[int, int], Any] = {}
        formed = []
        for group in groups.values():
            if len(group) < 2:
                reasons["no other fit shares its network and schedule"] += 1
                continue
            members = [member for _, member in group]
            runs = shared_runs(members)
            largest = max(1, min(self.stack_size or len(runs), self._memory() // run_bytes(members[0])))
            times: dict[int, float] = {}
            for start in range(0, len(runs), largest):
                chunk = runs[start:start + largest]
                n_fits = sum(len(run.members) for run in chunk)
                began = time.time()
                try:
                    train_runs(chunk)
                except Exception as exc:  # e.g. a loss vmap cannot batch: these fits run one by one instead
                    reasons[f"stacked training failed ({type(exc).__name__}: {exc})"] += n_fits
                    continue
                share = (time.time() - began) / n_fits
                times.update((id(member), share) for run in chunk for member in run.members)
                formed.append((n_fits, len(chunk)))
            for where, member in group:
                if id(member) in times:
                    fitted[where] = (finish(member), times[id(member)])
        self._say_groups(formed, total, reasons)
        return fitted

    def _memory(self) -> int:
        """The memory budget of one stack, in bytes: ``stack_memory``, else a quarter of the machine's memory
        (or of the free memory of the GPU in use)."""
        if self.stack_memory is not None:
            return int(self.stack_memory)
        if torch.cuda.is_available():
            return torch.cuda.mem_get_info()[0] // 4
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4

    def _say_groups(self, formed: list[tuple[int, int]], total: int, reasons: Counter[str]) -> None:
        """Record in ``stacking_`` (and with ``verbose`` print) the stacks formed (fits and the distinct runs
        they share) and why other fits ran one by one."""
        stacks = ", ".join(f"{fits} fits in {runs} runs" for fits, runs in sorted(formed, reverse=True))
        said = (f"Stacked training: {sum(fits for fits, _ in formed)} of {total} fits in {len(formed)} "
                f"stack{'' if len(formed) == 1 else 's'}" + (f" ({stacks})" if formed else "")
                + ("" if not reasons else "; one by one: " + ", ".join(f"{n} x {r}" for r, n in reasons.items())))
        self.stacking_ = said if not hasattr(self, "stacking_") else f"{self.stacking_}\n{said}"
        if self.verbose:
            print(said)


def _why_none_stacks(estimator: Any, params: dict[str, Any]) -> str | None:
    """Why no fit of a search of ``estimator`` fitted with ``params`` can be stacked, or ``None``."""
    last = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(last, KerasWrapper):
        return f"the estimator is a {type(estimator).__name__}"
    if set(params) - _SPLIT_OR_WEIGHTS:  # groups choose the folds; sample weights are stacked
        return f"fit parameters ({', '.join(sorted(set(params) - _SPLIT_OR_WEIGHTS))})"
    if not _KNOWS_CALLER:
        return "a scikit-learn without the caller of _fit_and_score (before 1.9)"
    return None


def _repeatable_splits(cv: Any, X: Any, y: Any, groups: Any) -> list[tuple[Any, Any]] | None:
    """The folds of ``cv``, or ``None`` when splitting again gives other folds (a shared random generator,
    which these probes leave as they found it: scikit-learn's own split draws what it would draw)."""
    with generators_kept():
        splits = list(cv.split(X, y, groups))
        again = list(cv.split(X, y, groups))
    same = len(again) == len(splits) and all(np.array_equal(a, b) for first, second in zip(splits, again)
                                             for a, b in zip(first, second))
    return splits if same else None


class _AlreadyFitted:
    """Stands in for ``fit`` and ``set_params`` on an estimator trained in a stack (instance attributes,
    removed after use)."""

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
        # it was built with these parameters: setting them again would swap fitted steps for unfitted clones
        trained.fit, trained.set_params = _AlreadyFitted(trained), _AlreadyFitted(trained)
        try:
            result = _SCORED_BY(trained, X, y, **kwargs)
        finally:
            del trained.fit, trained.set_params
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


_STACK_CONSTRAINTS = {"stack_size": [Interval(Integral, 1, None, closed="left"), None],
                      "stack_memory": [Interval(Integral, 1, None, closed="left"), None]}


class GridSearchCV(StackedSearchMixin, sk.GridSearchCV):
    """scikit-learn's ``GridSearchCV``; fits of an nnkit estimator that can be trained together are.

    Same constructor, attributes and ``cv_results_`` as scikit-learn's, two more arguments, and one more
    attribute: ``stacking_``, a line per round of candidates saying which fits were trained in stacks and
    why others ran one by one (printed as well with ``verbose >= 1``).

    Args:
        stack_size: The most distinct training runs in one stack (``None``: as many as ``stack_memory``
            allows; ``1`` trains each run alone).
        stack_memory: The memory one stack may take, in bytes (``None``: a quarter of the machine's memory,
            or of the GPU's free memory).

    Example:
        >>> search = GridSearchCV(KerasClassifier(build_fn=create_model, random_state=0),
        ...                       {"l2": [0.0, 0.01], "learning_rate": [1e-3, 1e-2]}, cv=3)
        >>> search.fit(X, y)  # doctest: +SKIP
    """

    _parameter_constraints = {**sk.GridSearchCV._parameter_constraints, **_STACK_CONSTRAINTS}

    def __init__(self, estimator: Any, param_grid: Any, *, scoring: Any = None, n_jobs: int | None = None,
                 refit: Any = True, cv: Any = None, verbose: int = 0, pre_dispatch: Any = "2*n_jobs",
                 error_score: Any = np.nan, return_train_score: bool = False, stack_size: int | None = None,
                 stack_memory: int | None = None) -> None:
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score)
        self.stack_size, self.stack_memory = stack_size, stack_memory


class RandomizedSearchCV(StackedSearchMixin, sk.RandomizedSearchCV):
    """scikit-learn's ``RandomizedSearchCV``; fits of an nnkit estimator that can be trained together are.

    See :class:`GridSearchCV` (``stack_size`` and ``stack_memory`` likewise).
    """

    _parameter_constraints = {**sk.RandomizedSearchCV._parameter_constraints, **_STACK_CONSTRAINTS}

    def __init__(self, estimator: Any, param_distributions: Any, *, n_iter: int = 10, scoring: Any = None,
                 n_jobs: int | None = None, refit: Any = True, cv: Any = None, verbose: int = 0,
                 pre_dispatch: Any = "2*n_jobs", random_state: Any = None, error_score: Any = np.nan,
                 return_train_score: bool = False, stack_size: int | None = None,
                 stack_memory: int | None = None) -> None:
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        self.stack_size, self.stack_memory = stack_size, stack_memory


