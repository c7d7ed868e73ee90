"""The ``nnkit`` command: train, search, evaluate, predict and summarize from the shell.

Exit codes: 0 on success; 2 for a usage, config or data error (one line ``nnkit: error: ...`` on stderr,
no traceback unless ``--debug``); 1 when training or another step fails (a file that cannot be written, e.g. on a
full disk, included); 130 on Ctrl-C.

This module imports only the standard library at load time; torch, scikit-learn and matplotlib are
imported by the command that needs them.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

PROG = "nnkit"
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


class UsageError(Exception):
    """A command line argparse refused (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` prints one line and returns 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{_suggest(self, message)} (see '{self.prog} --help')")


def _suggest(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's ``invalid choice: 'trian'`` message with a did-you-mean for a misspelled command."""
    import re

    from nnkit.registry import closest

    match = re.search(r"invalid choice: '([^']*)'", message)
    commands = [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices]
    hint = closest(match.group(1), commands) if match and commands else None
    if hint is None:
        return message
    return message.replace(match.group(0), f"{match.group(0)}. Did you mean '{hint}'?", 1)


# -- commands ------------------------------------------------------------------------------------------
def _echo(text: str = "") -> None:
    print(text, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    """`nnkit train CONFIG`: train, print the test metrics, write the run folder."""
    from nnkit import runs
    from nnkit.runs.report import metrics_table

    if args.resume is not None and args.output is not None:
        raise UsageError("--resume continues a run in its own folder; leave out --output")
    run = runs.open_run(args.config, args.set)
    result = runs.train(run, output_dir=args.output, verbose=0 if args.quiet else None, resume=args.resume)
    _echo(f"\nTest metrics ({len(run.data.x_test)} samples):")
    _echo(metrics_table(_loss_first(result.metrics)))
    _echo(f"\nRun folder: {result.run_dir}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """`nnkit search CONFIG`: cross-validated search, top candidates, refit of the best."""
    from nnkit import runs
    from nnkit.runs.report import format_table, metrics_table

    run = runs.open_run(args.config, args.set)
    found = runs.search(run, output_dir=args.output, progress=not args.quiet)
    paths = list(run.config["search"]["params"])
    rows = [[row["rank"], row["mean_test_score"], row["std_test_score"], *(row["params"][p] for p in paths)]
            for row in found.table[:args.top]]
    scoring = run.config["search"]["scoring"] or "default score"
    _echo(f"\nTop {len(rows)} of {len(found.table)} candidates ({scoring}, {run.config['search']['cv']}-fold CV):")
    _echo(format_table(["rank", "mean_test_score", "std_test_score", *paths], rows))
    _echo(f"\nBest model refit on the training split; test metrics ({len(run.data.x_test)} samples):")
    _echo(metrics_table(_loss_first(found.result.metrics)))
    _echo(f"\nRun folder: {found.result.run_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`nnkit evaluate MODEL`: loss and metrics of a saved model."""
    from nnkit.runs.inference import evaluate_model
    from nnkit.runs.report import metrics_table

    metrics, what, count = evaluate_model(args.model, args.data, _column(args.target), args.batch_size,
                                          header=args.header)
    _echo(f"Metrics on {what} ({count} samples):")
    _echo(metrics_table(_loss_first(metrics)))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """`nnkit predict MODEL INPUT --output FILE`: write predictions."""
    from nnkit.runs.inference import predict_file

    result = predict_file(args.model, args.input, args.output, classes=args.classes, target=_column(args.target),
                          batch_size=args.batch_size, header=args.header)
    _echo(f"Wrote {len(result)} predictions to {args.output}")
    if args.classes:
        import numpy as np

        names, counts = np.unique(result.astype(str), return_counts=True)
        _echo("Predicted classes: " + ", ".join(f"{name} ({count})" for name, count in zip(names, counts)))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """`nnkit summary CONFIG_OR_MODEL`: print the layers."""
    if args.path.lower().endswith(CONFIG_SUFFIXES):
        from nnkit import runs

        model = runs.open_run(args.path, args.set).model
    else:
        if args.set:
            raise UsageError("--set applies to a config file, not to a saved model")
        from nnkit.runs.inference import load_saved_model

        model = load_saved_model(args.path)
    model.summary(print_fn=_echo)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """`nnkit datasets`: the datasets `data.dataset` accepts."""
    from nnkit import datasets
    from nnkit.runs.report import format_table

    rows = [[info.name, info.task, "yes" if info.offline else "no", info.description]
            for info in datasets.available(args.path)]
    _echo(format_table(["name", "task", "offline", "description"], rows))
    return 0


def _loss_first(metrics: dict[str, float]) -> dict[str, float]:
    return dict(sorted(metrics.items(), key=lambda item: item[0] != "loss"))


def _column(target: str | None) -> str | int | None:
    """``--target 3`` is a column index, ``--target species`` a column name."""
    if target is None:
        return None
    try:
        return int(target)
    except ValueError:
        return target


# -- parser --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nnkit`` command."""
    from nnkit import __version__

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    parser = _Parser(prog=PROG, description="Train, search, evaluate and use nnkit models from config files.",
                     epilog="Config format: configs/README.md. Exit codes: 0 success, 1 training failed, "
                            "2 usage/config/data error, 130 interrupted.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def overrides(p: argparse.ArgumentParser) -> None:
        p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                       help="override a config value, e.g. --set fit.epochs=5 --set model.layers[0].units=32 "
                            "(values are YAML; repeatable)")

    p = sub.add_parser("train", parents=[common], help="train a model from a config and write a run folder",
                       description="Train from CONFIG, print the test metrics and write the run folder.")
    p.add_argument("config", metavar="CONFIG", help="a .yaml or .json run config")
    overrides(p)
    p.add_argument("--output", metavar="DIR", help="run folder (instead of output.dir)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--resume", metavar="RUN_FOLDER", help="continue a run stopped with Ctrl-C, in its folder")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("search", parents=[common], help="hyperparameter search from a config's search section",
                       description="Cross-validate the candidates of CONFIG's search section, print the best, "
                                   "refit the best on the training split and write the run folder with cv_results.csv.")
    p.add_argument("config", metavar="CONFIG", help="a .yaml or .json run config with a search section")
    overrides(p)
    p.add_argument("--output", metavar="DIR", help="run folder (instead of output.dir)")
    p.add_argument("--top", type=_positive, default=5, metavar="N", help="candidates to print (default 5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar over the candidates")
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("evaluate", parents=[common], help="metrics of a saved model on data",
                       description="Print the loss and compiled metrics of MODEL on --data; without --data, on the "
                                   "test split of the run folder MODEL sits in.")
    p.add_argument("model", metavar="MODEL", help="a saved model (model.nnkit of a run folder)")
    p.add_argument("--data", metavar="NAME_OR_FILE", help="a dataset name (see `nnkit datasets`) or .csv/.npy/.npz")
    p.add_argument("--target", metavar="COLUMN", help="label column of a .csv file (name or index)")
    _header_options(p)
    p.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="evaluation batch size")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="predict a .csv/.npy/.npz file with a saved model",
                       description="Write MODEL's outputs (or, with --classes, class names) for every row of INPUT.")
    p.add_argument("model", metavar="MODEL", help="a saved model (model.nnkit of a run folder)")
    p.add_argument("input", metavar="INPUT", help="a .csv, .npy or .npz file of inputs (.csv columns are matched "
                   "by name to the training file's)")
    p.add_argument("--output", required=True, metavar="FILE", help="where to write the predictions (.csv or .npy)")
    p.add_argument("--classes", action="store_true", help="write the predicted class instead of the outputs")
    p.add_argument("--target", metavar="COLUMN", help="a label column of the .csv to leave out of the inputs")
    _header_options(p)
    p.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="prediction batch size")
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("summary", parents=[common], help="print the layers of a config's model or a saved model",
                       description="Print the model summary of a config (built for its data, not trained) or a "
                                   "saved model.")
    p.add_argument("path", metavar="CONFIG_OR_MODEL", help="a .yaml/.json config or a saved model file")
    overrides(p)
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser("datasets", parents=[common], help="list the datasets available offline",
                       description="List the datasets `data.dataset` and --data accept.")
    p.add_argument("--path", metavar="DIR", help="folder holding image datasets (default: NNKIT_DATA or "
                                                 "~/.nnkit/datasets)")
    p.set_defaults(handler=cmd_datasets)
    return parser


def _header_options(p: argparse.ArgumentParser) -> None:
    """``--header`` / ``--no-header``: whether a .csv file's first row names its columns (default: decided from
    the file; a first row of numbers is data)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--header", dest="header", action="store_true", default=None,
                       help="the .csv file's first row names its columns")
    group.add_argument("--no-header", dest="header", action="store_false",
                       help="the .csv file has no header row: every row is data (columns matched by position)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# -- main ----------------------------------------------------------------------------------------------
def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    line = " ".join(str(message).split())
    print(f"{PROG}: error: {line}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nnkit`` command with ``argv`` (``sys.argv[1:]`` by default); returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug, command = "--debug" in arguments, "nnkit"
    try:
        args = build_parser().parse_args(arguments)
        debug, command = bool(getattr(args, "debug", False)), args.command
        return args.handler(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `nnkit ... | head` closed the pipe: stop quietly, as a killed writer would
        _silence_stdout()
        return 141
    except KeyboardInterrupt as exc:
        print(f"\n{PROG}: interrupted{_kept(exc)}", file=sys.stderr, flush=True)
        return 130
    except UsageError as exc:
        return _fail(str(exc), 2, debug)
    except Exception as exc:
        return _fail(*_classify(exc, command), debug)


def _kept(exc: KeyboardInterrupt) -> str:
    """What an interrupted training run kept, and how to resume it."""
    if getattr(exc, "run_dir", None) is None:
        return ""
    return (f" after epoch {exc.epochs_done} of {exc.epochs}. The run folder {exc.run_dir} holds the model of epoch "
            f"{exc.epochs_done} and its history.\nResume with: {exc.resume_hint}")


def _silence_stdout() -> None:
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):  # stdout may not be a real file (e.g. captured in tests)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _classify(exc: BaseException, command: str) -> tuple[str, int]:
    """The message and exit code of an error: 2 for what the user can fix in the command line, the config or
    the data; 1 for a failure while running (training diverged, an unexpected error)."""
    from nnkit.errors import ConfigError, DataError, NnkitError, NotReadyError

    if isinstance(exc, (ConfigError, DataError, NotReadyError)):
        return str(exc), 2
    if isinstance(exc, FileNotFoundError):
        return (f"{exc.strerror or 'file not found'}: {exc.filename}" if exc.filename else str(exc)), 2
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}", 2
    if isinstance(exc, NnkitError):
        return f"{command} failed: {exc}", 1
    return f"{command} failed: {type(exc).__name__}: {exc}", 1


if __name__ == "__main__":
    sys.exit(main())
