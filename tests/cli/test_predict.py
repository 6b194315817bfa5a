import h5py
import numpy as np
import pandas as pd

from galaxy_dl.cli import predict
from galaxy_dl.errors import ExitStatus
from tests.conftest import invoke, write_tsv


def test_predictions_one_row_per_input(binary_data, binary_fitted, tmp_path):
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--weights", binary_fitted["weights"], "--x", binary_data["x"], "-o", out])
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(out, sep="\t")
    assert list(frame.columns) == ["Predicted"] and len(frame) == 80 and set(frame["Predicted"]) <= {0, 1}


def test_weights_are_optional_and_file_wins(binary_data, binary_fitted, tmp_path):
    args = ["--model", binary_fitted["fitted"], "--x", binary_data["x"], "--method", "predict_proba"]
    assert invoke(predict.main, [*args, "-o", tmp_path / "a.tsv"]).exit_code == 0
    zeroed = tmp_path / "zero.h5"
    zeroed.write_bytes(open(binary_fitted["weights"], "rb").read())
    with h5py.File(zeroed, "r+") as f:
        def zero(name, node):
            if isinstance(node, h5py.Dataset) and name.startswith("layers"):
                node[...] = 0
        f.visititems(zero)
    assert invoke(predict.main, [*args, "--weights", zeroed, "-o", tmp_path / "b.tsv"]).exit_code == 0
    a, b = pd.read_csv(tmp_path / "a.tsv", sep="\t"), pd.read_csv(tmp_path / "b.tsv", sep="\t")
    assert list(a.columns) == ["0", "1"] and np.allclose(a.sum(axis=1), 1)
    assert np.allclose(b.to_numpy(), 0.5)  # all-zero weights: sigmoid(0)
    assert not np.allclose(a.to_numpy(), 0.5)


def test_stdin_to_stdout_in_a_pipe(binary_data, binary_fitted):
    text = open(binary_data["x"]).read()
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--x", "-", "-o", "-"], input=text)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Predicted" and len(result.stdout.splitlines()) == 81


def test_chunks_keep_order(binary_data, binary_fitted, tmp_path):
    whole, chunked = tmp_path / "w.tsv", tmp_path / "c.tsv"
    base = ["--model", binary_fitted["fitted"], "--x", binary_data["x"]]
    assert invoke(predict.main, [*base, "-o", whole]).exit_code == 0
    assert invoke(predict.main, [*base, "--chunk-rows", "7", "-o", chunked]).exit_code == 0
    assert whole.read_text() == chunked.read_text()


def test_column_mismatch_lists_differences(binary_data, binary_fitted, tmp_path):
    frame = pd.read_csv(binary_data["x"], sep="\t").rename(columns={"f1": "gene1", "f4": "gene4"})
    x = write_tsv(tmp_path / "renamed.tsv", frame)
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--x", x, "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.DATA
    assert "column 2: 'gene1' where training had 'f1'; column 5: 'gene4' where training had 'f4'" in result.stderr
    x = write_tsv(tmp_path / "narrow.tsv", frame.iloc[:, :5])
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--x", x, "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.DATA and "has 5 feature columns, but the model was trained on 6" in result.stderr
    assert not (tmp_path / "p.tsv").exists()


def test_unfitted_model_and_foreign_weights(binary_data, binary_model, binary_fitted, tmp_path):
    result = invoke(predict.main, ["--model", binary_model, "--x", binary_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.MODEL and "has not been trained yet" in result.stderr
    not_h5 = tmp_path / "w.h5"
    not_h5.write_text("hello")
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--weights", not_h5, "--x", binary_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.MODEL and "not an HDF5 weights file" in result.stderr
    truncated = tmp_path / "t.h5"
    truncated.write_bytes(open(binary_fitted["weights"], "rb").read()[:4000])
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--weights", truncated, "--x", binary_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.MODEL and str(truncated) in result.stderr


def test_weights_from_another_architecture_name_the_layer(binary_data, binary_fitted, tmp_path):
    from galaxy_dl.cli import train_eval
    from tests.conftest import build_model_zip

    other = build_model_zip(tmp_path, "6", ['Dense(3, activation="relu")', 'Dense(1, activation="sigmoid")'], "--epochs", "1", "--seed", "0")
    assert invoke(train_eval.main, ["--model", other, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", tmp_path / "s.tsv",
                                    "--weights", tmp_path / "other.h5"]).exit_code == 0
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--weights", tmp_path / "other.h5", "--x", binary_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.MODEL
    assert "weights do not match the model: dense/kernel has shape (6, 8) in the model but (6, 3) in the file" in result.stderr


def test_keras2_weights_file_loads(binary_data, binary_fitted, tmp_path):
    """A Keras 2 style HDF5 file (layer_names / weight_names attributes) is read by Keras' legacy loader."""
    from galaxy_dl import runtime
    from galaxy_dl.model import archive

    runtime.import_keras()
    est = archive.load(binary_fitted["fitted"])
    legacy = tmp_path / "keras2.h5"
    with h5py.File(legacy, "w") as f:
        layers = [layer for layer in est.model_.layers if layer.weights]
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.3.1"
        for layer in layers:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            g.attrs["weight_names"] = np.array(names)
            for name, w in zip(names, layer.get_weights(), strict=True):
                g.create_dataset(name.decode(), data=np.full_like(w, 0.0))
    result = invoke(predict.main, ["--model", binary_fitted["fitted"], "--weights", legacy, "--x", binary_data["x"],
                                   "--method", "predict_proba", "-o", tmp_path / "p.tsv"])
    assert result.exit_code == 0, result.stderr
    assert np.allclose(pd.read_csv(tmp_path / "p.tsv", sep="\t").to_numpy(), 0.5)
