#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests (tests/slurm) and for trying the launcher profiles:
#
#   bash slurm/local-cluster.sh start    # install (Debian packages) and start munge, mariadb, slurmdbd,
#                                        # slurmctld and slurmd, without systemd; wait until the node is idle
#   bash slurm/local-cluster.sh stop     # cancel jobs, stop the daemons it started
#
# Needs root. Idempotent: what runs with an unchanged config is left alone. Accounting (slurmdbd) is on
# because submitit and `python -m rlvr.sweeps` read job states from sacct. State: $RLVR_SLURM_STATE
# (default /tmp/rlvr-slurm): PID files and daemon logs.
set -euo pipefail

STATE="${RLVR_SLURM_STATE:-/tmp/rlvr-slurm}"
PIDS="$STATE/pids" LOGS="$STATE/logs"
NODE="$(hostname -s)"
log() { echo "[local-cluster] $*"; }
die() { echo "[local-cluster] ERROR: $*" >&2; exit 1; }

running() {  # running NAME: its recorded PID is alive
  [ -s "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null
}
start_daemon() {  # start_daemon NAME COMMAND...: in its own session, PID recorded
  local name=$1; shift
  setsid "$@" > "$LOGS/$name.out" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}
stop_daemon() {  # stop_daemon NAME: TERM, then KILL after 15 s
  running "$1" || { rm -f "$PIDS/$1.pid"; return 0; }
  local pid; pid=$(cat "$PIDS/$1.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDS/$1.pid"
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 4))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.25; done
  die "$what did not come up in ${seconds}s (logs: $LOGS)"
}
write_if_changed() {  # write_if_changed PATH MODE CONTENT: returns 0 when the file changed
  [ -f "$1" ] && [ "$(cat "$1")" = "$3" ] && return 1
  printf '%s\n' "$3" > "$1.tmp" && chmod "$2" "$1.tmp" && mv "$1.tmp" "$1"
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (it installs packages and runs the SLURM daemons)"
  mkdir -p "$PIDS" "$LOGS"
  local packages=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server) missing=()
  for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d  # no daemon starts itself
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$LOGS/apt.log" 2>&1 \
      || { rm -f /usr/sbin/policy-rc.d; tail -20 "$LOGS/apt.log"; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
  fi

  # munge: the daemons authenticate to each other with it
  [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; mungekey --create --keyfile=/etc/munge/munge.key; }
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
  running munged || start_daemon munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
  wait_for 20 munged sh -c 'munge -n | unmunge'

  # accounting: mariadb + slurmdbd (sacct)
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql > "$LOGS/mariadb-install.log" 2>&1
  running mariadbd || start_daemon mariadbd /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1
  wait_for 60 mariadb mariadb-admin ping
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'localhost';
              ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'rlvr'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
              FLUSH PRIVILEGES;"
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  local dbd="AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=rlvr
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid"
  if write_if_changed /etc/slurm/slurmdbd.conf 0600 "$dbd" || ! running slurmdbd; then
    stop_daemon slurmdbd; start_daemon slurmdbd /usr/sbin/slurmdbd -D
  fi
  # its port, not sacctmgr: sacctmgr reads slurm.conf, which a first start has not written yet
  wait_for 60 slurmdbd bash -c '</dev/tcp/127.0.0.1/6819'

  # the cluster: this machine is the controller and the one node
  local conf="# written by slurm/local-cluster.sh: a one-node cluster for tests
ClusterName=rlvrci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job may start again cred_expire + 1 s after it stopped (default 120)
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MailProg=/bin/true
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$(slurmd -C | head -n 1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  local changed=0
  write_if_changed /etc/slurm/slurm.conf 0644 "$conf" && changed=1
  if [ -f /var/spool/slurmctld/clustername ] && [ "$(cat /var/spool/slurmctld/clustername)" != rlvrci ]; then
    rm -rf /var/spool/slurmctld/* && changed=1  # another cluster's state: a test cluster need not keep it
  fi
  if [ $changed = 1 ] || ! running slurmctld; then stop_daemon slurmctld; start_daemon slurmctld /usr/sbin/slurmctld -D; fi
  wait_for 60 slurmctld scontrol ping
  if [ $changed = 1 ] || ! running slurmd; then stop_daemon slurmd; start_daemon slurmd /usr/sbin/slurmd -D; fi
  wait_for 60 "node $NODE" sh -c "sinfo -h -N -n $NODE -o %T | grep -Eq 'idle|mixed|allocated|completing'"
  log "up: partition debug, node $NODE ($(sinfo -h -N -n "$NODE" -o '%c cpus'))"
}

stop() {
  if running slurmctld; then
    scancel --full "$(squeue -h -o %A | tr '\n' ' ')" 2>/dev/null || true
  fi
  for name in slurmd slurmctld slurmdbd mariadbd munged; do stop_daemon "$name"; done
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
