#!/usr/bin/env bash
# A single-node Slurm on this machine, so that the sbatch examples of scripts/slurm/ run here (docs/cluster.md):
#   scripts/slurm/local_cluster.sh          as root: installs Debian's slurmctld, slurmd, slurm-client and munge where
#                                           missing, writes /etc/slurm/slurm.conf (one node: this host, all its cores,
#                                           partition "local"), starts munged, slurmctld and slurmd (no systemd needed)
#                                           and waits until the node is idle
#   scripts/slurm/local_cluster.sh --stop   stops the three daemons
# The controller and the node daemon both run on localhost; jobs run as the user who submits them. Process tracking
# by /proc and no task plugin: no cgroups needed (containers, VMs). Not for a real cluster, which has its own.
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "local_cluster.sh: must run as root (it installs packages and starts daemons)" >&2; exit 1; }

stop() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
}
if [[ ${1:-} == --stop ]]; then
  stop
  echo "local_cluster.sh: stopped"
  exit 0
fi

packages=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "local_cluster.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

host=$(hostname -s)
# This machine as slurmd sees it (CPUs, sockets, cores, memory), minus the uptime line.
node=$(slurmd -C | grep '^NodeName=')
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
chown slurm:slurm /var/spool/slurmctld /var/log/slurm
chown munge:munge /run/munge
cat > /etc/slurm/slurm.conf <<CONF
# Written by scripts/slurm/local_cluster.sh: one node, this host.
ClusterName=must-local
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# Requeued jobs start again at once (scripts/slurm/*.sbatch are requeue-safe).
JobRequeue=1
$node State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

stop
sleep 1
runuser -u munge -- /usr/sbin/munged
slurmctld
slurmd
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
  if [[ $state == idle ]]; then
    echo "local_cluster.sh: Slurm up: node $host idle in partition local ($(sinfo -h -o '%c' | head -1) CPUs)"
    exit 0
  fi
  sleep 1
done
echo "local_cluster.sh: the node did not come up (state '${state:-none}'); see /var/log/slurm/" >&2
exit 1
