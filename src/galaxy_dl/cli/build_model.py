"""build-model: attach task, loss, optimizer, metrics, fit parameters and seed to an architecture."""

import click

from .common import program, setup_runtime, threads_option

# Config-file keys (and the estimator parameters they set), besides the architecture.
CONFIG_KEYS = (
    "task", "loss", "optimizer", "optimizer_params", "metrics", "epochs", "batch_size", "validation_split",
    "steps_per_epoch", "validation_steps", "shuffle", "class_weight", "callbacks", "verbose", "seed",
)


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
    from ..fileio import check_writable

    check_writable(output, "-o/--output")
    if params_out:
        check_writable(params_out, "--params-out")
    params = _params(options, config_path, click.get_current_context())
    setup_runtime(threads)
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
        _write_params(estimator, params_out)


def _params(options: dict, config_path, ctx) -> dict:
    """Merge config file and flags (explicit flags win), in estimator-parameter form."""
    from ..errors import UsageError
    from ..layerspec import parse_kwargs, parse_layer, suggest

    config = {}
    if config_path:
        from ..specfile import load_spec

        config = load_spec(config_path, "--config")
        for key in config:
            if key not in CONFIG_KEYS:
                raise UsageError(f"unknown key {key!r}{suggest(key, CONFIG_KEYS)}", source=f"--config {config_path}")

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
        params["metrics"] = [m.strip() for text in options["metrics"] for m in text.split(",") if m.strip()]
    else:
        params["metrics"] = list(params.get("metrics") or [])
    callbacks = [_callback_entry(c) for c in params.get("callbacks") or []]
    callbacks += [_callback_entry(parse_layer(text)) for text in options["callbacks"]]
    params["callbacks"] = callbacks
    if options["class_weight"] is not None:
        params["class_weight"] = _class_weight(options["class_weight"])
    else:
        params.setdefault("class_weight", None)
    return params


def _callback_entry(value) -> dict:
    from ..errors import UsageError
    from ..layerspec import LayerCall, parse_layer

    if isinstance(value, str):
        value = parse_layer(value)
    if isinstance(value, LayerCall):
        if value.args:
            raise UsageError(f"--callback {value.text!r}: give parameters as NAME=VALUE")
        return {"class_name": value.name, "config": dict(value.kwargs)}
    if isinstance(value, dict) and "class_name" in value:
        return {"class_name": value["class_name"], "config": dict(value.get("config") or {})}
    raise UsageError(f"callback {value!r} must be 'Name(param=value)' or {{class_name: …, config: {{…}}}}")


def _class_weight(text: str):
    from ..errors import UsageError

    if text.strip() == "balanced":
        return "balanced"
    weights = {}
    for part in text.split(","):
        label, sep, weight = part.partition("=")
        try:
            weights[label.strip()] = float(weight)
        except ValueError:
            sep = ""
        if not sep or not label.strip():
            raise UsageError(f"--class-weight: {part!r} is not LABEL=WEIGHT")
    return weights


def _write_params(estimator, path: str) -> None:
    import json

    import pandas as pd

    from ..tables import write_table

    params = estimator.get_params()
    params.pop("architecture")
    rows = [{"parameter": "task", "value": estimator.task}]
    rows += [{"parameter": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in sorted(params.items())]
    write_table(pd.DataFrame(rows), path)
