"""The run folder: where it goes and what its files hold."""

from __future__ import annotations

import os

import numpy as np
import pytest

from nnkit.callbacks import CSVLogger
from nnkit.errors import ConfigError
from nnkit.runs import prepare, train, validate_config
from nnkit.runs.folder import LOCK_FILE, claim_run_folder
from nnkit.runs.outputs import write_history
from tests.runs.helpers import iris


def test_history_csv_matches_csvlogger(tmp_path):
    run = prepare(iris(fit={"epochs": 3, "validation_split": 0.25}))
    history = run.model.fit(run.data.x_train, run.data.y_train, callbacks=[CSVLogger(str(tmp_path / "keras.csv"))],
                            **run.fit_arguments()).history
    write_history(str(tmp_path / "ours.csv"), history)
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "keras.csv").read_text()


def test_run_dir_placeholders_and_collisions(tmp_path):
    config = validate_config(iris(output={"dir": str(tmp_path / "{name}-{stem}")}))
    with claim_run_folder(config, "/x/exp.yaml") as folder:
        assert folder.path == folder.work == str(tmp_path / "iris-exp")
    (tmp_path / "iris-exp" / "model.nnkit").write_text("x")
    with pytest.raises(ConfigError, match=r"output\.dir: the run folder .* already holds files.*output\.overwrite"):
        claim_run_folder(config, "/x/exp.yaml")
    assert os.listdir(tmp_path / "iris-exp") == ["model.nnkit"]  # the refused claim left nothing
    stamped = validate_config(iris(output={"dir": str(tmp_path / "t-{timestamp}")}))
    first, second = claim_run_folder(stamped, None), claim_run_folder(stamped, None)
    assert first.path != second.path and os.path.isdir(first.path) and os.path.isdir(second.path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--output: .*is a file, not a folder"):
        claim_run_folder(config | {"output": {"dir": "", "overwrite": False}}, None, override=str(tmp_path / "file"))
    with pytest.raises(ConfigError, match="--output: the run folder is empty"):
        claim_run_folder(config, None, override="")


def test_two_runs_never_share_a_folder(tmp_path):
    """Two runs started in the same second get two folders; two runs given one folder: the second is refused
    while the first is going, with or without overwrite, and may use it once the first has finished."""
    stamped = validate_config(iris(output={"dir": str(tmp_path / "iris-{timestamp}")}))
    folders = [claim_run_folder(stamped, None) for _ in range(3)]
    assert len({folder.path for folder in folders}) == 3
    assert folders[1].path == folders[0].path + "-2"
    for overwrite in (False, True):
        fixed = validate_config(iris(output={"dir": str(tmp_path / "shared"), "overwrite": overwrite}))
        with claim_run_folder(fixed, None), \
                pytest.raises(ConfigError, match=r"another nnkit run \(process \d+ .*is writing to the run folder"):
            claim_run_folder(fixed, None)
        claim_run_folder(fixed, None).abandon()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    import json
    import socket

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_FILE).write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    config = validate_config(iris(output={"dir": str(tmp_path / "run")}))
    with claim_run_folder(config, None) as folder:
        assert folder.path == str(tmp_path / "run")
    assert os.listdir(tmp_path / "run") == []


def test_overwrite_replaces_the_whole_folder(tmp_path):
    """An earlier run's files (a classifier's classes.json, a search's cv_results.csv) do not survive an
    overwrite by a run that does not write them."""
    target = tmp_path / "run"
    target.mkdir()
    for name in ("classes.json", "cv_results.csv", "confusion_matrix.png", "notes.txt"):
        (target / name).write_text("old")
    config = iris(data={"dataset": "sine", "options": {"n_samples": 60, "timesteps": 5}, "standardize": False},
                  compile={"loss": "mse", "metrics": []}, output={"dir": str(target), "overwrite": True},
                  fit={"epochs": 1})
    config["model"]["layers"] = [{"type": "Flatten"}, {"type": "Dense", "units": 1}]
    result = train(prepare(config))
    names = sorted(os.listdir(target))
    assert names == sorted(os.path.basename(path) for path in result.files)
    assert "classes.json" not in names and "cv_results.csv" not in names and "notes.txt" not in names
    assert [name for name in os.listdir(tmp_path) if name != "run"] == []  # no staging folder left behind


def test_a_failed_overwrite_keeps_the_earlier_run(tmp_path, monkeypatch):
    target = tmp_path / "run"
    target.mkdir()
    (target / "model.nnkit").write_text("earlier run")
    run = prepare(iris(output={"dir": str(target), "overwrite": True}))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run.model, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(run)
    assert os.listdir(target) == ["model.nnkit"] and (target / "model.nnkit").read_text() == "earlier run"
    assert os.listdir(tmp_path) == ["run"]


def test_nothing_is_written_when_the_folder_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    run = prepare(iris())
    with pytest.raises(ConfigError, match="already holds files"):
        train(run, output_dir=str(tmp_path / "run"))
    assert os.listdir(tmp_path / "run") == ["keep.txt"]


def test_callback_files_go_into_the_run_folder(tmp_path):
    run = prepare(iris(fit={"callbacks": [{"type": "ModelCheckpoint", "filepath": "best.nnkit"}, "TerminateOnNaN"]}))
    result = train(run, output_dir=str(tmp_path / "run"))
    assert os.path.isfile(tmp_path / "run" / "best.nnkit") and result.run_dir == str(tmp_path / "run")


def test_learning_rate_schedules_nested_layers_and_class_weights():
    schedule = {"type": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}
    run = prepare(iris(compile={"optimizer": {"type": "sgd", "learning_rate": schedule}},
                       fit={"class_weight": {0: 1.0, "1": 2.0, 2: 0.5}}))
    assert run.model.optimizer.get_config()["learning_rate"]["config"]["decay_rate"] == 0.5
    assert run.fit_arguments()["class_weight"] == {0: 1.0, 1: 2.0, 2: 0.5}
    with pytest.raises(ConfigError, match=r"fit\.class_weight\.7: 7 is not a class of the data; the classes are 0, 1, 2"):
        prepare(iris(fit={"class_weight": {7: 1.0}})).fit_arguments()
    config = iris(data={"dataset": "sine", "options": {"n_samples": 60, "timesteps": 5}, "standardize": False},
                  compile={"loss": "mse", "metrics": []})
    config["model"]["layers"] = [{"type": "Bidirectional", "layer": {"type": "LSTM", "units": 3}}, {"type": "Dense",
                                                                                                     "units": 1}]
    model = prepare(config).model
    assert model.output_shape == (None, 1) and model.layers[0].output_shape == (6,)
    assert model.count_params() == 2 * (4 * 3 * (1 + 3) + 2 * 4 * 3) + 7


def test_the_run_folder_is_claimed_before_training_and_released_after_a_failure(tmp_path, monkeypatch):
    run = prepare(iris(output={"dir": str(tmp_path / "a" / "b" / "run")}))
    monkeypatch.setattr(run.model, "fit", lambda *args, **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        train(run)
    assert os.listdir(tmp_path / "a" / "b") == []  # the claimed folder is gone again
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"output\.dir: .*file/run.*is a file, not a folder|output\.dir: cannot create "
                                          "the run folder"):
        claim_run_folder(validate_config(iris(output={"dir": str(tmp_path / "file" / "run")})), None)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no folder can be created")
def test_an_impossible_run_folder_fails_before_training(tmp_path):
    import yaml

    from nnkit.runs import open_run

    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(iris(output={"dir": "/proc/nnkit-run"})))
    run = open_run(str(path))
    fitted = []
    run.model.fit = lambda *args, **kwargs: fitted.append(1)  # training must not start
    with pytest.raises(ConfigError, match=rf"^{path}: output\.dir: cannot create the run folder '/proc/nnkit-run': "):
        train(run)
    with pytest.raises(ConfigError, match=r"^--output: cannot create the run folder '/proc/nnkit-run/x'"):
        train(run, output_dir="/proc/nnkit-run/x")
    assert fitted == []


def test_the_confusion_matrix_shows_the_class_names(tmp_path, monkeypatch):
    from nnkit.utils import plotting

    drawn = []

    def spy(*args, **kwargs):
        figure = plot_confusion_matrix(*args, **kwargs)
        drawn.append([label.get_text() for label in figure.axes[0].get_xticklabels()])
        return figure

    plot_confusion_matrix = plotting.plot_confusion_matrix
    monkeypatch.setattr(plotting, "plot_confusion_matrix", spy)
    train(prepare(iris(fit={"epochs": 1})), output_dir=str(tmp_path / "run"))
    assert drawn == [["setosa", "versicolor", "virginica"]]
    assert (tmp_path / "run" / "classes.json").read_text().split() == ["[", "0,", "1,", "2", "]"]


def test_a_rerun_of_a_run_folders_config_is_named_after_the_original_config(tmp_path):
    import yaml

    from nnkit.runs import open_run

    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(iris(fit={"epochs": 1}, output={"dir": str(tmp_path / "runs" / "{stem}-{timestamp}")})))
    first = train(open_run(str(path)))
    recorded = yaml.safe_load((tmp_path / "runs" / os.path.basename(first.run_dir) / "config.yaml").read_text())
    assert recorded["output"]["dir"] == str(tmp_path / "runs" / "exp-{timestamp}")
    again = train(open_run(os.path.join(first.run_dir, "config.yaml")))
    assert os.path.basename(again.run_dir).startswith("exp-") and again.run_dir != first.run_dir
    assert not any(name.startswith("config-") for name in os.listdir(tmp_path / "runs"))


def test_history_png_marks_the_epoch_early_stopping_restored(tmp_path, monkeypatch):
    from nnkit.utils import plotting

    marked = []
    real = plotting.plot_history

    def spy(history, **kwargs):
        marked.append(kwargs.get("restored_epoch"))
        return real(history, **kwargs)

    monkeypatch.setattr(plotting, "plot_history", spy)
    stop = {"type": "EarlyStopping", "monitor": "val_loss", "patience": 2, "restore_best_weights": True}
    result = train(prepare(iris(fit={"epochs": 6, "validation_split": 0.3, "callbacks": [stop]})),
                   output_dir=str(tmp_path / "run"))
    assert marked == [int(np.argmin(result.history["val_loss"])) + 1]
    train(prepare(iris(fit={"epochs": 2})), output_dir=str(tmp_path / "plain"))
    assert marked[-1] is None
