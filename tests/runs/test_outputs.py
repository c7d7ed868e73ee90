"""The run folder: where it goes and what its files hold."""

from __future__ import annotations

import os

import pytest

from nnkit.callbacks import CSVLogger
from nnkit.errors import ConfigError
from nnkit.runs import prepare, train, validate_config
from nnkit.runs.outputs import resolve_run_dir, write_history
from tests.runs.helpers import iris


def test_history_csv_matches_csvlogger(tmp_path):
    run = prepare(iris(fit={"epochs": 3, "validation_split": 0.25}))
    history = run.model.fit(run.data.x_train, run.data.y_train, callbacks=[CSVLogger(str(tmp_path / "keras.csv"))],
                            **run.fit_arguments()).history
    write_history(str(tmp_path / "ours.csv"), history)
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "keras.csv").read_text()


def test_run_dir_placeholders_and_collisions(tmp_path):
    config = validate_config(iris(output={"dir": str(tmp_path / "{name}-{stem}")}))
    assert resolve_run_dir(config, "/x/exp.yaml") == str(tmp_path / "iris-exp")
    (tmp_path / "iris-exp").mkdir()
    assert resolve_run_dir(config, "/x/exp.yaml") == str(tmp_path / "iris-exp")  # empty: fine
    (tmp_path / "iris-exp" / "model.nnkit").write_text("x")
    with pytest.raises(ConfigError, match=r"output\.dir: the run folder .* already holds files.*output\.overwrite"):
        resolve_run_dir(config, "/x/exp.yaml")
    config["output"]["overwrite"] = True
    assert resolve_run_dir(config, "/x/exp.yaml") == str(tmp_path / "iris-exp")
    stamped = validate_config(iris(output={"dir": str(tmp_path / "t-{timestamp}")}))
    first = resolve_run_dir(stamped, None)
    os.makedirs(first)
    open(os.path.join(first, "f"), "w").close()
    second = resolve_run_dir(stamped, None)
    assert second != first and not os.path.exists(second)  # "-2" added, or a later timestamp
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="--output: the run folder"):
        resolve_run_dir(config | {"output": {"dir": "", "overwrite": False}}, None, override=str(tmp_path / "file"))


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


def test_the_run_folder_is_tried_before_training_and_nothing_stays_behind(tmp_path, monkeypatch):
    config = validate_config(iris(output={"dir": str(tmp_path / "a" / "b" / "run")}))
    assert resolve_run_dir(config, None) == str(tmp_path / "a" / "b" / "run")
    assert os.listdir(tmp_path) == []  # created to try it, then removed again
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"output\.dir: cannot create the run folder .*file/run.*is a file, not a "
                                          "folder"):
        resolve_run_dir(validate_config(iris(output={"dir": str(tmp_path / "file" / "run")})), None)


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
