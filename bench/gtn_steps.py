"""The GTN deep-learning series (FNN, RNN, CNN), step by step: galaxy-dl's programs beside Galaxy-ML's tool scripts.

Each step is its own process, as in Galaxy (whose job overhead is left out of both). Galaxy-ML's steps run its
tools' own scripts (bgruening/galaxytools, tools/sklearn) with the parameters of the GTN's published workflows
written as the `inputs` JSON Galaxy would hand them; ours run the commands of README "The GTN deep-learning
series". Same data, same layers, losses, optimizers, epochs and batch sizes. Not part of `make bench`: it needs
galaxy-ml (Python >= 3.12) and a copy of the tool scripts.

    python3.12 -m venv /var/tmp/gml/venv && /var/tmp/gml/venv/bin/pip install galaxy-ml==0.11.0
    /var/tmp/gml/venv/bin/python -m compileall -q /var/tmp/gml/venv/lib   # as `make` does for ours
    python bench/gtn_steps.py --galaxy-ml-python /var/tmp/gml/venv/bin/python \
        --galaxy-ml-tools /var/tmp/gml/tools [--data test-data] [--repeats 3]

(--galaxy-ml-tools: a copy of galaxytools' tools/ folder with sklearn/ and plotly_regression_performance_plots/.)
Compile the bytecode: where PYTHONDONTWRITEBYTECODE is set, as on our CI machines, an uncompiled venv compiles
TensorFlow again in every process (`import keras` 11.9 s instead of 4.7 s here), which is not Galaxy-ML's cost.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

from run import ENV, WORK, _child, rotated, row, section

LAYER = "layer_selection"


def dense(units, activation):
    return {LAYER: {"layer_type": "Dense", "units": units, "activation": activation, "kwargs": ""}}


def config(input_shape, layers):
    return {"model_selection": {"model_type": "sequential", "input_shape": input_shape, "layers": layers}}


def builder(kind, loss, metrics, epochs, batch_size, validation_split=0.0):
    adam = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    return {"mode_selection": {
        "mode_type": "train_model", "learning_type": kind, "random_seed": 0,
        "compile_params": {"loss": loss, "optimizer_selection": {"optimizer_type": "Adam", "optimizer_options": adam},
                           "metrics": metrics},
        "fit_params": {"epochs": epochs, "batch_size": batch_size, "steps_per_epoch": None,
                       "validation_split": validation_split, "validation_steps": None,
                       "callbacks": [{"callback_selection": {"callback_type": "None"}}], "verbose": 0}}}


def columns(n):
    return {f"selected_column_selector_option{n}": "all_columns"}


def train_eval(header):
    return {
        "experiment_schemes": {
            "selected_exp_scheme": "train_val", "hyperparams_swapping": {"param_set": []},
            "test_split": {"split_algos": {"shuffle": "simple", "test_size": 0.2, "random_state": 0}},
            "metrics": {"scoring": {"primary_scoring": "default", "secondary_scoring": None}}},
        "input_options": {"selected_input": "tabular", "header1": header, "header2": header,
                          "column_selector_options_1": {"selected_column_selector_option": "all_columns"},
                          "column_selector_options_2": columns(2)},
        "save": ["save_estimator"]}


def prediction(header):
    return {"input_options": {"selected_input": "tabular", "header1": header,
                              "column_selector_options_1": {"selected_column_selector_option": "all_columns"}},
            "method": "predict"}


def confusion(header_true):
    return {"plotting_selection": {
        "plot_type": "classification_confusion_matrix", "header_true": header_true, "header_predicted": True,
        "column_selector_options_true": {"selected_column_selector_option": "all_columns"},
        "title": "Confusion matrix between true and predicted labels", "plot_format": "png", "plot_color": "Greens"}}


def series(data: Path) -> dict:
    """Per tutorial: (step, ours argv, Galaxy-ML script, its inputs JSON or None, its argv)."""
    d = {name: str(data / f"{name}.tsv") for name in (
        "fnn_X_train", "fnn_y_train", "fnn_X_test", "fnn_y_test", "rnn_X_train", "rnn_y_train", "rnn_X_test",
        "rnn_y_test", "cnn_X_train", "cnn_y_train", "cnn_X_test", "cnn_y_test")}
    fnn_layers = [dense(12, "relu"), dense(8, "relu"), dense(1, "linear")]
    rnn_layers = [{LAYER: {"layer_type": "Embedding", "input_dim": 10000, "output_dim": 32, "kwargs": ""}},
                  {LAYER: {"layer_type": "LSTM", "units": 100, "kwargs": ""}}, dense(1, "sigmoid")]
    conv = [{LAYER: {"layer_type": "Reshape", "target_shape": "(28,28,1)"}}]
    for filters in (64, 32):
        conv += [{LAYER: {"layer_type": "Conv2D", "filters": filters, "kernel_size": 3, "activation": "relu",
                          "kwargs": ""}},
                 {LAYER: {"layer_type": "MaxPooling2D", "pool_size": "(2, 2)", "strides": "", "kwargs": ""}}]
    conv += [{LAYER: {"layer_type": "Flatten", "data_format": "channels_last"}}, dense(10, "softmax")]
    arch = {
        "fnn": ["--input-shape", "(5, )", "--layer", 'Dense(12, activation="relu")', "--layer",
                'Dense(8, activation="relu")', "--layer", 'Dense(1, activation="linear")'],
        "rnn": ["--input-shape", "(500,)", "--layer", "Embedding(10000, 32)", "--layer", "LSTM(100)", "--layer",
                'Dense(1, activation="sigmoid")'],
        "cnn": ["--input-shape", "(784, )", "--layer", "Reshape((28,28,1))", "--layer",
                'Conv2D(64, 3, activation="relu")', "--layer", "MaxPooling2D((2, 2))", "--layer",
                'Conv2D(32, 3, activation="relu")', "--layer", "MaxPooling2D((2, 2))", "--layer", "Flatten()",
                "--layer", 'Dense(10, activation="softmax")'],
    }
    model = {
        "fnn": ["--task", "regression", "--loss", "mse", "--optimizer", "adam", "--epochs", "150", "--batch-size", "50"],
        "rnn": ["--loss", "binary_crossentropy", "--optimizer", "adam", "--metrics", "accuracy", "--epochs", "2",
                "--batch-size", "128"],
        "cnn": ["--loss", "categorical_crossentropy", "--optimizer", "adam", "--metrics", "accuracy", "--epochs", "10",
                "--batch-size", "500", "--validation-split", "0.1"],
    }
    gml_model = {
        "fnn": (config("(5, )", fnn_layers), builder("KerasGRegressor", "mean_squared_error", ["mse"], 150, 50)),
        "rnn": (config("(500,)", rnn_layers), builder("KerasGClassifier", "binary_crossentropy", ["acc"], 2, 128)),
        "cnn": (config("(784, )", conv),
                builder("KerasGClassifier", "categorical_crossentropy", ["categorical_accuracy"], 10, 500, 0.1)),
    }
    out = {}
    for t in ("fnn", "rnn", "cnn"):
        header = t == "fnn"
        x_flags = [] if header else ["--x-no-header"]
        y_flags = [] if header else ["--y-no-header"]
        y_train = d[f"{t}_y_train"]
        steps = []
        if t == "cnn":  # Galaxy-ML's users one-hot the labels first; our train-eval reads the one-hot table too
            y_train = "cnn_y_train_onehot.gml.tsv"
            steps.append(("to categorical", None, "to_categorical.py", None,
                          ["--encoder_task_type", "label_encoder", "--labels_path", d["cnn_y_train"],
                           "--labels_header", "boolfalse", "--num_classes", "10", "--outfile", y_train]))
        our_y = str(data / "cnn_y_train_onehot.tsv") if t == "cnn" else y_train
        steps += [
            ("architecture", ["build-arch", *arch[t], "--quiet", "-o", f"{t}.arch.json"], "keras_deep_learning.py",
             gml_model[t][0], ["--tool_id", "keras_model_config", "--outfile", f"{t}.gml.json"]),
            ("estimator", ["build-model", "--arch", f"{t}.arch.json", *model[t], "--seed", "0", "--verbose", "0", "-o", f"{t}.model.zip"],
             "keras_deep_learning.py", gml_model[t][1],
             ["--tool_id", "keras_model_builder", "--model_json", f"{t}.gml.json", "--outfile", f"{t}.gml.h5mlm"]),
            ("train and evaluate",
             ["train-eval", "--model", f"{t}.model.zip", "--x", d[f"{t}_X_train"], *x_flags, "--y", our_y, *y_flags,
              "--scores", f"{t}.scores.tsv", "--fitted-model", f"{t}.fitted.zip"],
             "keras_train_and_eval.py", train_eval(header),
             ["--estimator", f"{t}.gml.h5mlm", "--infile1", d[f"{t}_X_train"], "--infile2", y_train,
              "--outfile_result", f"{t}.gml.scores.tsv", "--outfile_object", f"{t}.gml.fitted.h5mlm"]),
            ("predict", ["predict", "--model", f"{t}.fitted.zip", "--x", d[f"{t}_X_test"], *x_flags,
                         "-o", f"{t}.predictions.tsv"],
             "model_prediction.py", prediction(header),
             ["--infile_estimator", f"{t}.gml.fitted.h5mlm", "--infile1", d[f"{t}_X_test"],
              "--outfile_predict", f"{t}.gml.predictions.tsv"]),
        ]
        if t == "fnn":
            steps.append(("plot", ["plot-reg", "--y-true", d["fnn_y_test"], "--y-pred", "fnn.predictions.tsv",
                                   "-o", "fnn.reg.png", "--metrics-out", "fnn.reg.tsv"],
                          "../plotly_regression_performance_plots/plot_regression_performance.py", None,
                          ["-i", d["fnn_y_test"], "-j", "fnn.gml.predictions.tsv"]))
        else:
            steps.append(("plot", ["plot-cm", "--y-true", d[f"{t}_y_test"], "--y-true-no-header",
                                   "--y-pred", f"{t}.predictions.tsv", "-o", f"{t}.cm.png",
                                   "--metrics-out", f"{t}.cm.tsv"],
                          "ml_visualization_ex.py", confusion(False),
                          ["--true_labels", d[f"{t}_y_test"], "--predicted_labels", f"{t}.gml.predictions.tsv",
                           "--plot_color", "Greens", "--title", "Confusion matrix"]))
        out[t] = steps
    return out


def galaxy_ml_cmd(python, tools, script, inputs, argv, where, name):
    cmd = [python, str(tools / "sklearn" / script)]
    if script == "keras_train_and_eval.py":
        cmd.insert(1, str(Path(__file__).with_name("galaxy_ml_score_shim.py")))
    if inputs is not None:
        path = where / f"{name}.inputs.json"
        path.write_text(json.dumps(inputs))
        cmd += ["--inputs", str(path)]
    return cmd + argv


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--galaxy-ml-python", required=True, help="a Python with galaxy-ml 0.11.0")
    parser.add_argument("--galaxy-ml-tools", type=Path, required=True, help="galaxytools' tools/ folder")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "test-data")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = args.data.resolve()
    ours_dir, gml_dir = WORK / "gtn", WORK / "gtn-galaxy-ml"
    for folder in (ours_dir, gml_dir):
        folder.mkdir(parents=True, exist_ok=True)
    gml_env = {**ENV, "PYTHONPATH": str(args.galaxy_ml_tools / "sklearn"), "MPLBACKEND": "Agg"}
    results = {}
    section(f"GTN series, each step its own process ({data}; median of {args.repeats}, alternating)")
    row("tutorial / step", "galaxy-dl s", "Galaxy-ML s", "ratio", "ours MB", "theirs MB")
    for tutorial, steps in series(data).items():
        totals = {"ours": 0.0, "theirs": 0.0}
        for step, ours, script, inputs, argv in steps:
            theirs = galaxy_ml_cmd(args.galaxy_ml_python, args.galaxy_ml_tools, script, inputs, argv, gml_dir,
                                   f"{tutorial}-{step.replace(' ', '_')}")
            commands = {"theirs": (theirs, gml_dir, gml_env)}
            if ours:
                commands["ours"] = (ours, ours_dir, ENV)
            runs = {name: [] for name in commands}
            for name in rotated(list(commands), args.repeats):
                cmd, cwd, env = commands[name]
                runs[name].append(_child(cmd, cwd, env))
            got = {name: (statistics.median(r[0] for r in rs), max(r[1] for r in rs)) for name, rs in runs.items()}
            ours_s, ours_mb = got.get("ours", (0.0, 0.0))
            theirs_s, theirs_mb = got["theirs"]
            totals["ours"] += ours_s
            totals["theirs"] += theirs_s
            results[f"{tutorial}/{step}"] = {"ours": got.get("ours"), "galaxy_ml": got["theirs"]}
            row(f"{tutorial} {step}", f"{ours_s:.2f}" if ours else "(none)", f"{theirs_s:.2f}",
                f"{ours_s / theirs_s:.2f}" if ours else "", f"{ours_mb:.0f}" if ours else "", f"{theirs_mb:.0f}")
        results[tutorial] = totals
        row(f"{tutorial} total", f"{totals['ours']:.2f}", f"{totals['theirs']:.2f}",
            f"{totals['ours'] / totals['theirs']:.2f}", "", "")
    (WORK / "gtn-steps.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
