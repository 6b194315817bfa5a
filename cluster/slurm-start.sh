#!/usr/bin/env bash
# Start a one-node Slurm cluster (munged, slurmctld, slurmd) with its state, logs and pid files under DIR; print
# the export line. Run as root (Debian's slurm-wlm and munge). No systemd: the daemons are started directly, with
# proctrack/linuxproc and task/none (no cgroups), accounting off, the node reached on 127.0.0.1.
set -euo pipefail
DIR=$(mkdir -p "${1:?usage: slurm-start.sh DIR}" && cd "$1" && pwd)
mkdir -p "$DIR"/{state,spool,log}
H=$(hostname -s)
cat > "$DIR/slurm.conf" <<CONF
ClusterName=galaxydl
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
KillWait=5
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chmod 400 /etc/munge/munge.key
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
if ! pgrep -x munged >/dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
    touch "$DIR/munged.ours"
fi
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -c
slurmd
for _ in $(seq 60); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %t | grep -q idle || { echo "slurm did not come up in 60 s: see $DIR/log" >&2; exit 1; }
echo "export SLURM_CONF=$DIR/slurm.conf"
