"""The README's examples run as written (shell blocks in order, then the library snippet)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```([a-z]*)\n(.*?)```", text, re.S)


def test_readme_examples_run(tmp_path):
    for name in ("X_train.tsv", "y_train.tsv", "X_test.tsv", "y_test.tsv", "cells.h5ad", "cells_test.h5ad"):
        shutil.copy(ROOT / "test-data" / name, tmp_path / name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    shell = [body for lang, body in blocks() if lang == "" and not body.lstrip().startswith(("make ", "# build-arch --spec"))]
    python = [body for lang, body in blocks() if lang == "python"]
    assert len(shell) >= 6 and len(python) == 1
    script = "set -e\n" + "\n".join(shell).replace("python -c", f"{sys.executable} -c")
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("cm.png", "iris_cm.svg", "iris_proba.tsv", "dia_pred.tsv", "cm.svg", "dense_model.zip", "cells_pred.tsv"):
        assert (tmp_path / name).stat().st_size > 0, name
    result = subprocess.run([sys.executable, "-c", python[0]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
