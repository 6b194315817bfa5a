#!/usr/bin/env bash
# `make slurm-test`: a real one-node Slurm on this machine (installed from Debian if missing, started, stopped at
# the end whatever happens), and tests/cluster run against it: srun training equal to one process, the README's
# sbatch script as written, scancel mid-training, a task that fails. Needs root (it starts daemons).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "slurm-test: needs root (it installs and starts slurmctld, slurmd and munged)" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
DIR=$(mktemp -d /tmp/galaxy-dl-slurm.XXXXXX)
chmod 755 "$DIR"
trap 'bash "$HERE/slurm-stop.sh" "$DIR"; rm -rf "$DIR"' EXIT
timeout 120 bash "$HERE/slurm-start.sh" "$DIR" >/dev/null
export SLURM_CONF=$DIR/slurm.conf
cd "$PROJECT"
.venv/bin/python -m pytest -p no:cacheprovider -n 0 -m slurm tests/cluster "$@"
