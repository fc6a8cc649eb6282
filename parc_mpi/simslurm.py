"""Slurm on the simulated cluster: ``SimCluster(..., slurm=True)``.

Debian's ``slurmctld`` runs on the main node, a ``slurmd`` on every node (each in its
node's network namespace, under its node's host name, so each takes its own name from
``slurm.conf`` as on a real machine), and one ``munged`` with one key authenticates
them all. ``slurm.conf`` names the box's nodes, their addresses and cores, and one
partition ``box`` holding them all. Commands run with ``cluster.command`` see it
through ``SLURM_CONF``; ``sbatch``, ``srun``, ``salloc``, ``squeue``, ``scancel`` and
``scontrol`` work as at a site.

What differs from a real site: one ``munged`` serves every node (the nodes share this
machine's filesystem, so its socket is one path; a site runs one per node with the same
key); everything runs as root (``SlurmUser=root``); no accounting database, so no
``sacct``; processes are tracked by ``proctrack/linuxproc`` rather than cgroups, and no
cores are pinned (``task/none``); the nodes share this machine's cores, so each offers
what the node list says (``SlurmdParameters=config_overrides``). Needs Debian's
``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge``.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from typing import Any, List, Optional


class SlurmError(RuntimeError):
    """Slurm's daemons could not be started (SimCluster turns it into its own error)."""


KILL_WAIT = 30   # seconds between a time limit's SIGTERM and its SIGKILL (Slurm's default)
TOOLS = ("slurmctld", "slurmd", "munged", "sbatch", "srun", "sinfo")

CONF = """# parc_mpi.simcluster: the simulated box's Slurm
ClusterName=parcsim
SlurmctldHost={main}({main_addr})
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool-%n
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd-%n.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd-%n.log
TmpFS={dir}/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
SlurmdTimeout={slurmd_timeout}
MpiDefault=none
KillWait={kill_wait}
MinJobAge=600
{nodes}
PartitionName=box Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def available() -> Optional[str]:
    """None when Slurm's daemons and commands are installed here, else what is missing."""
    for tool in TOOLS:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"'{tool}' is not installed (slurmctld, slurmd, slurm-client, munge)"
    return None


def _cgroup_setup() -> tuple:
    """(cgroup.conf's plugin, the shell that mounts its tree in a node's mount
    namespace). slurmd loads its cgroup plugin at start even when nothing is tracked
    by cgroups, and ``ip netns exec`` gives a node a /sys without /sys/fs/cgroup."""
    if os.path.isdir("/sys/fs/cgroup/freezer"):   # a machine with v1 controllers
        mount = ("{ mountpoint -q /sys/fs/cgroup || mount -t tmpfs none /sys/fs/cgroup; } && "
                 "mkdir -p /sys/fs/cgroup/freezer && "
                 "mount -t cgroup -o freezer none /sys/fs/cgroup/freezer")
        return "cgroup/v1", mount
    # a cgroup v2 machine (not seen here: this one has v1 controllers)
    return "cgroup/v2", ("{ mountpoint -q /sys/fs/cgroup && umount -l /sys/fs/cgroup; true; } && "
                         "mount -t cgroup2 none /sys/fs/cgroup")


class SimSlurm:
    """The daemons of one simulated cluster; ``start()`` once the namespaces are up."""

    def __init__(self, cluster: Any, slurmd_timeout: int = 20):
        # cluster: the SimCluster it serves (not imported: simcluster imports this
        # module, and the dependency goes one way)
        self.cluster = cluster
        self.dir = os.path.join(cluster.workdir, "slurm")
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.munge_dir = os.path.join(cluster.workdir, "munge")
        self.socket = os.path.join(self.munge_dir, "munge.socket")
        self.slurmd_timeout = slurmd_timeout
        self.procs: List[subprocess.Popen] = []
        self.slurmd = {}   # node -> its slurmd's launcher process

    @property
    def env(self) -> dict:
        """What every command on the box needs to find this Slurm."""
        return {"SLURM_CONF": self.conf}

    def start(self, timeout: float = 60.0) -> None:
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        for n in self.cluster.nodes:
            os.makedirs(os.path.join(self.dir, f"spool-{n.name}"), exist_ok=True)
        self._munge()
        plugin, mount = _cgroup_setup()
        self._mount = mount
        with open(os.path.join(self.dir, "cgroup.conf"), "w") as fh:
            fh.write(f"CgroupPlugin={plugin}\nCgroupMountpoint=/sys/fs/cgroup\n"
                     "IgnoreSystemd=yes\n")
        c = self.cluster
        nodes = "\n".join(f"NodeName={n.name} NodeAddr={c.addr[n.name]} CPUs={n.cores} "
                          "State=UNKNOWN" for n in c.nodes)
        with open(self.conf, "w") as fh:
            fh.write(CONF.format(main=c.main.name, main_addr=c.addr[c.main.name],
                                 socket=self.socket, dir=self.dir, nodes=nodes,
                                 kill_wait=KILL_WAIT, slurmd_timeout=self.slurmd_timeout))
        self.procs.append(self._daemon(c.main.name, "slurmctld -D", "slurmctld.out"))
        for n in c.nodes:
            self.start_slurmd(n.name)
        self.wait_idle(timeout)

    def start_slurmd(self, node: str) -> None:
        """(Re)start ``node``'s slurmd (a node that rebooted)."""
        # the node's own TmpFS (where PMIx keeps a step's files): the nodes share this
        # machine's /tmp, and two nodes' steps would take the same names in it
        tmp = os.path.join(self.dir, f"tmp-{node}")
        os.makedirs(tmp, exist_ok=True)
        proc = self._daemon(node, f"{self._mount} && mount --bind {tmp} {self.dir}/tmp && "
                            "exec slurmd -D", f"slurmd-{node}.out")
        self.slurmd[node] = proc
        self.procs.append(proc)

    def _daemon(self, node: str, command: str, log: str) -> subprocess.Popen:
        env = {**os.environ, **self.env}
        env.pop("PARC_SIM_CWD", None)
        with open(os.path.join(self.dir, log), "a") as out:
            return subprocess.Popen([self.cluster.launcher, node, command], env=env,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def _munge(self) -> None:
        os.makedirs(self.munge_dir, mode=0o700, exist_ok=True)
        key = os.path.join(self.munge_dir, "munge.key")
        with open(key, "wb") as fh:
            fh.write(os.urandom(1024))
        os.chmod(key, 0o400)
        done = subprocess.run(
            ["munged", "--force", f"--key-file={key}", f"--socket={self.socket}",
             f"--pid-file={self.munge_dir}/munged.pid",
             f"--log-file={self.munge_dir}/munged.log",
             f"--seed-file={self.munge_dir}/munged.seed"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SlurmError(f"munged did not start: {done.stderr.strip()[-300:]}")

    def sinfo(self) -> dict:
        """node -> its state as sinfo gives it (idle, alloc, down*, ...)."""
        done = subprocess.run(self.cluster.command(["sinfo", "-h", "-N", "-o", "%N %T"]),
                              env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=30)
        return dict(ln.split()[:2] for ln in done.stdout.splitlines() if ln.strip())

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until every node is idle (registered and free), or SlurmError."""
        end = time.monotonic() + timeout
        states = {}
        while time.monotonic() < end:
            states = self.sinfo()
            if len(states) == len(self.cluster.nodes) and \
                    all(s == "idle" for s in states.values()):
                return
            time.sleep(0.3)
        tail = ""
        try:
            with open(os.path.join(self.dir, "slurmctld.log")) as fh:
                tail = fh.read().strip().splitlines()[-1]
        except (OSError, IndexError):
            pass
        raise SlurmError(f"Slurm's nodes did not all become idle in {timeout:g} s: "
                              f"{states or 'sinfo gave nothing'}; slurmctld: {tail}")

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.procs = []
        pid_file = os.path.join(self.munge_dir, "munged.pid")
        try:
            with open(pid_file) as fh:
                os.kill(int(fh.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
