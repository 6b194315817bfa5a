"""build-model: attach task, loss, optimizer, metrics, fit parameters and seed to an architecture."""

import click

from galaxy_dl.cli.common import (
    backend_option,
    load_keras,
    max_params_option,
    program,
    setup_runtime,
    split_list,
    threads_option,
)


@program(
    "build-model",
    help="""Make an estimator archive (ZIP of JSON, never a pickle) from an architecture.

\b
  build-model --arch arch.json --task classification --loss binary_crossentropy \\
              --optimizer rmsprop --epochs 10 --batch-size 4 --seed 42 -o model.zip
\b
Optimizer parameters: --learning-rate, or any parameter of the optimizer with
--optimizer-param 'momentum=0.9, nesterov=True' (0 and False are kept as given).
Callbacks: --callback 'EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)'.
Several outputs: one --loss for all, or --loss 'main=binary_crossentropy,aux=mse'
with --loss-weights 'main=1,aux=0.2'.
All options can come from --config FILE (YAML or JSON, keys as in --params-out); flags win.
--from converts a Galaxy-ML estimator (h5mlm; fitted ones keep their weights) or
another archive, with any flag given overriding its setting.""",
)
@click.option(
    "--arch",
    "arch_path",
    default=None,
    metavar="PATH",
    help="Architecture JSON (build-arch's, or Keras 2's from Galaxy-ML).",
)
@click.option(
    "--from",
    "from_path",
    default=None,
    metavar="PATH",
    help="Start from this estimator instead: a Galaxy-ML h5mlm or an archive.",
)
@click.option(
    "--task", type=click.Choice(["classification", "regression"]), default="classification", show_default=True
)
@click.option(
    "--loss", default=None, help="Loss name, or OUTPUT=LOSS,… per output [default: binary_crossentropy / mse by task]."
)
@click.option(
    "--loss-weights", default=None, metavar="OUTPUT=W,…", help="Weights of the outputs' losses in the total loss."
)
@click.option(
    "--optimizer",
    default="rmsprop",
    show_default=True,
    help="SGD, RMSprop, Adam, AdamW, Adamax, Adagrad, Adadelta, Nadam, Ftrl, …",
)
@click.option(
    "--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None, help="Optimizer learning rate."
)
@click.option(
    "--optimizer-param",
    "optimizer_param",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any optimizer parameter; repeatable.",
)
@click.option(
    "--metrics", multiple=True, metavar="LIST", help="Keras metrics to compile, e.g. accuracy,auc,precision,recall."
)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option(
    "--validation-split",
    type=float,
    default=0.0,
    show_default=True,
    help="Keras' own split, used when train-eval gives no validation data.",
)
@click.option("--steps-per-epoch", type=int, default=None)
@click.option("--validation-steps", type=int, default=None)
@click.option("--shuffle/--no-shuffle", default=True, show_default=True, help="Shuffle training rows each epoch.")
@click.option("--class-weight", default=None, metavar="balanced|LABEL=W,…", help="Class weights for imbalanced labels.")
@click.option(
    "--callback",
    "callbacks",
    multiple=True,
    metavar="SPEC",
    help="EarlyStopping(...), ReduceLROnPlateau(...) or TerminateOnNaN(); repeatable.",
)
@click.option(
    "--verbose",
    type=click.Choice(["auto", "0", "1", "2"]),
    default="auto",
    show_default=True,
    help="Keras training output: auto is a progress bar on a terminal, a line per epoch otherwise.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Random seed: same seed and inputs, same results."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML/JSON file with any of the options above.",
)
@click.option("--params-out", default=None, metavar="PATH", help="Also write the estimator's parameters as a table.")
@click.option("-o", "--output", required=True, metavar="PATH", help="Estimator archive to write.")
@max_params_option
@backend_option
@threads_option
def main(arch_path, from_path, config_path, params_out, output, threads, backend, **options):
    setup_runtime(threads, backend)
    from galaxy_dl.data.fileio import check_writable

    if (arch_path is None) == (from_path is None):
        raise click.UsageError("give --arch (an architecture) or --from (an estimator to convert), one of them")
    check_writable(output, "-o/--output")
    if params_out:
        check_writable(params_out, "--params-out")
    ctx = click.get_current_context()
    if from_path:
        return _convert(from_path, options, config_path, params_out, output, ctx)
    params = _params(options, config_path, ctx)
    load_keras()
    from galaxy_dl.model.architecture import load_json_file, model_from_config
    from galaxy_dl.model.estimator import make_estimator

    source = f"--arch {arch_path}"
    architecture = load_json_file(arch_path, source)
    model = model_from_config(architecture, source)
    task = params.pop("task")
    estimator = make_estimator(task, architecture=architecture, **params)
    estimator.validate(model)
    _write(estimator, output, params_out)


def _convert(from_path, options, config_path, params_out, output, ctx):
    """An estimator read from a file (Galaxy-ML's or ours), with the flags given overriding its settings."""
    from galaxy_dl.errors import UsageError

    load_keras()
    from galaxy_dl.model.architecture import model_from_config
    from galaxy_dl.model.archive import load

    source = f"--from {from_path}"
    estimator = load(from_path, source)
    if _given(ctx, "task") and options["task"] != estimator.task:
        raise UsageError(f"--task {options['task']}: {source} holds a {estimator.task} estimator")
    base = {key: value for key, value in estimator.get_params().items() if key != "architecture"}
    params = _params({**options, "task": estimator.task}, config_path, ctx, base=base)
    params.pop("task")
    estimator.set_params(**params)
    estimator.validate(getattr(estimator, "model_", None) or model_from_config(estimator.architecture, source))
    _write(estimator, output, params_out)


def _given(ctx, name: str) -> bool:
    """Whether the user gave the option (on the command line or in the environment), not its default."""
    return ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)


def _write(estimator, output, params_out):
    from galaxy_dl.data.fileio import together
    from galaxy_dl.data.tables import write_table
    from galaxy_dl.model.archive import save
    from galaxy_dl.model.config import params_table

    with together():  # the archive and its parameter table, or neither
        save(estimator, output)
        if params_out:
            write_table(params_table(estimator), params_out)


def _params(options: dict, config_path, ctx, base: dict | None = None) -> dict:
    """Merge ``base`` settings, config file and flags (explicit flags win), in estimator-parameter form."""
    from galaxy_dl.model.config import CONFIG_KEYS, callback_entry, class_weight, named_values, validate_config
    from galaxy_dl.model.layerspec import parse_kwargs

    config = dict(base or {})
    if config_path:
        from galaxy_dl.model.specfile import load_spec

        config.update(validate_config(load_spec(config_path, "--config"), f"--config {config_path}"))

    def given(name):
        return _given(ctx, name)

    params = {key: config[key] for key in CONFIG_KEYS if key in config}
    if given("loss") and "=" in (options["loss"] or ""):
        options = {**options, "loss": named_values(options["loss"], "--loss", numeric=False)}
    if given("loss_weights"):
        params["loss_weights"] = named_values(options["loss_weights"], "--loss-weights")
    for key in (
        "task",
        "loss",
        "optimizer",
        "epochs",
        "batch_size",
        "validation_split",
        "steps_per_epoch",
        "validation_steps",
        "shuffle",
        "seed",
    ):
        if given(key) or key not in params:
            params[key] = options[key]
    if given("verbose") or "verbose" not in params:
        params["verbose"] = options["verbose"] if options["verbose"] == "auto" else int(options["verbose"])
    optimizer_params = dict(params.get("optimizer_params") or {})
    for text in options["optimizer_param"]:
        optimizer_params.update(parse_kwargs(text, "--optimizer-param"))
    if options["learning_rate"] is not None:
        optimizer_params["learning_rate"] = options["learning_rate"]
    params["optimizer_params"] = optimizer_params
    if options["metrics"]:
        params["metrics"] = list(split_list(options["metrics"]))
    params.setdefault("metrics", [])
    params["callbacks"] = list(params.get("callbacks") or []) + [callback_entry(text) for text in options["callbacks"]]
    if options["class_weight"] is not None:
        params["class_weight"] = class_weight(options["class_weight"])
    params.setdefault("class_weight", None)
    return params
