"""The ``nnkit`` command, run in-process through ``main``: output, files and exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nnkit import datasets
from nnkit.cli import main
from nnkit.models import load_model
from nnkit.runs import open_run, prepare
from tests.runs.helpers import CONFIGS, iris

QUICK = ["--quiet", "--set", "fit.epochs=2", "--set", "data.limit=120"]


@pytest.fixture
def config(tmp_path):
    """A small iris config file."""
    path = tmp_path / "iris.yaml"
    path.write_text(yaml.safe_dump(iris()))
    return str(path)


@pytest.fixture
def trained(config, tmp_path, capsys):
    """A run folder trained by `nnkit train` (and its stdout)."""
    folder = tmp_path / "run"
    assert main(["train", config, "--output", str(folder), *QUICK]) == 0
    return folder, capsys.readouterr().out


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nnkit: error: ") and "Traceback" not in err
    return lines[0]


def test_train_prints_the_test_metrics_and_writes_the_run_folder(trained):
    folder, out = trained
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"loss", "accuracy"}
    table = dict(line.split() for line in out.split("Test metrics")[1].splitlines()[3:5])
    assert float(table["loss"]) == pytest.approx(metrics["loss"], rel=1e-3)
    assert float(table["accuracy"]) == pytest.approx(metrics["accuracy"], rel=1e-3)
    assert f"Run folder: {folder}" in out
    with open(folder / "history.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    assert yaml.safe_load((folder / "config.yaml").read_text())["fit"]["epochs"] == 2


def test_config_errors_exit_2_with_one_line(config, capsys):
    assert main(["train", config, "--set", "fit.epocs=3"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"nnkit: error: {config}: fit.epocs: unknown setting. Did you mean 'epochs'? Settings of fit: "
                    "epochs, batch_size, validation_split, validation_freq, verbose, shuffle, class_weight, callbacks.")
    assert main(["train", config, "--set", "model.layers[0].units=-3"]) == 2
    assert one_error_line(capsys.readouterr().err).endswith("model.layers[0].units: expected a positive integer, "
                                                             "got -3.")
    assert main(["train", str(os.path.dirname(config)) + "/missing.yaml"]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err)
    assert main(["train", config, "--set", "fit.epochs"]) == 2
    assert "--set expects PATH=VALUE" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["--debug", "train"], ["train", "--debug"]])
def test_debug_shows_the_traceback(config, capsys, argv):
    assert main([*argv, config, "--set", "fit.epocs=3"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ConfigError" in err
    assert err.strip().splitlines()[-1].startswith("nnkit: error: ")


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: COMMAND"),
    (["trian"], "invalid choice: 'trian'. Did you mean 'train'?"),
    (["serch", "c.yaml"], "invalid choice: 'serch'. Did you mean 'search'?"),
    (["train"], "the following arguments are required: CONFIG"),
    (["predict", "m.nnkit", "x.csv"], "the following arguments are required: --output"),
    (["search", "c.yaml", "--top", "0"], "expected a positive integer, got '0'"),
])
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert "usage: nnkit" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0
    assert "--set PATH=VALUE" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nnkit ")


def test_training_failure_exits_1_and_writes_nothing(config, tmp_path, capsys):
    folder = tmp_path / "nan_run"
    argv = ["train", config, "--output", str(folder), "--quiet", "--set", "data.dataset=diabetes",
            "--set", "compile.loss=mse", "--set", "compile.metrics=[]", "--set", "data.standardize=false",
            "--set", "model.layers[1]={type: Dense, units: 1}", "--set", "compile.optimizer={type: sgd, learning_rate: 1.0e6}"]
    assert main([*argv, "--set", "fit.callbacks=[{type: TerminateOnNaN, raise_error: true}]"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("nnkit: error: train failed: RuntimeError: NaN or Inf loss encountered")
    assert main(argv) == 1  # no callback: the loss ends NaN
    assert "train failed: training diverged: the loss is nan" in one_error_line(capsys.readouterr().err)
    assert not folder.exists()


def test_ctrl_c_exits_130(config, monkeypatch, capsys):
    import nnkit.runs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nnkit.runs, "train", interrupted)
    assert main(["train", config, "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_evaluate_on_the_run_folder_test_split_and_on_a_file(trained, tmp_path, capsys):
    folder, _ = trained
    model_path = str(folder / "model.nnkit")
    assert main(["evaluate", model_path]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "test split" in out
    assert float(out.split("accuracy")[1].split()[0]) == pytest.approx(metrics["accuracy"], rel=1e-3)

    x, y = datasets.load("iris")
    rows = [[*map(float, features), int(label)] for features, label in zip(x[::5], y[::5])]
    with open(tmp_path / "part.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c", "d", "species"], *rows])
    assert main(["evaluate", model_path, "--data", str(tmp_path / "part.csv"), "--target", "species"]) == 0
    out = capsys.readouterr().out
    expected = load_model(model_path).evaluate(x[::5], y[::5], verbose=0, return_dict=True)
    assert "(30 samples)" in out
    assert float(out.split("loss")[1].split()[0]) == pytest.approx(expected["loss"], rel=1e-3)
    assert main(["evaluate", model_path, "--data", "iris"]) == 0
    full = load_model(model_path).evaluate(x, y, verbose=0, return_dict=True)
    assert float(capsys.readouterr().out.split("accuracy")[1].split()[0]) == pytest.approx(full["accuracy"], rel=1e-3)


def test_predict_writes_outputs_and_classes(trained, tmp_path, capsys):
    folder, _ = trained
    model_path = str(folder / "model.nnkit")
    x, _ = datasets.load("iris")
    np.save(tmp_path / "x.npy", x[:7])
    expected = load_model(model_path).predict(x[:7], verbose=0)
    assert main(["predict", model_path, str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-6)
    assert main(["predict", model_path, str(tmp_path / "x.npy"), "--output", str(tmp_path / "c.csv"),
                 "--classes"]) == 0
    with open(tmp_path / "c.csv", newline="") as f:
        rows = list(csv.reader(f))
    names = ["setosa", "versicolor", "virginica"]  # the run recorded iris's class names (class_names.json)
    predicted = [names[i] for i in expected.argmax(axis=1)]
    assert rows[0] == ["class"] and [r[0] for r in rows[1:]] == predicted
    out = capsys.readouterr().out
    assert "Wrote 7 predictions" in out
    counts = ", ".join(f"{name} ({predicted.count(name)})" for name in names if name in predicted)
    assert f"Predicted classes: {counts}" in out
    assert main(["predict", model_path, str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == ",".join(names)  # outputs headed by the names too
    capsys.readouterr()
    assert main(["predict", model_path, str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.txt")]) == 2
    assert "write predictions to a .csv or .npy file" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "p.txt").exists()
    assert main(["predict", str(tmp_path / "none.nnkit"), str(tmp_path / "x.npy"), "--output", "p.csv"]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err)


def test_summary_of_a_config_and_of_a_saved_model(trained, capsys):
    folder, _ = trained
    path = os.path.join(CONFIGS, "iris_mlp.yaml")
    assert main(["summary", path]) == 0
    out = capsys.readouterr().out
    model = open_run(path).model
    assert 'Model: "iris_mlp"' in out and "input_normalization" in out and "dense_1 (Dense)" in out
    assert f"Total params: {model.count_params():,}" in out
    assert main(["summary", str(folder / "model.nnkit")]) == 0
    assert f"Total params: {prepare(iris()).model.count_params():,}" in capsys.readouterr().out


def test_datasets_lists_the_catalogue(capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "task", "offline", "description"]
    listed = {line.split()[0]: line.split()[2] for line in lines[2:]}
    assert listed == {info.name: "yes" if info.offline else "no" for info in datasets.available()}


def test_search_prints_the_top_candidates_and_writes_cv_results(tmp_path, capsys):
    path = os.path.join(CONFIGS, "wine_grid_search.yaml")
    argv = ["search", path, "--output", str(tmp_path / "run"), "--top", "2", "--set", "fit.epochs=1",
            "--set", "search.cv=2", "--set", "search.params={'model.layers[0].units': [4, 8]}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    with open(tmp_path / "run" / "cv_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    table = out.split("candidates")[1].splitlines()[3:5]
    assert "Top 2 of 2 candidates (accuracy, 2-fold CV)" in out
    for line, row in zip(table, rows):
        rank, mean, _, units = line.split()
        assert (rank, units) == (row["rank_test_score"], row["model.layers[0].units"])
        assert float(mean) == pytest.approx(float(row["mean_test_score"]), rel=1e-3)


def test_console_script_and_module_run(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "nnkit")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "nnkit"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: nnkit")
    done = subprocess.run([sys.executable, "-m", "nnkit", "train", str(tmp_path / "none.yaml")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("nnkit: error: Config file") and done.stdout == ""


def test_importing_the_cli_does_not_load_scikit_learn_or_matplotlib():
    code = "import sys, nnkit.cli; print(sorted(m for m in ('sklearn', 'matplotlib') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]"


def test_a_broken_model_file_is_named_once(tmp_path, capsys):
    (tmp_path / "trunc.nnkit").write_bytes(b"\x00" * 100)
    path = str(tmp_path / "trunc.nnkit")
    assert main(["evaluate", path, "--data", "iris"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.count("trunc.nnkit") == 1 and "is not a readable nnkit" in line


def test_data_file_messages_speak_command_line(trained, tmp_path, capsys):
    folder, _ = trained
    x, y = datasets.load("iris")
    names = np.array(datasets.class_names("iris"))[y]
    with open(tmp_path / "named.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c", "d", "species"], *([*map(float, r), n] for r, n in zip(x, names))])
    assert main(["evaluate", str(folder / "model.nnkit"), "--data", str(tmp_path / "named.csv")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "pass --target species if it is the label column" in line and "target=" not in line
    assert main(["predict", str(folder / "model.nnkit"), str(tmp_path / "named.csv"), "--output",
                 str(tmp_path / "p.csv"), "--target", "7"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--target 7 is out of range" in line and "target=" not in line


def test_search_without_a_search_section_names_the_file(config, capsys):
    assert main(["search", config]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"nnkit: error: {config}: search: this config has no "
                                                              "search section")


def test_an_alias_bomb_fails_at_once(tmp_path, capsys):
    levels = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 8)]
    (tmp_path / "bomb.yaml").write_text("\n".join(levels))
    assert main(["summary", str(tmp_path / "bomb.yaml")]) == 2
    assert "the config expands to more than 100000 values (YAML aliases?)" in one_error_line(capsys.readouterr().err)


def test_a_run_folder_works_from_anywhere_with_a_relative_data_path(tmp_path, monkeypatch, capsys):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    x, y = datasets.load("iris")
    with open(project / "iris.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c", "d", "species"], *([*map(float, r), int(c)] for r, c in zip(x, y))])
    (project / "exp.yaml").write_text(yaml.safe_dump(iris(data={"dataset": None, "path": "iris.csv",
                                                                "target": "species"})))
    monkeypatch.chdir(elsewhere)
    assert main(["train", "../project/exp.yaml", "--output", "run", *QUICK]) == 0
    assert yaml.safe_load((elsewhere / "run" / "config.yaml").read_text())["data"]["path"] == str(project / "iris.csv")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", "elsewhere/run/model.nnkit"]) == 0  # the test split, rebuilt from config.yaml
    metrics = json.loads((elsewhere / "run" / "metrics.json").read_text())
    out = capsys.readouterr().out
    assert "(24 samples)" in out
    assert float(out.split("accuracy")[1].split()[0]) == pytest.approx(metrics["accuracy"], rel=1e-3)
    assert main(["train", "elsewhere/run/config.yaml", "--output", "again", "--quiet"]) == 0
    assert json.loads((tmp_path / "again" / "metrics.json").read_text()) == pytest.approx(metrics, rel=1e-5)


def test_the_error_examples_of_the_configs_readme_are_real(capsys, monkeypatch):
    with open(os.path.join(CONFIGS, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    monkeypatch.chdir(os.path.dirname(os.path.abspath(CONFIGS)))  # the examples run from the repository root
    shown = [line for line in readme.splitlines() if line.startswith("nnkit: error: configs/iris_mlp.yaml")]
    overrides = ["fit.epocs=3", "model.layers[0].units=-3", "model.layers[1].units=4"]
    assert len(shown) == len(overrides)
    for line, override in zip(shown, overrides):
        assert main(["summary", "configs/iris_mlp.yaml", "--set", override]) == 2
        actual = one_error_line(capsys.readouterr().err)
        assert actual.startswith(line.removesuffix("...").rstrip()), (line, actual)


def test_an_empty_output_is_refused_before_training(config, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", config, "--output", "", *QUICK]) == 2
    assert "--output: the run folder is empty" in one_error_line(capsys.readouterr().err)
    assert os.listdir(tmp_path) == ["iris.yaml"]


def test_help_answers_without_importing_torch():
    """`nnkit --help` took 2-4 s importing torch; the command's help and version need none of it."""
    code = ("import sys\nsys.argv = ['nnkit', '--help']\nfrom nnkit.cli import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint('torch imported:', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "usage: nnkit" in done.stdout and done.stdout.strip().endswith("torch imported: False"), done.stderr
