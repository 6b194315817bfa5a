#!/usr/bin/env bash
# with-slurm.sh COMMAND...: run COMMAND beside a real one-node Slurm on this machine, with SLURM_CONF exported.
# Root: installs Debian's slurm-wlm and munge when missing, starts the daemons (slurm-start.sh) with their state in a
# temporary folder, and stops everything it started (slurm-stop.sh) at the end, whatever happens.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "with-slurm.sh: needs root (it installs and starts slurmctld, slurmd and munged)" >&2
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
"$@"
