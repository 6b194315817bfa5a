"""FASTA through the programs: train-eval learns the encoding with the model, predict applies it from the archive."""

import numpy as np
import pandas as pd
import pytest

from galaxy_dl.cli import build_arch, build_model, plot_cm, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import invoke
from tests.test_sequences import write_fasta

LENGTH = 40
MOTIF = "TATAAT"


@pytest.fixture(scope="module")
def motifs(tmp_path_factory):
    """200 random DNA sequences; label 'yes' when a TATAAT motif was planted, and 20 new ones to predict."""
    rng = np.random.default_rng(7)
    d = tmp_path_factory.mktemp("motifs")

    def make(n, prefix):
        records, labels = [], []
        for i in range(n):
            seq = list(rng.choice(list("ACGT"), LENGTH))
            planted = i % 2 == 1
            if planted:
                start = int(rng.integers(0, LENGTH - len(MOTIF)))
                seq[start : start + len(MOTIF)] = MOTIF
            records.append((f"{prefix}{i}", "".join(seq)))
            labels.append("yes" if planted else "no")
        return records, labels

    train, labels = make(200, "tr")
    new, new_labels = make(20, "new")
    pd.DataFrame({"label": labels}).to_csv(d / "labels.tsv", sep="\t", index=False)
    order = rng.permutation(len(train))
    pd.DataFrame({"id": [train[i][0] for i in order], "label": [labels[i] for i in order]}).to_csv(
        d / "labels_by_id.tsv", sep="\t", index=False
    )
    return {
        "dir": d,
        "fasta": write_fasta(d / "train.fa", train),
        "new": write_fasta(d / "new.fa.gz", new, compress=True),
        "new_labels": new_labels,
        "labels": str(d / "labels.tsv"),
        "labels_by_id": str(d / "labels_by_id.tsv"),
    }


def model(d, name, shape, *layers, epochs=20):
    arch, archive = d / f"{name}.json", d / f"{name}.zip"
    args = ["--input-shape", shape, *(x for layer in layers for x in ("--layer", layer)), "-o", arch]
    assert invoke(build_arch.main, args).exit_code == 0
    result = invoke(build_model.main, ["--arch", arch, "--task", "classification", "--optimizer", "adam",
                                       "--learning-rate", "0.01", "--epochs", epochs, "--batch-size", 16,
                                       "--seed", 0, "--verbose", 0, "-o", archive])
    assert result.exit_code == 0, result.stderr
    return str(archive)


@pytest.fixture(scope="module")
def conv(motifs):
    return model(motifs["dir"], "conv", f"{LENGTH},4", 'Conv1D(8, 6, activation="relu")', "GlobalMaxPooling1D()",
                 'Dense(1, activation="sigmoid")')


def test_one_hot_conv1d_learns_a_motif_and_predict_names_each_record(motifs, conv, tmp_path):
    fitted, scores = tmp_path / "fitted.zip", tmp_path / "scores.tsv"
    result = invoke(train_eval.main, ["--model", conv, "--x", motifs["fasta"], "--y", motifs["labels"],
                                      "--scores", scores, "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    assert "200 sequences, 40-40 residues (mean 40.0); one-hot dna, 40 x 4 per sequence" in result.stderr
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", fitted, "--x", motifs["new"], "-o", out])  # gzip, no option repeated
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(out, sep="\t")
    assert list(predicted.columns) == ["id", "Predicted"] and predicted["id"].tolist() == [f"new{i}" for i in range(20)]
    assert (predicted["Predicted"] == motifs["new_labels"]).mean() >= 0.8  # a planted motif is easy to see
    truth = tmp_path / "truth.tsv"
    pd.DataFrame({"label": motifs["new_labels"]}).to_csv(truth, sep="\t", index=False)
    result = invoke(plot_cm.main, ["--y-true", truth, "--y-pred", out, "-o", tmp_path / "cm.png"])  # the id column skipped
    assert result.exit_code == 0, result.stderr
    assert f"accuracy {(predicted['Predicted'] == motifs['new_labels']).mean():.4f}" in result.stderr
    params = tmp_path / "params.tsv"
    assert invoke(build_model.main, ["--from", fitted, "--params-out", params, "-o", tmp_path / "copy.zip"]).exit_code == 0
    shown = dict(pd.read_csv(params, sep="\t").to_numpy())
    assert shown["sequence: encoding"] == "onehot" and shown["sequence: alphabet"] == "dna"
    assert str(shown["sequence: length"]) == "40"


def test_labels_matched_by_id_train_exactly_as_labels_in_record_order(motifs, conv, tmp_path):
    runs = {}
    for name in ("labels", "labels_by_id"):
        scores = tmp_path / f"{name}.tsv"
        result = invoke(train_eval.main, ["--model", conv, "--x", motifs["fasta"], "--y", motifs[name],
                                          "--scores", scores, "--seed", 3])
        assert result.exit_code == 0, result.stderr
        runs[name] = scores.read_text()
    assert runs["labels"] == runs["labels_by_id"]


def test_streamed_sequences_train_as_in_memory_ones(motifs, conv, tmp_path):
    runs = {}
    for flag in ("--stream", "--no-stream"):
        scores = tmp_path / f"{flag}.tsv"
        result = invoke(train_eval.main, ["--model", conv, "--x", motifs["fasta"], "--y", motifs["labels"],
                                          "--scores", scores, flag, "--cache-dir", tmp_path])
        assert result.exit_code == 0, result.stderr
        runs[flag] = pd.read_csv(scores, sep="\t")
    pd.testing.assert_frame_equal(runs["--stream"], runs["--no-stream"])


def test_kmer_tokens_for_an_embedding_sized_by_the_vocabulary(motifs, tmp_path):
    small = model(motifs["dir"], "small", str(LENGTH - 2), "Embedding(20, 4)", "GlobalAveragePooling1D()",
                  'Dense(1, activation="sigmoid")', epochs=1)
    scores, fitted, report = tmp_path / "s.tsv", tmp_path / "f.zip", tmp_path / "r.html"
    args = ["--model", small, "--x", motifs["fasta"], "--y", motifs["labels"], "--encoding", "kmer:3",
            "--scores", scores, "--fitted-model", fitted, "--report", report]
    result = invoke(train_eval.main, args)
    assert result.exit_code == ExitStatus.USAGE
    assert "Embedding 'embedding' has input_dim 20, but the 3-mer tokens need 66" in result.stderr
    assert "an Embedding needs input_dim >= 66" in result.stderr
    assert not scores.exists() and not fitted.exists()
    sized = model(motifs["dir"], "sized", str(LENGTH - 2), "Embedding(66, 4)", "GlobalAveragePooling1D()",
                  'Dense(1, activation="sigmoid")', epochs=1)
    result = invoke(train_eval.main, [*args[:1], sized, *args[2:]])
    assert result.exit_code == 0, result.stderr
    assert "3-mer tokens (dna), 38 per sequence, 64 k-mers seen in training" in report.read_text()
    out = tmp_path / "p.tsv"
    assert invoke(predict.main, ["--model", fitted, "--x", motifs["new"], "-o", out]).exit_code == 0
    assert len(pd.read_csv(out, sep="\t")) == 20


def test_model_and_input_must_agree(motifs, conv, binary_data, binary_fitted, tmp_path):
    wrong = model(motifs["dir"], "wrong", "50,4", 'Conv1D(4, 3)', "GlobalMaxPooling1D()", 'Dense(1, activation="sigmoid")')
    result = invoke(train_eval.main, ["--model", wrong, "--x", motifs["fasta"], "--y", motifs["labels"],
                                      "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.USAGE
    assert "the model's input is (50, 4), but the sequences encode as (40, 4)" in result.stderr
    result = invoke(train_eval.main, ["--model", conv, "--x", binary_data["x"], "--y", binary_data["y"],
                                      "--encoding", "kmer:3", "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.DATA and "is not FASTA: --encoding" in result.stderr
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--x", motifs["fasta"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.DATA and "is FASTA, but the model was trained on tables" in result.stderr


def test_predict_refuses_sequences_of_another_length_and_a_table(motifs, conv, binary_data, tmp_path):
    fitted = tmp_path / "f.zip"
    assert invoke(train_eval.main, ["--model", conv, "--x", motifs["fasta"], "--y", motifs["labels"],
                                    "--scores", tmp_path / "s.tsv", "--fitted-model", fitted]).exit_code == 0
    short = write_fasta(tmp_path / "short.fa", [("a", "ACGT" * 10), ("b", "ACGT" * 9)])
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", fitted, "--x", short, "-o", out])
    assert result.exit_code == ExitStatus.DATA and "record 'b' is 36 long" in result.stderr and not out.exists()
    result = invoke(predict.main, ["--model", fitted, "--x", binary_data["x"], "-o", out])
    assert result.exit_code == ExitStatus.DATA
    assert "is not FASTA, but the model was trained on FASTA sequences (one-hot dna" in result.stderr


def test_labels_that_do_not_match_the_records_are_named(motifs, conv, tmp_path):
    bad = tmp_path / "bad.tsv"
    pd.DataFrame({"id": ["tr0", "tr1", "nope"], "label": ["a", "b", "c"]}).to_csv(bad, sep="\t", index=False)
    result = invoke(train_eval.main, ["--model", conv, "--x", motifs["fasta"], "--y", bad, "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.DATA
    assert f"--y {bad}: labels matched by the ids in column 'id': 198 records have no label" in result.stderr
    assert "1 ids are not records of the FASTA file ('nope')" in result.stderr


def test_genomic_intervals_with_a_bed_label_column_both_strands_and_predict(tmp_path):
    from tests.conftest import TEST_DATA

    genome, regions = TEST_DATA / "genome.fa", TEST_DATA / "regions_train.bed"
    archive = model(tmp_path, "bed", "300,4", 'Conv1D(8, 12, activation="relu")', "GlobalMaxPooling1D()",
                    'Dense(1, activation="sigmoid")', epochs=2)
    fitted = tmp_path / "f.zip"
    result = invoke(train_eval.main, ["--model", archive, "--x", regions, "--genome", genome, "--window", 300,
                                      "--target", "name", "--revcomp", "--scores", tmp_path / "s.tsv",
                                      "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    assert ("539 intervals as 300 bp windows of the genome; one-hot dna, 300 x 4 per sequence; and their reverse "
            "complements in training") in result.stderr
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", fitted, "--x", TEST_DATA / "regions_test.bed", "--genome", genome, "-o", out])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(out, sep="\t")
    assert predicted["id"].iloc[0] == "chr2:24000-24200" and len(predicted) == 59
    assert set(predicted["Predicted"]) <= {"repeat", "unique"}
    result = invoke(predict.main, ["--model", fitted, "--x", TEST_DATA / "regions_test.bed", "-o", out])
    assert result.exit_code == ExitStatus.DATA and "for BED intervals give --genome" in result.stderr


def test_genomic_intervals_with_several_targets_deepsea_style(tmp_path):
    from tests.conftest import TEST_DATA

    archive = model(tmp_path, "multi", "200,4", 'Conv1D(8, 12, activation="relu")', "GlobalMaxPooling1D()",
                    'Dense(3, activation="sigmoid")', epochs=1)
    fitted, out = tmp_path / "f.zip", tmp_path / "p.tsv"
    result = invoke(train_eval.main, ["--model", archive, "--x", TEST_DATA / "regions_train.bed", "--genome",
                                      TEST_DATA / "genome.fa", "--window", 200, "--y", TEST_DATA / "regions_train_targets.tsv",
                                      "--scores", tmp_path / "s.tsv", "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    result = invoke(predict.main, ["--model", fitted, "--x", TEST_DATA / "regions_test.bed", "--genome",
                                   TEST_DATA / "genome.fa", "--method", "predict_proba", "-o", out])
    assert result.exit_code == 0, result.stderr
    assert list(pd.read_csv(out, sep="\t").columns) == ["id", "repeat", "gc_rich", "cpg"]


def test_an_unknown_chromosome_is_named(tmp_path):
    from tests.conftest import TEST_DATA

    regions = tmp_path / "r.bed"
    regions.write_text("chr1\t0\t200\nchr7\t0\t200\n")
    labels = tmp_path / "l.tsv"
    labels.write_text("label\na\nb\n")
    archive = model(tmp_path, "m", "1000,4", "GlobalMaxPooling1D()", 'Dense(1, activation="sigmoid")', epochs=1)
    scores = tmp_path / "s.tsv"
    result = invoke(train_eval.main, ["--model", archive, "--x", regions, "--genome", TEST_DATA / "genome.fa",
                                      "--y", labels, "--scores", scores])
    assert result.exit_code == ExitStatus.DATA and not scores.exists()
    assert f"--x {regions}: line 2: chromosome 'chr7' is not in --genome" in result.stderr
