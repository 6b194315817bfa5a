"""The README's examples run as written (shell blocks in order, then the library snippet).

A command of one of the five programs runs in this process (click's runner, the same argument list a shell would
pass): a TensorFlow start-up per command would cost the suite minutes. Lines that need a shell (pipes, redirects,
``python -c``) run in bash. The programs' start-up in real processes is tested in test_pipeline.py.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROGRAMS = {"build-arch": "build_arch", "build-model": "build_model", "train-eval": "train_eval", "predict": "predict",
            "plot-cm": "plot_cm", "plot-reg": "plot_reg"}


def blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```([a-z]*)\n(.*?)```", text, re.S)


def commands(body: str) -> list[str]:
    """A block's commands: continuation lines joined, comment lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def run(command: str, cwd: Path, env: dict) -> tuple[int, str]:
    words = shlex.split(command, comments=True)
    if words[0] in PROGRAMS and not any(w in ("|", "<", ">", ";", "&&") for w in words):
        import importlib

        from tests.conftest import invoke

        main = importlib.import_module(f"galaxy_dl.cli.{PROGRAMS[words[0]]}").main
        here = os.getcwd()
        os.chdir(cwd)
        try:
            result = invoke(main, words[1:])
        finally:
            os.chdir(here)
        return result.exit_code, result.stderr
    result = subprocess.run(["bash", "-c", "set -e -o pipefail\n" + command.replace("python -c", f"{sys.executable} -c")],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stderr


def test_readme_examples_run(tmp_path):
    for name in ("X_train.tsv", "y_train.tsv", "X_test.tsv", "y_test.tsv", "cells.h5ad", "cells_test.h5ad"):
        shutil.copy(ROOT / "test-data" / name, tmp_path / name)
    (tmp_path / "test-data").mkdir()
    sequences = ["dna_*.*", "regions_*", "genome.fa"]
    for path in [*(ROOT / "test-data").glob("[frc]nn_*.tsv"), *(p for g in sequences for p in (ROOT / "test-data").glob(g))]:
        shutil.copy(path, tmp_path / "test-data" / path.name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    shell = [body for lang, body in blocks() if lang == "" and not body.lstrip().startswith(("make ", "# build-arch --spec"))]
    python = [body for lang, body in blocks() if lang == "python"]
    assert len(shell) >= 6 and len(python) == 1
    for command in (c for body in shell for c in commands(body)):
        status, stderr = run(command, tmp_path, env)
        assert status == 0, f"{command}\n{stderr[-3000:]}"
    for name in ("cm.png", "iris_cm.svg", "iris_proba.tsv", "dia_pred.tsv", "cm.svg", "dense_model.zip", "cells_pred.tsv",
                 "search.tsv", "best_params.tsv", "iris_search.tsv", "fnn_metrics.tsv", "rnn_metrics.tsv", "cnn_metrics.tsv",
                 "dna_metrics.tsv", "dna_lstm_fitted.zip", "tiles_proba.tsv"):
        assert (tmp_path / name).stat().st_size > 0, name
    result = subprocess.run([sys.executable, "-c", python[0]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_readme_job_configuration_is_the_one_galaxy_slurm_test_runs():
    """README "For Galaxy admins" shows galaxy/job_conf.slurm.yml as it is: what make galaxy-slurm-test ran."""
    shown = [body for kind, body in blocks() if kind == "yaml" and "job_plugin: Slurm" in body]
    assert shown == [(ROOT / "galaxy" / "job_conf.slurm.yml").read_text()]
