#!/usr/bin/env bash
# Stop what slurm-start.sh started under DIR: its jobs, slurmd, slurmctld and (if it started it) munged.
DIR=${1:?usage: slurm-stop.sh DIR}
[ -f "$DIR/slurm.conf" ] && SLURM_CONF="$DIR/slurm.conf" timeout 10 scancel --full --user=root 2>/dev/null
for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
for _ in $(seq 20); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break
    sleep 0.5
done
pkill -KILL -x slurmstepd 2>/dev/null
[ -f "$DIR/munged.ours" ] && pkill -x munged
exit 0
