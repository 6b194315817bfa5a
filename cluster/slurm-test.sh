#!/usr/bin/env bash
# `make slurm-test`: a real one-node Slurm on this machine (with-slurm.sh: installed from Debian if missing, started,
# stopped at the end whatever happens), and tests/cluster run against it: srun training equal to one process, the
# README's sbatch script as written, a batch script without srun, scancel mid-training, a task that fails. Root.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.."
exec bash "$HERE/with-slurm.sh" .venv/bin/python -m pytest -p no:cacheprovider -n 0 -m slurm tests/cluster "$@"
