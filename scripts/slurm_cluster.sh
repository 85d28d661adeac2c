#!/usr/bin/env bash
# A personal single-node SLURM cluster on 127.0.0.1, for trying reprdyn's cluster path (and for its
# tests). Needs root and Debian's slurm-wlm and munge packages; no systemd, no cgroups.
#
#   sudo apt-get install -y slurm-wlm munge
#   scripts/slurm_cluster.sh start DIR     # writes DIR/slurm.conf, starts munged, slurmctld, slurmd
#   export SLURM_CONF=DIR/slurm.conf        # every slurm command (and dask-jobqueue) reads it
#   sinfo; sbatch --wrap 'hostname'
#   scripts/slurm_cluster.sh stop DIR      # stops the daemons
#
# Everything listens on loopback only: the node's address is 127.0.0.1 and
# CommunicationParameters=NoInAddrAny,NoCtldInAddrAny binds slurmd and slurmctld to it, not to every
# interface.
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm_cluster.sh start|stop DIR}" && cd "$2" && pwd)
host=$(hostname -s)

start() {
    mkdir -p "$dir/state" "$dir/spool" /run/munge
    chown munge:munge /run/munge 2>/dev/null || true
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    pgrep -x munged >/dev/null || runuser -u munge -- munged
    local cpus mem
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
    cat > "$dir/slurm.conf" <<CONF
ClusterName=reprdyn
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -c      # -c: a clean start, no state from an earlier cluster
    slurmd
    for _ in $(seq 60); do  # until the node is up
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "SLURM up: export SLURM_CONF=$dir/slurm.conf"
            return 0
        fi
        sleep 0.5
    done
    echo "SLURM did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
    return 1
}

stop() {
    # only this cluster's jobs: never a bare scancel, which would reach the system's own cluster
    # (and every job of the user there) when this folder holds no running cluster of ours
    export SLURM_CONF="$dir/slurm.conf"
    if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null \
        && scontrol show config 2>/dev/null | grep -qE "^SLURM_CONF +=.*$dir/slurm.conf"; then
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            echo "$jobs" | xargs scancel 2>/dev/null || true
            echo "cancelled this cluster's job(s): $(echo $jobs)"
        fi
    fi
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
        if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    done
    echo "SLURM stopped"
}

"$cmd"
