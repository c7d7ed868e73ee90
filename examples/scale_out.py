"""From a laptop to a multi-GPU node to a Dask cluster, with the same model code.

The model is defined once (``build_model``). What changes is only how the script is started:

    python examples/scale_out.py train                       # one process: CPU, or the GPU if there is one
    torchrun --nproc_per_node=4 examples/scale_out.py train  # 4 processes (e.g. 4 GPUs), data-parallel (DDP)
    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=$RANK \\
        --rdzv_backend=c10d --rdzv_endpoint=$HEAD:29500 examples/scale_out.py train   # 2 nodes x 8 GPUs
    python examples/scale_out.py search                      # grid search, sequential
    python examples/scale_out.py search --dask 2             # the same search on a local 2-process Dask cluster
    python examples/scale_out.py search --scheduler tcp://head:8786   # ... or on a running Dask cluster

Under torchrun every process runs this file; ``fit`` finds out from the environment, splits each batch
across the processes, averages the gradients and logs the metrics of the whole batch; only rank 0 prints
and writes ``scale_out.keras``. A search hands each cross-validation fit to a Dask worker through joblib.
"""

from __future__ import annotations

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from nnkit import distributed
from nnkit.callbacks import EarlyStopping
from nnkit.layers import Dense, Dropout, Input
from nnkit.models import Sequential
from nnkit.utils import set_random_seed


def build_model(units: int = 64, dropout: float = 0.2) -> Sequential:
    """The model: the only code that describes the network, used unchanged everywhere below."""
    return Sequential([Input(shape=(64,)), Dense(units, activation="relu"), Dropout(dropout),
                       Dense(10, activation="softmax")])


def data():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y


def train(epochs: int) -> float:
    """Train on one process, or data-parallel when started by torchrun; returns the validation accuracy of
    the saved model (the best epoch's weights, restored by early stopping)."""
    set_random_seed(0)
    x, y = data()
    cut = int(len(x) * 0.8)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:cut], y[:cut], epochs=epochs, batch_size=64, validation_data=(x[cut:], y[cut:]),
                        verbose=0, callbacks=[EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)])
    model.save("scale_out.keras")  # written by rank 0 only
    accuracy = model.evaluate(x[cut:], y[cut:], verbose=0, return_dict=True)["accuracy"]
    if distributed.is_main_process():
        print(f"{distributed.world_size()} process(es): validation accuracy {accuracy:.3f} after "
              f"{len(history.epoch)} epochs; model saved to scale_out.keras")
    return accuracy


def search(epochs: int, dask_workers: int = 0, scheduler: str | None = None) -> GridSearchCV:
    """A grid search over the same model; on Dask when asked."""
    from nnkit.wrappers import KerasClassifier

    x, y = data()
    estimator = KerasClassifier(model=build_model, optimizer="adam", epochs=epochs, batch_size=64, random_state=0)
    grid = {"model__units": [32, 64], "model__dropout": [0.0, 0.2]}
    started = time.perf_counter()
    if dask_workers or scheduler:
        import joblib
        from distributed import Client, LocalCluster

        cluster = None if scheduler else LocalCluster(n_workers=dask_workers, threads_per_worker=1,
                                                      dashboard_address=None, env={"OMP_NUM_THREADS": "1"})
        with Client(scheduler or cluster) as client, joblib.parallel_backend("dask"):
            where = f"Dask ({len(client.scheduler_info()['workers'])} workers)"
            result = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(x, y)
        if cluster is not None:
            cluster.close()
    else:
        where = "this process"
        result = GridSearchCV(estimator, grid, cv=3).fit(x, y)
    print(f"searched {len(result.cv_results_['params'])} candidates x 3 folds on {where} in "
          f"{time.perf_counter() - started:.1f} s; best {result.best_params_} (accuracy {result.best_score_:.3f})")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "search"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dask", type=int, default=0, metavar="N", help="start a local Dask cluster of N workers")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = parser.parse_args(argv)
    if args.command == "train":
        train(args.epochs)
    else:
        search(args.epochs, args.dask, args.scheduler)


if __name__ == "__main__":
    main()
