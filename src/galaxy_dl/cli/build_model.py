"""build-model: attach task, loss, optimizer, metrics, fit parameters and seed to an architecture."""

import click

from .common import load_keras, program, setup_runtime, split_list, threads_option


@program("build-model", help="""Make an estimator archive (ZIP of JSON, never a pickle) from an architecture.

\b
  build-model --arch arch.json --task classification --loss binary_crossentropy \\
              --optimizer rmsprop --epochs 10 --batch-size 4 --seed 42 -o model.zip
\b
Optimizer parameters: --learning-rate, or any parameter of the optimizer with
--optimizer-param 'momentum=0.9, nesterov=True' (0 and False are kept as given).
Callbacks: --callback 'EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)'.
All options can come from --config FILE (YAML or JSON, keys as in --params-out); flags win.""")
@click.option("--arch", "arch_path", required=True, metavar="PATH", help="Architecture JSON (build-arch's, or Keras 2's from Galaxy-ML).")
@click.option("--task", type=click.Choice(["classification", "regression"]), default="classification", show_default=True)
@click.option("--loss", default=None, help="Loss name [default: binary_crossentropy / mse by task].")
@click.option("--optimizer", default="rmsprop", show_default=True, help="SGD, RMSprop, Adam, AdamW, Adamax, Adagrad, Adadelta, Nadam, Ftrl, …")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None, help="Optimizer learning rate.")
@click.option("--optimizer-param", "optimizer_param", multiple=True, metavar="NAME=VALUE", help="Any optimizer parameter; repeatable.")
@click.option("--metrics", multiple=True, metavar="LIST", help="Keras metrics to compile, e.g. accuracy,auc,precision,recall.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--validation-split", type=float, default=0.0, show_default=True, help="Keras' own split, used when train-eval gives no validation data.")
@click.option("--steps-per-epoch", type=int, default=None)
@click.option("--validation-steps", type=int, default=None)
@click.option("--shuffle/--no-shuffle", default=True, show_default=True, help="Shuffle training rows each epoch.")
@click.option("--class-weight", default=None, metavar="balanced|LABEL=W,…", help="Class weights for imbalanced labels.")
@click.option("--callback", "callbacks", multiple=True, metavar="SPEC", help="EarlyStopping(...), ReduceLROnPlateau(...) or TerminateOnNaN(); repeatable.")
@click.option("--verbose", type=click.Choice(["auto", "0", "1", "2"]), default="auto", show_default=True,
              help="Keras training output: auto is a progress bar on a terminal, a line per epoch otherwise.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed: same seed and inputs, same results.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="YAML/JSON file with any of the options above.")
@click.option("--params-out", default=None, metavar="PATH", help="Also write the estimator's parameters as a table.")
@click.option("-o", "--output", required=True, metavar="PATH", help="Estimator archive to write.")
@threads_option
def main(arch_path, config_path, params_out, output, threads, **options):
    setup_runtime(threads)
    from ..fileio import check_writable

    check_writable(output, "-o/--output")
    if params_out:
        check_writable(params_out, "--params-out")
    params = _params(options, config_path, click.get_current_context())
    load_keras()
    from ..architecture import load_json_file, model_from_config
    from ..archive import save
    from ..estimator import make_estimator

    source = f"--arch {arch_path}"
    architecture = load_json_file(arch_path, source)
    model = model_from_config(architecture, source)
    task = params.pop("task")
    estimator = make_estimator(task, architecture=architecture, **params)
    estimator.validate(model)
    save(estimator, output)
    if params_out:
        from ..config import params_table
        from ..tables import write_table

        write_table(params_table(estimator), params_out)


def _params(options: dict, config_path, ctx) -> dict:
    """Merge config file and flags (explicit flags win), in estimator-parameter form."""
    from ..config import CONFIG_KEYS, callback_entry, class_weight, validate_config
    from ..layerspec import parse_kwargs

    config = {}
    if config_path:
        from ..specfile import load_spec

        config = validate_config(load_spec(config_path, "--config"), f"--config {config_path}")

    def given(name):
        return ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)

    params = {key: config[key] for key in CONFIG_KEYS if key in config}
    for key in ("task", "loss", "optimizer", "epochs", "batch_size", "validation_split", "steps_per_epoch",
                "validation_steps", "shuffle", "seed"):
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
