#!/usr/bin/env bash
# Stop what slurm-start.sh started under DIR: its jobs, slurmd, slurmctld and (if it started it) munged.
DIR=${1:?usage: slurm-stop.sh DIR}
[ -f "$DIR/slurm.conf" ] && SLURM_CONF="$DIR/slurm.conf" timeout 10 scancel --full --user=root 2>/dev/null
# ours: the daemons started with this SLURM_CONF (a pid file may be missing when a daemon failed to start)
pids=$(for p in $(pgrep -x 'slurmd|slurmctld'); do
    { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$DIR/slurm.conf" && echo "$p"
done)
[ -n "$pids" ] && kill $pids 2>/dev/null
for _ in $(seq 20); do
    alive=$(for p in $pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done)
    [ -z "$alive" ] && break
    sleep 0.5
done
[ -n "${alive:-}" ] && kill -KILL $alive 2>/dev/null  # a daemon that did not stop in 10 s would hold its port
pkill -KILL -x slurmstepd 2>/dev/null
if [ -f "$DIR/munged.ours" ]; then
    pkill -x munged
    for _ in $(seq 20); do pgrep -x munged >/dev/null || break; sleep 0.5; done  # the next start must not see it
fi
exit 0
