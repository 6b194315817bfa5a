"""DNA sequence classification side by side: galaxy-dl's programs, a plain Keras script and Galaxy-ML's tools.

Two data sets, each a training FASTA (labels matched by id) and a test FASTA: ``real``, the first ``--train``
records of test-data/make_seq_data.py's full output (Oct4 and MafK ChIP-seq peaks and shuffled background, janggu's
sample data) and its 300 test records; ``synthetic``, random 200 bp DNA with one of two motifs planted (GATA's
AGATAA, an E-box CACGTG) or none, three classes. Two models: a one-hot CNN (Conv1D 64x15, global max pooling,
Dense 32, softmax; the README's recommendation) and the published Galaxy workflow's LSTM on 3-mers (Embedding(130,
128), LSTM 256 returning sequences, LSTM 256, Dense 64 elu, softmax). Adam 0.001, 10 epochs of batch 32, 10% of the
training rows as validation data, accuracy and macro F1 on the test records.

- Quality: galaxy-dl (build-arch, build-model, train-eval, predict, plot-cm) and bench/plain_seq.py on each set.
- Time: the published workflow's job (encode, train, predict, confusion matrix), each step its own process, with
  galaxy-dl and with Galaxy-ML's tool scripts (to_categorical for the 3-mers and the one-hot labels,
  keras_model_config, keras_model_builder, keras_train_and_eval, model_prediction, ml_visualization_ex), alternating.
  Galaxy-ML's k-mer vocabulary is built from whichever FASTA it is given in first-seen order, so its test records
  are encoded together with the training records (one FASTA, then split by rows), as a careful user must; its
  accuracy when the test FASTA is encoded on its own is shown too.
- Encoding speed: every training record of the full set one-hot encoded and as 3-mer tokens, in memory: galaxy-dl's
  reader and encoder against galaxy_ml.preprocessors.GenomeOneHotEncoder and to_categorical's k-mer functions.

Not part of `make bench`: it needs galaxy-ml 0.11.0 (Python >= 3.12), galaxytools' tool scripts and janggu's sdist:

    pip download --no-deps --no-binary :all: janggu==0.10.2 -d wheels
    python bench/seq_compare.py --janggu wheels/janggu-0.10.2.tar.gz --galaxy-ml-python /var/tmp/gml/venv/bin/python \\
        --galaxy-ml-tools /var/tmp/gml/tools [--train 2000]
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from gtn_steps import LAYER, builder, config, dense, galaxy_ml_cmd
from run import ENV, ROOT, WORK, _child, rotated, row, section

CNN = ["--input-shape", "200,4", "--layer", 'Conv1D(64, 15, activation="relu")', "--layer", "GlobalMaxPooling1D()",
       "--layer", 'Dense(32, activation="relu")', "--layer", 'Dense(3, activation="softmax")']
LSTM = ["--input-shape", "198", "--layer", "Embedding(130, 128)", "--layer", "LSTM(256, return_sequences=True)",
        "--layer", "LSTM(256)", "--layer", 'Dense(64, activation="elu")', "--layer", 'Dense(3, activation="softmax")']
FIT = ["--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.001", "--metrics",
       "accuracy", "--epochs", "10", "--batch-size", "32", "--validation-split", "0.1", "--seed", "0", "--verbose", "0"]


def fasta_records(path: Path):
    out = []
    for block in path.read_text().split(">")[1:]:
        header, *lines = block.splitlines()
        out.append((header.split()[0], "".join(lines)))
    return out


def write_set(folder: Path, train, train_labels, test, test_labels):
    """train.fa with train_labels.tsv (id, label); test.fa with test_labels.tsv; Galaxy-ML's integer labels."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in (("train", train), ("test", test)):
        (folder / f"{name}.fa").write_text("".join(f">{i}\n{s}\n" for i, s in records))
    (folder / "both.fa").write_text((folder / "train.fa").read_text() + (folder / "test.fa").read_text())
    classes = sorted(set(train_labels))
    (folder / "train_labels.tsv").write_text(
        "id\tlabel\n" + "".join(f"{i}\t{label}\n" for (i, _), label in zip(train, train_labels, strict=True)))
    (folder / "test_labels.tsv").write_text("label\n" + "".join(f"{label}\n" for label in test_labels))
    for name, labels in (("train", train_labels), ("test", test_labels)):
        (folder / f"{name}_codes.tsv").write_text("label\n" + "".join(f"{classes.index(v)}\n" for v in labels))
    (folder / "classes.json").write_text(json.dumps(classes))


def real(full: Path, out: Path, n: int):
    labels = dict(line.split("\t") for line in (full / "dna_train_labels.tsv").read_text().splitlines()[1:])
    train = fasta_records(full / "dna_train.fa")[:n]
    test = fasta_records(full / "dna_test.fa")
    write_set(out, train, [labels[i] for i, _ in train], test,
              (full / "dna_test_labels.tsv").read_text().split()[1:])


def synthetic(out: Path, n: int, n_test: int = 500):
    rng = np.random.default_rng(1)
    motifs = {"GATA": "AGATAA", "Ebox": "CACGTG", "none": ""}
    records, labels = [], []
    for i in range(n + n_test):
        seq = list(rng.choice(list("ACGT"), 200))
        label = list(motifs)[i % 3]
        if motifs[label]:
            start = int(rng.integers(0, 200 - 6))
            seq[start : start + 6] = motifs[label]
        records.append((f"s{i}", "".join(seq)))
        labels.append(label)
    write_set(out, records[:n], labels[:n], records[n:], labels[n:])


def ours(folder: Path, model: str, backend: str = "tensorflow") -> list:
    arch, extra = (CNN, []) if model == "cnn" else (LSTM, ["--encoding", "kmer:3"])
    extra += ["--backend", backend]
    return [
        ["build-arch", *arch, "--quiet", "-o", f"{model}.json"],
        ["build-model", "--arch", f"{model}.json", *FIT, "-o", f"{model}.zip"],
        ["train-eval", "--model", f"{model}.zip", "--x", folder / "train.fa", "--y", folder / "train_labels.tsv",
         *extra, "--val-size", "0.1", "--scores", f"{model}.scores.tsv", "--fitted-model", f"{model}.fitted.zip"],
        ["predict", "--model", f"{model}.fitted.zip", "--x", folder / "test.fa", "-o", f"{model}.predictions.tsv"],
        ["plot-cm", "--y-true", folder / "test_labels.tsv", "--y-pred", f"{model}.predictions.tsv", "-o",
         f"{model}.cm.png", "--metrics-out", f"{model}.metrics.tsv"],
    ]


def galaxy_ml(folder: Path, n_train: int) -> list:
    """(script, inputs JSON or None, argv) per step of the published workflow's job in Galaxy-ML's tools."""
    layers = [{LAYER: {"layer_type": "Embedding", "input_dim": 130, "output_dim": 128, "kwargs": ""}},
              {LAYER: {"layer_type": "LSTM", "units": 256, "kwargs": "return_sequences=True"}},
              {LAYER: {"layer_type": "LSTM", "units": 256, "kwargs": ""}}, dense(64, "elu"), dense(3, "softmax")]
    fit = builder("KerasGClassifier", "categorical_crossentropy", ["acc"], 10, 32, 0.1)
    train_eval = {
        "experiment_schemes": {
            "selected_exp_scheme": "train_val", "hyperparams_swapping": {"param_set": []},
            "test_split": {"split_algos": {"shuffle": "simple", "test_size": 0.1, "random_state": 0}},
            "metrics": {"scoring": {"primary_scoring": "default", "secondary_scoring": None}}},
        "input_options": {"selected_input": "tabular", "header1": False, "header2": False,
                          "column_selector_options_1": {"selected_column_selector_option": "all_columns"},
                          "column_selector_options_2": {"selected_column_selector_option2": "all_columns"}},
        "save": ["save_estimator"]}
    predict = {"input_options": {"selected_input": "tabular", "header1": False,
                                 "column_selector_options_1": {"selected_column_selector_option": "all_columns"}},
               "method": "predict"}
    confusion = {"plotting_selection": {
        "plot_type": "classification_confusion_matrix", "header_true": True, "header_predicted": True,
        "column_selector_options_true": {"selected_column_selector_option": "all_columns"},
        "title": "Confusion matrix", "plot_format": "png", "plot_color": "Greens"}}
    split = [sys.executable, "-c", "import sys; rows = open(sys.argv[1]).read().splitlines(); n = int(sys.argv[2]); "
             "open('gml_train_tokens.tsv', 'w').write('\\n'.join(rows[:n]) + '\\n'); "
             "open('gml_test_tokens.tsv', 'w').write('\\n'.join(rows[n:]) + '\\n')", "gml_tokens.tsv", str(n_train)]
    return [
        ("to_categorical.py", None, ["--encoder_task_type", "dna_encoder", "--fasta_path", str(folder / "both.fa"),
                                     "--sequence_encoding", "kmer", "--kmer_size", "3", "--outfile", "gml_tokens.tsv",
                                     "--outfile_vocab", "gml_vocab.json"]),
        ("(split rows)", None, split),
        ("to_categorical.py", None, ["--encoder_task_type", "label_encoder", "--labels_path",
                                     str(folder / "train_codes.tsv"), "--labels_header", "booltrue", "--num_classes",
                                     "3", "--outfile", "gml_train_onehot.tsv"]),
        ("keras_deep_learning.py", config("(198,)", layers), ["--tool_id", "keras_model_config", "--outfile",
                                                              "gml.json"]),
        ("keras_deep_learning.py", fit, ["--tool_id", "keras_model_builder", "--model_json", "gml.json", "--outfile",
                                         "gml.h5mlm"]),
        ("keras_train_and_eval.py", train_eval, ["--estimator", "gml.h5mlm", "--infile1", "gml_train_tokens.tsv",
                                                 "--infile2", "gml_train_onehot.tsv", "--outfile_result",
                                                 "gml.scores.tsv", "--outfile_object", "gml.fitted.h5mlm"]),
        ("model_prediction.py", predict, ["--infile_estimator", "gml.fitted.h5mlm", "--infile1",
                                          "gml_test_tokens.tsv", "--outfile_predict", "gml.predictions.tsv"]),
        ("ml_visualization_ex.py", confusion, ["--true_labels", str(folder / "test_codes.tsv"),
                                               "--predicted_labels", "gml.predictions.tsv", "--plot_color", "Greens",
                                               "--title", "Confusion matrix"]),
    ]


def scores_from_metrics(path: Path) -> dict:
    lines = {line.split("\t")[0]: line.split("\t") for line in path.read_text().splitlines()}
    return {"accuracy": float(lines["accuracy"][3]), "macro_f1": float(lines["macro avg"][3])}


def scores_from_codes(predictions: Path, truth: Path) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = [int(float(v)) for v in predictions.read_text().split()[1:]]
    true = [int(v) for v in truth.read_text().split()[1:]]
    return {"accuracy": accuracy_score(true, predicted), "macro_f1": f1_score(true, predicted, average="macro")}


def timed(steps, cwd: Path, env) -> tuple[float, list]:
    runs = [_child([str(a) for a in step], cwd, env) for step in steps]
    return sum(r[0] for r in runs), [round(r[0], 2) for r in runs]


ENCODE_OURS = """
import json, sys, time
t = time.perf_counter()
from galaxy_dl.data import fasta
from galaxy_dl.data.features import Streaming
from galaxy_dl.data.seqcoding import Encoding
import numpy as np
kind = sys.argv[2]
data = fasta.read(sys.argv[1], "x", Encoding.parse(kind, "dna"), Streaming(stream=False))
rows = data.rows
if kind != "onehot":
    rows.learn(np.arange(rows.shape[0]))
X = rows[np.arange(rows.shape[0])]
print(json.dumps({"seconds": time.perf_counter() - t, "shape": list(X.shape)}))
"""
ENCODE_GALAXY_ML = """
import json, sys, time
t = time.perf_counter()
kind = sys.argv[2]
import numpy as np
if kind == "onehot":
    import pyfaidx
    from galaxy_ml.preprocessors import GenomeOneHotEncoder
    n = len(pyfaidx.Fasta(sys.argv[1]).keys())
    encoder = GenomeOneHotEncoder(fasta_path=sys.argv[1], seq_length=None, padding=False)
    X = encoder.fit(np.arange(n).reshape(-1, 1)).transform(np.arange(n).reshape(-1, 1))
else:
    import pyfaidx
    from to_categorical import (build_kmer_vocabulary, encode_sequence_kmers, normalize_dna_sequence,
                                pad_encoded_sequences)
    fasta = pyfaidx.Fasta(sys.argv[1])
    sequences = [normalize_dna_sequence(str(fasta[name])) for name in fasta.keys()]
    vocabulary = build_kmer_vocabulary(sequences, 3)
    X = np.asarray(pad_encoded_sequences([encode_sequence_kmers(s, vocabulary, 3) for s in sequences]))
print(json.dumps({"seconds": time.perf_counter() - t, "shape": list(X.shape)}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--janggu", type=Path, required=True, help="janggu-0.10.2.tar.gz")
    parser.add_argument("--galaxy-ml-python", required=True)
    parser.add_argument("--galaxy-ml-tools", type=Path, required=True)
    parser.add_argument("--train", type=int, default=2000, help="training records of each set")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--backend", default="tensorflow", help="ours, for the published job's LSTM")
    parser.add_argument("--published-only", action="store_true",
                        help="only the published workflow's job (and the one-hot CNN's run beside it)")
    args = parser.parse_args()
    work = WORK / "seq-compare"
    full = work / "full"
    _child([sys.executable, ROOT / "test-data" / "make_seq_data.py", args.janggu, "--out", full], ROOT, ENV)
    real(full, work / "real", args.train)
    synthetic(work / "synthetic", args.train)
    gml_env = {**ENV, "PYTHONPATH": str(args.galaxy_ml_tools / "sklearn"), "MPLBACKEND": "Agg"}
    results: dict = {"train_records": args.train}

    if args.published_only:
        published_only(args, work, gml_env, results)
        return
    section(f"Encoding every training record of the full set ({full / 'dna_train.fa'}), in memory, own process each")
    row("encoding", "galaxy-dl s", "Galaxy-ML s", "ratio")
    for kind, theirs_kind in (("onehot", "onehot"), ("kmer:3", "kmer")):
        got = {}
        for name, python, script, env in (("ours", sys.executable, ENCODE_OURS, ENV),
                                          ("theirs", args.galaxy_ml_python, ENCODE_GALAXY_ML, gml_env)):
            _, _, out = _child([python, "-c", script, full / "dna_train.fa", kind if name == "ours" else theirs_kind],
                               work, env)
            got[name] = json.loads(out.strip().splitlines()[-1])
        results[f"encode {kind}"] = got
        row(kind, f"{got['ours']['seconds']:.2f}", f"{got['theirs']['seconds']:.2f}",
            f"{got['ours']['seconds'] / got['theirs']['seconds']:.2f}")

    print("\n(the published workflow's job on the real set: galaxy-dl and Galaxy-ML, alternating; results below)", flush=True)
    real_dir = work / "real"
    times, gml_dir, gml_steps = alternate_published(args, real_dir, gml_env)
    section(f"Quality on the test records ({args.train} training records; accuracy / macro F1)")
    row("data / model", "galaxy-dl", "plain Keras", "galaxy-dl s")
    for data in ("real", "synthetic"):
        folder = work / data
        for model in ("cnn", "lstm"):
            cwd = folder / f"ours-{model}"
            cwd.mkdir(exist_ok=True)
            if (data, model) == ("real", "lstm"):  # run above, alternating with Galaxy-ML's
                seconds, steps = statistics.median(t[0] for t in times["ours lstm"]), times["ours lstm"][0][1]
            else:
                seconds, steps = timed(ours(folder, model), cwd, ENV)
            mine = scores_from_metrics(cwd / f"{model}.metrics.tsv")
            _, _, out = _child([sys.executable, ROOT / "bench" / "plain_seq.py", folder, model], cwd, ENV)
            plain = json.loads(out.strip().splitlines()[-1])
            results[f"{data}/{model}"] = {"ours": mine, "plain": plain, "ours_seconds": seconds, "ours_steps": steps}
            row(f"{data} {model}", f"{mine['accuracy']:.3f} / {mine['macro_f1']:.3f}",
                f"{plain['accuracy']:.3f} / {plain['macro_f1']:.3f}", f"{seconds:.1f}")

    gml_scores = scores_from_codes(gml_dir / "gml.predictions.tsv", real_dir / "test_codes.tsv")
    separate = galaxy_ml_cmd(args.galaxy_ml_python, args.galaxy_ml_tools, "to_categorical.py", None,
                             ["--encoder_task_type", "dna_encoder", "--fasta_path", str(real_dir / "test.fa"),
                              "--sequence_encoding", "kmer", "--kmer_size", "3", "--outfile", "gml_test_alone.tsv",
                              "--outfile_vocab", "gml_test_alone_vocab.json"], gml_dir, "alone")
    _child(separate, gml_dir, gml_env)
    predict_alone = [a if a != "gml_test_tokens.tsv" else "gml_test_alone.tsv" for a in gml_steps[6]]
    predict_alone[predict_alone.index("gml.predictions.tsv")] = "gml_alone.predictions.tsv"
    _child(predict_alone, gml_dir, gml_env)
    alone = scores_from_codes(gml_dir / "gml_alone.predictions.tsv", real_dir / "test_codes.tsv")
    wall = {name: statistics.median(t[0] for t in runs) for name, runs in times.items()}
    report_published(results, wall, gml_scores, alone, times)
    (WORK / "seq-compare.json").write_text(json.dumps(results, indent=1))


def report_published(results, wall, gml_scores, alone, times):
    cnn = results["real/cnn"]
    results["published job"] = {"wall_seconds": wall, "steps": {n: r[0][1] for n, r in times.items()},
                                "galaxy_ml": gml_scores, "galaxy_ml_test_encoded_alone": alone,
                                "ours_lstm": results["real/lstm"]["ours"], "ours_cnn": cnn["ours"],
                                "ours_cnn_seconds": cnn["ours_seconds"]}
    section("The published workflow's job on the real set, each step its own process, alternating")
    row("pipeline", "wall s", "accuracy", "macro F1", "ratio")
    theirs = wall["galaxy-ml lstm"]
    row("Galaxy-ML, LSTM on 3-mers", f"{theirs:.1f}", f"{gml_scores['accuracy']:.3f}", f"{gml_scores['macro_f1']:.3f}",
        "1.00")
    if alone is not None:
        row("  its test FASTA encoded alone", "", f"{alone['accuracy']:.3f}", f"{alone['macro_f1']:.3f}", "")
    mine = results["real/lstm"]["ours"]
    row(f"galaxy-dl, the same LSTM ({results.get('backend', 'tensorflow')})", f"{wall['ours lstm']:.1f}", f"{mine['accuracy']:.3f}", f"{mine['macro_f1']:.3f}",
        f"{wall['ours lstm'] / theirs:.2f}")
    row("galaxy-dl, one-hot CNN", f"{cnn['ours_seconds']:.1f}", f"{cnn['ours']['accuracy']:.3f}",
        f"{cnn['ours']['macro_f1']:.3f}", f"{cnn['ours_seconds'] / theirs:.2f}")


def alternate_published(args, real_dir: Path, gml_env):
    """The published workflow's job, ours (LSTM on --backend) and Galaxy-ML's, alternating --repeats times:
    (wall times and steps per pipeline, Galaxy-ML's folder, its steps)."""
    gml_dir = real_dir / "galaxy-ml"
    gml_dir.mkdir(exist_ok=True)
    (real_dir / "ours-lstm").mkdir(exist_ok=True)
    gml_steps = [galaxy_ml_cmd(args.galaxy_ml_python, args.galaxy_ml_tools, script, inputs, argv, gml_dir, f"s{i}")
                 if script != "(split rows)" else argv
                 for i, (script, inputs, argv) in enumerate(galaxy_ml(real_dir, args.train))]
    pipelines = {"ours lstm": (ours(real_dir, "lstm", args.backend), real_dir / "ours-lstm", ENV),
                 "galaxy-ml lstm": (gml_steps, gml_dir, gml_env)}
    times: dict = {name: [] for name in pipelines}
    for name in rotated(list(pipelines), args.repeats):
        steps, cwd, env = pipelines[name]
        times[name].append(timed(steps, cwd, env))
    return times, gml_dir, gml_steps


def published_only(args, work, gml_env, results):
    """The published job alone, alternating, then the one-hot CNN once (its time and scores beside it)."""
    results["backend"] = args.backend
    real_dir = work / "real"
    (real_dir / "ours-cnn").mkdir(exist_ok=True)
    times, gml_dir, _ = alternate_published(args, real_dir, gml_env)
    seconds, steps = timed(ours(real_dir, "cnn"), real_dir / "ours-cnn", ENV)
    results["real/cnn"] = {"ours": scores_from_metrics(real_dir / "ours-cnn" / "cnn.metrics.tsv"),
                           "ours_seconds": seconds, "ours_steps": steps}
    results["real/lstm"] = {"ours": scores_from_metrics(real_dir / "ours-lstm" / "lstm.metrics.tsv")}
    gml_scores = scores_from_codes(gml_dir / "gml.predictions.tsv", real_dir / "test_codes.tsv")
    wall = {name: statistics.median(t[0] for t in runs) for name, runs in times.items()}
    report_published(results, wall, gml_scores, None, times)
    (WORK / "seq-compare-published.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
