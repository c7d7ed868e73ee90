"""A search spread over a real local Dask cluster (2 worker processes) gives the sequential results."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from nnkit.layers import Dense
from nnkit.wrappers import KerasClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env={"OMP_NUM_THREADS": "1"})
    with cluster, distributed.Client(cluster) as client:
        yield client


def _estimator():
    return KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", epochs=4, random_state=0)


def test_grid_search_on_dask_equals_the_sequential_search(client):
    x, y = load_iris(return_X_y=True)
    grid = {"layers__0__units": [4, 8], "optimizer__learning_rate": [0.01, 0.05]}
    sequential = GridSearchCV(_estimator(), grid, cv=3).fit(x, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        spread = GridSearchCV(_estimator(), grid, cv=3, n_jobs=-1).fit(x, y)
    workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2  # the fits really ran in both worker processes ...
    pids = client.run(os.getpid)
    assert os.getpid() not in pids.values()
    for key in ("params", "mean_test_score", "std_test_score", "rank_test_score",
                *(f"split{i}_test_score" for i in range(3))):
        assert list(spread.cv_results_[key]) == list(sequential.cv_results_[key]), key  # ... with equal results
    np.testing.assert_array_equal(spread.predict(x), sequential.predict(x))


def test_randomized_search_with_distributions_on_dask(client):
    from scipy.stats import loguniform

    x, y = load_iris(return_X_y=True)
    space = {"optimizer__learning_rate": loguniform(1e-3, 1e-1), "layers__0__units": [4, 8, 16]}
    sequential = RandomizedSearchCV(_estimator(), space, n_iter=4, cv=2, random_state=0).fit(x, y)
    with joblib.parallel_backend("dask"):
        spread = RandomizedSearchCV(_estimator(), space, n_iter=4, cv=2, random_state=0, n_jobs=-1).fit(x, y)
    assert list(spread.cv_results_["mean_test_score"]) == list(sequential.cv_results_["mean_test_score"])
    assert spread.best_params_ == sequential.best_params_
