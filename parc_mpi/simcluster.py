"""A simulated cluster on one Linux machine: each node a network namespace.

    sudo python -m parc_mpi.simcluster run node_list.csv [--profile gigabit|wifi] -- \\
        mpiexec -f hostfile -n 24 python -m parc_mpi.run job.py

Each node of the node list becomes a namespace with its own network stack, host
name and private home folder, plugged by a veth pair into a bridge that lives in a
namespace of its own (the switch). Both ends of every link are shaped with ``tc tbf``
(``gigabit``: 940 Mbit/s, ``wifi``: 50 Mbit/s). The command runs on the main node;
MPICH's ``mpiexec`` reaches the other nodes through a launcher script (``-launcher ssh
-launcher-exec``, added for you) that starts each node's ranks in its namespace, with
``UCX_TLS=tcp,self`` so ranks on different nodes talk over the shaped links, not shared
memory. Everything is torn down at the end, also after a failure or Ctrl-C. Needs root
(or CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 and MPICH's Hydra launcher.

Addresses are private to the namespaces made here (10.231.0.0/24 in each cluster's
own namespaces), so two simulated clusters at once do not collide.

``--ssh``: every node also runs Debian's OpenSSH server on its own address, with its
own host keys, and nothing stands in for ssh: the Pi guide's commands run as written
(``ssh-keygen``, ``ssh-copy-id pi@pi1.local`` with the password ``raspberry``,
``mpirun -hostfile hostfile ...`` whose launcher is ssh). Inside every node (main
included) ``/root/.ssh``, ``/root/.cache`` and ``/etc/ssh`` are the node's own, and a
user ``pi`` exists (uid 0, home ``/root``: the same Python everywhere, as the guide's
identical venv paths give), from private copies of ``/etc/passwd`` and ``/etc/shadow``;
nothing outside the namespaces changes. Needs openssh-server.

``--slurm``: Slurm on the box (parc_mpi.simslurm): slurmctld on the main node, a
slurmd on every node, one munge key; ``sbatch``, ``srun``, ``squeue`` and ``scancel``
in the command reach them. Needs Debian's slurmctld, slurmd, slurm-client and munge.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from .nodes import Node, NodeListError, read_node_list

if TYPE_CHECKING:
    from .simslurm import SimSlurm

PROFILES = {"gigabit": "940mbit", "wifi": "50mbit"}
SUBNET = "10.231.0"
NETNS_ETC = "/etc/netns"

LAUNCHER = """#!/bin/sh
# parc_mpi.simcluster launcher: mpiexec calls it as it would call ssh:
#   SCRIPT [-x] HOST COMMAND...   and it runs COMMAND inside HOST's namespace
[ "$1" = "-x" ] && shift
host=$1; shift
case "$host" in
{cases}
  *) echo "simcluster: unknown host $host" >&2; exit 255;;
esac
export UCX_TLS=tcp,self
# a node with a memory limit of its own (a 2 GB Pi on a bigger machine): its cgroup
[ -n "$cg" ] && { echo $$ > "$cgroot$cg/cgroup.procs" || exit 255; }
# a node held to a share of the CPU (a slow or throttled node): its CPU cgroup
[ -n "$cpucg" ] && { echo $$ > "$cpucg/cgroup.procs" || exit 255; }
cd "${PARC_SIM_CWD:-$home}" || exit 255
unset PARC_SIM_CWD
# the node's own ~/.cache (where shipped code is unpacked): mpiexec hands every rank
# the main node's environment, so a private HOME would not survive; a private mount does
cache=${HOME:-/root}/.cache
mkdir -p "$home/.cache" "$cache" || exit 255
exec ip netns exec "$ns" unshare --uts --mount sh -c \
  'hostname "$0" && mount --bind "$1" "$2" && cgp=$3 && {CGMOUNT} && shift 3 && exec sh -c "$*"' \
  "$name" "$home/.cache" "$cache" "$cg" "$@"
"""

# inside a node's mount namespace (ip netns exec mounts a fresh /sys): the memory cgroup
# tree again, so that a node with a limit reads it as a real node reads its own
CGMOUNT = ('{ [ -z "$cgp" ] || { mount -t tmpfs none /sys/fs/cgroup && '
           'mkdir -p /sys/fs/cgroup/{SUB} && mount --bind {ROOT} /sys/fs/cgroup/{SUB}; }; }')


NODESH = """#!/bin/sh
# parc_mpi.simcluster (ssh mode): run COMMAND as on NODE: in its network namespace,
# with its host name, its own ~/.ssh, ~/.cache and /etc/ssh, and the user 'pi'
#   SCRIPT NODE COMMAND...
host=$1; shift
case "$host" in
{cases}
  *) echo "simcluster: unknown node $host" >&2; exit 255;;
esac
# one kernel under all nodes: without this UCX finds shared memory between "nodes"
# (mpiexec passes it on to every rank, as it does the rest of its environment)
export UCX_TLS=tcp,self
[ -n "$cg" ] && { echo $$ > "$cgroot$cg/cgroup.procs" || exit 255; }
[ -n "$cpucg" ] && { echo $$ > "$cpucg/cgroup.procs" || exit 255; }
exec ip netns exec "$ns" unshare --uts --mount sh -c '
  hostname "$0" &&
  mount --bind "$1/.ssh" /root/.ssh && mount --bind "$1/.cache" /root/.cache &&
  mount --bind "$1/etc-ssh" /etc/ssh && mount --bind "$2/passwd" /etc/passwd &&
  mount --bind "$2/shadow" /etc/shadow || exit 255
  for p in $3; do mount -t tmpfs none "$p" || exit 255; done
  cgp=$4; shift 4
  {CGMOUNT} || exit 255
  exec "$@"' "$name" "$home" "{shared}" "$hide" "$cg" "$@"
"""

SSHD_CONFIG = """# parc_mpi.simcluster: this node's OpenSSH server
ListenAddress {addr}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
PermitUserEnvironment yes
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""
PASSWORD = "raspberry"   # the user pi's, for ssh-copy-id (the guide's first login)


class SimClusterError(RuntimeError):
    pass


HOT_FIRMWARE = """#!/bin/sh
# a Pi's firmware tool, on the one node that is hot: 83 degC, ARM at 600 MHz, throttled
[ "$(hostname)" = {node} ] || exit 1
case "$1" in
  measure_temp) echo "temp=83.0'C";;
  measure_clock) echo "frequency(48)=600000000";;
  get_throttled) echo "throttled=0x60006";;
  *) exit 1;;
esac
"""


def hot_firmware(bin_dir: str, node: str) -> str:
    """Write a fake ``vcgencmd`` into ``bin_dir`` that answers on ``node`` only, as a
    hot Pi's firmware does (83 °C, 600 MHz, the throttle bits); put ``bin_dir`` first
    on the PATH of the launch. Returns the bin folder."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, "vcgencmd")
    with open(path, "w") as fh:
        fh.write(HOT_FIRMWARE.replace("{node}", node))
    os.chmod(path, 0o755)
    return bin_dir


def available(launcher: bool = True) -> Optional[str]:
    """None when a simulated cluster can be built here, else the reason it cannot
    (``launcher``: the stand-in for ssh, which needs MPICH's Hydra)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc", "unshare"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (iproute2, util-linux)"
    probe = f"parcprobe{uuid.uuid4().hex[:6]}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "cannot create a network namespace here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    from .mpienv import detect_flavour
    if launcher and detect_flavour() != "mpich":
        return "the launcher script needs MPICH's mpiexec (Hydra)"
    return None


def ssh_available() -> Optional[str]:
    """None when the ssh mode can run here (any MPI: mpirun's own ssh launcher
    reaches the nodes), else why not."""
    why = available(launcher=False)
    if why:
        return why
    for tool in ("/usr/sbin/sshd", "ssh", "ssh-keygen", "ssh-copy-id"):
        if shutil.which(tool) is None and not os.path.exists(tool):
            return f"'{tool}' is not installed (openssh-server, openssh-client)"
    return None


def _ip(*args: str, ns: Optional[str] = None) -> None:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SimClusterError(f"{' '.join(cmd)}: {done.stderr.strip()}")


class SimCluster:
    """Build with ``up()`` (or ``with SimCluster(...) as c``), tear down with ``down()``."""

    def __init__(self, nodes: Sequence[Node], profile: str = "gigabit",
                 name: Optional[str] = None, workdir: Optional[str] = None,
                 ssh: bool = False, hide: Optional[Dict[str, List[str]]] = None,
                 env: Optional[Dict[str, Dict[str, str]]] = None,
                 links: Optional[Dict[str, str]] = None,
                 memory: Optional[Dict[str, int]] = None,
                 cpu: Optional[Dict[str, float]] = None, slurm: bool = False):
        if profile not in PROFILES:
            raise SimClusterError(f"unknown profile {profile!r}; use one of "
                                  f"{', '.join(PROFILES)}")
        if not 1 <= len(nodes) <= 250:
            raise SimClusterError("a simulated cluster has 1 to 250 nodes")
        self.nodes = list(nodes)
        self.profile = profile
        self.tag = name or "pc" + uuid.uuid4().hex[:6]   # short: interface names <= 15
        self.switch = f"{self.tag}-sw"
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"parc-{self.tag}-")
        self.launcher = os.path.join(self.workdir, "launcher.sh")
        self.ns: Dict[str, str] = {n.name: f"{self.tag}-{n.name}" for n in self.nodes}
        self.addr: Dict[str, str] = {n.name: f"{SUBNET}.{i + 1}"
                                     for i, n in enumerate(self.nodes)}
        self.made: List[str] = []
        self.ssh = ssh
        # ssh mode: folders a node does not have (an empty folder is mounted over each),
        # e.g. the virtual environment that lives elsewhere on one node
        self.hide = {k: list(v) for k, v in (hide or {}).items()}
        # ssh mode: variables every ssh session on a node starts with (~/.ssh/environment),
        # e.g. libfaketime's, for a node whose clock is off
        self.env = {k: dict(v) for k, v in (env or {}).items()}
        # a node whose link differs from the profile's (a Wi-Fi node on a wired box)
        self.links = dict(links or {})
        for node, prof in self.links.items():
            if prof not in PROFILES:
                raise SimClusterError(f"{node}: unknown link profile {prof!r}; use one of "
                                      f"{', '.join(PROFILES)}")
        # a node whose memory is limited (bytes): every process started on it goes into a
        # memory cgroup of its own, as a 2 GB Pi's memory is its own
        self.memory = dict(memory or {})
        self.cgroups: Dict[str, str] = {}   # node -> its cgroup, from the tree's root
        self._cgroup_dirs: List[str] = []
        self.cgroot = ""     # the memory cgroup tree, bind-mounted where nodes reach it
        self.cgsub = "memory"
        # a node held to a share of the machine's CPU (cores, e.g. 0.5): a slow or hot
        # node on one machine, through a CPU cgroup quota (v1 cpu.cfs_quota_us, v2 cpu.max)
        self.cpu = dict(cpu or {})
        self.cpu_cgroups: Dict[str, str] = {}   # node -> its CPU cgroup folder
        self._cpuroot = ""   # the CPU cgroup tree, bind-mounted where the launcher reaches it
        self.nodesh = os.path.join(self.workdir, "nodesh.sh")
        self.sshd: List[subprocess.Popen] = []
        # Slurm: slurmctld on the main node, slurmd on every node (parc_mpi.simslurm)
        self.slurm: Optional["SimSlurm"] = None
        self._want_slurm = slurm

    # -- building ------------------------------------------------------------
    def __enter__(self) -> "SimCluster":
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> "SimCluster":
        try:
            self._netns(self.switch)
            _ip("ip", "link", "add", "br0", "type", "bridge", ns=self.switch)
            _ip("ip", "link", "set", "br0", "up", ns=self.switch)
            for i, node in enumerate(self.nodes):
                rate = PROFILES[self.links.get(node.name, self.profile)]
                ns = self._netns(self.ns[node.name])
                host, port = f"{self.tag}h{i}", f"{self.tag}s{i}"
                _ip("ip", "link", "add", host, "type", "veth", "peer", "name", port)
                _ip("ip", "link", "set", host, "netns", ns)
                _ip("ip", "link", "set", port, "netns", self.switch)
                _ip("ip", "link", "set", host, "name", "eth0", ns=ns)
                _ip("ip", "addr", "add", f"{self.addr[node.name]}/24", "dev", "eth0", ns=ns)
                for dev, where in (("eth0", ns), (port, self.switch)):
                    _ip("ip", "link", "set", dev, "up", ns=where)
                    _ip("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                        "burst", "128kb", "latency", "20ms", ns=where)
                _ip("ip", "link", "set", "lo", "up", ns=ns)
                _ip("ip", "link", "set", port, "master", "br0", ns=self.switch)
                os.makedirs(self.home(node.name), exist_ok=True)
            self._hosts_files()
            self._memory_cgroups()
            self._cpu_cgroups()
            self._write_launcher()
            if self.ssh:
                self._start_sshd()
            if self._want_slurm:
                self._start_slurm()
        except BaseException:
            self.down()
            raise
        return self

    def _start_slurm(self) -> None:
        from .simslurm import SimSlurm, SlurmError, available as slurm_available
        why = slurm_available()
        if why:
            raise SimClusterError(f"Slurm: {why}")
        self.slurm = SimSlurm(self)
        try:
            self.slurm.start()
        except SlurmError as exc:
            raise SimClusterError(str(exc)) from None

    def _memory_cgroups(self) -> None:
        """A memory cgroup per node given a limit, under this process's own (v1
        ``memory.limit_in_bytes`` or v2 ``memory.max``)."""
        from .tasks.memory import _own_memory_cgroup
        if not self.memory:
            return
        own = _own_memory_cgroup()
        if own is None:
            raise SimClusterError("a node memory limit needs the memory cgroup controller "
                                  "(v1, or v2 with memory enabled)")
        version, parent = own
        root = "/sys/fs/cgroup/memory" if version == "v1" else \
            parent[:len(parent) - len(_cgroup_path(version))] or "/sys/fs/cgroup"
        # the tree, where a node's namespace can reach it (it mounts a /sys of its own)
        self.cgroot = os.path.join(self.workdir, "cgroup-memory")
        os.makedirs(self.cgroot, exist_ok=True)
        if subprocess.run(["mount", "--bind", root, self.cgroot]).returncode != 0:
            raise SimClusterError(f"cannot bind-mount {root} for the nodes' memory limits")
        self.cgsub = "memory" if version == "v1" else ""
        for node, limit in self.memory.items():
            if node not in self.ns:
                raise SimClusterError(f"memory limit for {node}: no such node")
            folder = os.path.join(parent, f"{self.tag}-{node}")
            try:
                os.makedirs(folder, exist_ok=True)
                self.cgroups[node] = folder[len(root):]
                self._cgroup_dirs.append(folder)
                name = "memory.limit_in_bytes" if version == "v1" else "memory.max"
                with open(os.path.join(folder, name), "w") as fh:
                    fh.write(str(int(limit)))
            except OSError as exc:
                raise SimClusterError(f"cannot give {node} a memory limit: {exc}") from None

    def _cpu_cgroups(self) -> None:
        """A CPU cgroup per node given a share, under this process's own: its
        processes get ``cores`` CPU-seconds per second at most."""
        if not self.cpu:
            return
        own = _own_cpu_cgroup()
        if own is None:
            raise SimClusterError("a node CPU limit needs the cpu cgroup controller "
                                  "(v1, or v2 with cpu enabled)")
        version, mount, parent = own
        # the tree, where the launcher reaches it inside the main node's namespace (ip
        # netns exec mounts a /sys of its own)
        cpuroot = os.path.join(self.workdir, "cgroup-cpu")
        os.makedirs(cpuroot, exist_ok=True)
        if subprocess.run(["mount", "--bind", mount, cpuroot]).returncode != 0:
            raise SimClusterError(f"cannot bind-mount {mount} for the nodes' CPU limits")
        self._cpuroot = cpuroot
        for node, cores in self.cpu.items():
            if node not in self.ns:
                raise SimClusterError(f"CPU limit for {node}: no such node")
            if not cores > 0:
                raise SimClusterError(f"CPU limit for {node}: cores must be positive, "
                                      f"got {cores!r}")
            folder = os.path.join(parent, f"{self.tag}-{node}")
            period = 100_000
            try:
                os.makedirs(folder, exist_ok=True)
                self._cgroup_dirs.append(folder)
                if version == "v1":
                    for name, value in (("cpu.cfs_period_us", period),
                                        ("cpu.cfs_quota_us", int(cores * period))):
                        with open(os.path.join(folder, name), "w") as fh:
                            fh.write(str(value))
                else:
                    with open(os.path.join(folder, "cpu.max"), "w") as fh:
                        fh.write(f"{int(cores * period)} {period}")
            except OSError as exc:
                raise SimClusterError(f"cannot give {node} a CPU limit: {exc}") from None
            self.cpu_cgroups[node] = cpuroot + folder[len(mount):]

    def oom_kills(self, node: str) -> int:
        """How many processes the kernel's OOM killer ended on ``node`` (its memory
        cgroup's count; 0 for a node without a limit)."""
        if node not in self.cgroups:
            return 0
        folder = self.cgroot + self.cgroups[node]
        for name in ("memory.oom_control", "memory.events"):
            try:
                with open(os.path.join(folder, name)) as fh:
                    for line in fh:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
            except OSError:
                continue
        return 0

    def _netns(self, ns: str) -> str:
        _ip("ip", "netns", "add", ns)
        self.made.append(ns)
        return ns

    def _hosts_files(self) -> None:
        """``ip netns exec`` bind-mounts /etc/netns/NS/hosts over /etc/hosts."""
        lines = ["127.0.0.1 localhost"]
        for n in self.nodes:   # NAME.local too, as mDNS (avahi) answers on a Pi's LAN
            names = " ".join(dict.fromkeys([n.name, n.address, f"{n.name}.local"]))
            lines.append(f"{self.addr[n.name]} {names}")
        for ns in self.ns.values():
            os.makedirs(os.path.join(NETNS_ETC, ns), exist_ok=True)
            with open(os.path.join(NETNS_ETC, ns, "hosts"), "w") as fh:
                fh.write("\n".join(lines) + "\n")

    def _cases(self) -> str:
        """The scripts' shell ``case`` arms: any of a node's names -> its namespace,
        host name, home folder (and in ssh mode the folders it does not have)."""
        cases = []
        for n in self.nodes:
            keys = "|".join(dict.fromkeys([n.name, n.address, self.addr[n.name]]))
            hide = shlex.quote(" ".join(self.hide.get(n.name, [])))
            cg = shlex.quote(self.cgroups.get(n.name, ""))
            cpucg = shlex.quote(self.cpu_cgroups.get(n.name, ""))
            cases.append(f'  {keys}) ns={self.ns[n.name]} name={n.name} '
                         f'home={self.home(n.name)} hide={hide} cg={cg} '
                         f'cgroot={shlex.quote(self.cgroot)} cpucg={cpucg};;')
        return "\n".join(cases)

    def _cgmount(self) -> str:
        return CGMOUNT.replace("{SUB}", self.cgsub).replace(
            "{ROOT}", shlex.quote(self.cgroot or "/nonexistent"))

    def _write_launcher(self) -> None:
        with open(self.launcher, "w") as fh:
            fh.write(LAUNCHER.replace("{cases}", self._cases()).replace(
                "{CGMOUNT}", self._cgmount()))
        os.chmod(self.launcher, 0o755)

    # -- the ssh mode ---------------------------------------------------------
    def _start_sshd(self) -> None:
        shared = os.path.join(self.workdir, "etc")
        os.makedirs(shared, exist_ok=True)
        with open("/etc/passwd") as fh:
            passwd = [ln for ln in fh.read().splitlines() if not ln.startswith("pi:")]
        with open("/etc/shadow") as fh:
            shadow = [ln for ln in fh.read().splitlines() if not ln.startswith("pi:")]
        passwd.append("pi:x:0:0:pi:/root:/bin/sh")
        shadow.append(f"pi:{_hash(PASSWORD)}:19000:0:99999:7:::")
        for name, lines, mode in (("passwd", passwd, 0o644), ("shadow", shadow, 0o600)):
            path = os.path.join(shared, name)
            with open(path, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            os.chmod(path, mode)
        with open(self.nodesh, "w") as fh:
            fh.write(NODESH.replace("{cases}", self._cases()).replace("{shared}", shared)
                     .replace("{CGMOUNT}", self._cgmount()))
        os.chmod(self.nodesh, 0o755)
        for d in ("/root/.ssh", "/root/.cache", "/run/sshd"):   # mount points
            os.makedirs(d, exist_ok=True)
        for n in self.nodes:
            home = self.home(n.name)
            etc = os.path.join(home, "etc-ssh")
            for d, mode in ((os.path.join(home, ".ssh"), 0o700), (os.path.join(home, ".cache"), 0o755),
                            (etc, 0o755)):
                os.makedirs(d, exist_ok=True)
                os.chmod(d, mode)
            # every ssh session on the node: what the test asked, and the cores the
            # node offers (the nodes share this machine's)
            env = {"PARC_MPI_CORES": self.cores_env(), **self.env.get(n.name, {})}
            with open(os.path.join(home, ".ssh", "environment"), "w") as fh:
                fh.write("".join(f"{k}={v}\n" for k, v in env.items()))
            key = os.path.join(etc, "ssh_host_ed25519_key")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            f"root@{n.name}", "-f", key], check=True, capture_output=True)
            with open(os.path.join(etc, "sshd_config"), "w") as fh:
                fh.write(SSHD_CONFIG.format(addr=self.addr[n.name]))
            with open(os.path.join(etc, "ssh_config"), "w") as fh:
                fh.write("Host *\n    SendEnv LANG LC_*\n")
            log = open(os.path.join(home, "sshd.log"), "w")
            self.sshd.append(subprocess.Popen(
                [self.nodesh, n.name, "/usr/sbin/sshd", "-D", "-e", "-f",
                 "/etc/ssh/sshd_config"], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))
            log.close()
        for n in self.nodes:
            self._wait_port(n.name, 22)

    def _wait_port(self, node: str, port: int, timeout: float = 10.0) -> None:
        probe = ("import socket,sys,time\nend=time.time()+%f\nwhile time.time()<end:\n"
                 " try: socket.create_connection(('%s',%d),0.5).close(); sys.exit(0)\n"
                 " except OSError: time.sleep(0.05)\nsys.exit(1)\n"
                 % (timeout, self.addr[node], port))
        done = subprocess.run(["ip", "netns", "exec", self.ns[node], sys.executable, "-c",
                               probe], capture_output=True)
        if done.returncode != 0:
            with open(os.path.join(self.home(node), "sshd.log")) as fh:
                why = fh.read().strip().splitlines()[-1:] or ["no output"]
            raise SimClusterError(f"{node}: sshd did not start: {why[0]}")

    def home(self, node: str) -> str:
        """The node's private folder: its ``~/.cache`` (where shipped code is unpacked)
        is ``home/.cache``, and commands other than the main one start in it."""
        return os.path.join(self.workdir, "nodes", node)

    # -- using -----------------------------------------------------------------
    @property
    def main(self) -> Node:
        return next((n for n in self.nodes if n.role == "main"), self.nodes[0])

    def command(self, argv: Sequence[str], cwd: Optional[str] = None) -> List[str]:
        """``argv`` run on the main node; an ``mpiexec`` in it reaches the other nodes
        through the launcher."""
        argv = list(argv)
        slurm = [f"{k}={v}" for k, v in self.slurm.env.items()] if self.slurm else []
        if self.ssh:   # nothing stands in for ssh: mpiexec's own launcher is ssh
            return [self.nodesh, self.main.name, "env", "HOME=/root", *slurm,
                    f"PARC_MPI_CORES={self.cores_env()}", "sh", "-c",
                    f"cd {shlex.quote(cwd or os.getcwd())} && exec {shlex.join(argv)}"]
        if argv and os.path.basename(argv[0]) in ("mpiexec", "mpirun", "mpiexec.hydra"):
            argv[1:1] = ["-launcher", "ssh", "-launcher-exec", self.launcher,
                         "-genv", "UCX_TLS", "tcp,self"]
        # any mpiexec the command starts (a script's, a shell's) finds the launcher too,
        # but not under Slurm: there sbatch passes the environment on to the job, whose
        # mpiexec must launch through Slurm, as at a site;
        # the nodes share this machine's cores: each offers what the node list says
        hydra = [] if self.slurm else ["HYDRA_LAUNCHER=ssh",
                                       f"HYDRA_LAUNCHER_EXEC={self.launcher}"]
        return ["env", *slurm, *hydra, f"PARC_SIM_CWD={cwd or os.getcwd()}",
                f"PARC_MPI_CORES={self.cores_env()}", self.launcher, self.main.name,
                shlex.join(argv)]

    def cores_env(self) -> str:
        """``PARC_MPI_CORES`` for the box: each node's cores as the node list gives them
        (a value already in the environment wins)."""
        return os.environ.get("PARC_MPI_CORES") or ",".join(
            f"{n.name}={n.cores}" for n in self.nodes)

    def shape(self, node: str, rate: Optional[str] = None) -> None:
        """Change ``node``'s link rate (``"50mbit"``: a node moved to Wi-Fi); None gives
        it its profile's rate back. (netem's added delay would be closer to a long
        cable, but this kernel may not have it; a token bucket is what the box uses.)"""
        rate = rate or PROFILES[self.links.get(node, self.profile)]
        i = [n.name for n in self.nodes].index(node)
        for dev, where in (("eth0", self.ns[node]), (f"{self.tag}s{i}", self.switch)):
            _ip("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
                "burst", "128kb", "latency", "20ms", ns=where)   # both ends, as up() does

    def cut(self, node: str, up: bool = False) -> None:
        """Pull (or plug back) a node's cable: its link goes down (up)."""
        _ip("ip", "link", "set", "eth0", "up" if up else "down", ns=self.ns[node])

    def power(self, node: str, on: bool = True) -> None:
        """Cut a node's power (its link goes down and every process on it dies, as
        when a Pi's supply fails) or give it back (its link comes up; with Slurm, its
        slurmd starts again, as at boot). A pulled cable (``cut``) leaves the
        processes running."""
        if on:
            self.cut(node, up=True)
            if self.slurm is not None:
                self.slurm.start_slurmd(node)
            return
        self.cut(node)
        _kill_all_in(self.ns[node])

    def down(self) -> None:
        """Kill what still runs on the nodes (a launcher waiting for a node whose cable
        is out, ranks of a failed test), then remove namespaces, hosts files, folders."""
        if self.slurm is not None:
            self.slurm.stop()
            self.slurm = None
        for ns in self.made:
            _kill_all_in(ns)
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(os.path.join(NETNS_ETC, ns), ignore_errors=True)
        for ns in self.ns.values():
            shutil.rmtree(os.path.join(NETNS_ETC, ns), ignore_errors=True)
        self.made = []
        if self.cgroot:
            subprocess.run(["umount", "-l", self.cgroot], capture_output=True)
            self.cgroot = ""
        if self._cpuroot:   # before the workdir is removed: never into the real tree
            subprocess.run(["umount", "-l", self._cpuroot], capture_output=True)
            self._cpuroot = ""
        for folder in self._cgroup_dirs:   # empty once its processes are gone
            for _ in range(50):
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.cgroups, self._cgroup_dirs = {}, []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _kill_all_in(ns: str) -> None:
    """SIGKILL to every process in the network namespace ``ns``."""
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _own_cpu_cgroup() -> Optional[tuple]:
    """("v1" or "v2", the folder of this process's CPU cgroup), or None."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                if os.path.isfile(os.path.join(mount, "cpu.cfs_quota_us")):
                    return "v1", mount, mount + path.rstrip("/")
    for line in lines:
        if line.startswith("0::"):
            folder = "/sys/fs/cgroup" + line[3:].rstrip("/")
            if os.path.isfile(os.path.join(folder, "cgroup.subtree_control")):
                return "v2", "/sys/fs/cgroup", folder
    return None


def _cgroup_path(version: str) -> str:
    """This process's cgroup path within the hierarchy of ``version``."""
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _id, controllers, path = line.rstrip("\n").split(":", 2)
            if version == "v1" and "memory" in controllers.split(","):
                return path
            if version == "v2" and _id == "0":
                return path
    return ""


def _hash(password: str) -> str:
    """A SHA-512 crypt(3) hash for /etc/shadow."""
    done = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                          text=True)
    if done.returncode == 0:
        return done.stdout.strip()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt   # removed in Python 3.13; openssl is the first choice
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from .cli import make_parser
    p = make_parser("simcluster", __doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="build the cluster, run a command on its main node, "
                                     "tear it down")
    run.add_argument("node_list", help="node_list.csv (names, roles, cores)")
    run.add_argument("--profile", choices=sorted(PROFILES), default="gigabit")
    run.add_argument("--ssh", action="store_true",
                     help="an OpenSSH server on every node; mpiexec launches over real ssh "
                          "(user pi, password raspberry)")
    run.add_argument("--memory", action="append", default=[], metavar="NODE=SIZE",
                     help="give NODE a memory limit of its own (a memory cgroup), e.g. "
                          "pi3=1800M; repeat for several nodes")
    run.add_argument("--cpu", action="append", default=[], metavar="NODE=CORES",
                     help="hold NODE to a share of this machine's CPU (a CPU cgroup "
                          "quota), e.g. pi3=0.5: a slow or throttled node; repeat for several")
    run.add_argument("--slurm", action="store_true",
                     help="Slurm on the box: slurmctld on the main node, slurmd on every "
                          "node, munge; sbatch, srun, squeue and scancel work in the command")
    run.add_argument("command", nargs="*",
                     help="after --: the command, e.g. mpiexec -f hostfile -n 24 python ...")
    # everything after the first "--" is the command, untouched by argparse
    cmd: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, cmd = argv[:cut], argv[cut + 1:]
    args = p.parse_args(argv)
    cmd = list(args.command) + cmd
    if not cmd:
        p.error("give the command to run after --")
    why = ssh_available() if args.ssh else available()
    if why:
        print(f"error: cannot build a simulated cluster here: {why}", file=sys.stderr)
        return 2
    try:
        nodes = read_node_list(args.node_list)
    except NodeListError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    memory = {}
    from .tasks.memory import parse_size
    for spec in args.memory:
        node, _, size = spec.partition("=")
        try:
            memory[node] = parse_size(size, f"--memory {spec}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    cpu = {}
    for spec in args.cpu:
        node, _, cores = spec.partition("=")
        try:
            cpu[node] = float(cores)
        except ValueError:
            print(f"error: --cpu {spec}: give NODE=CORES, e.g. pi3=0.5", file=sys.stderr)
            return 2
    if args.slurm:
        from .simslurm import available as slurm_available
        why = slurm_available()
        if why:
            print(f"error: --slurm: {why}", file=sys.stderr)
            return 2
    cluster = SimCluster(nodes, args.profile, ssh=args.ssh, memory=memory, cpu=cpu,
                         slurm=args.slurm)
    # Ctrl-C or a kill ends the command; the cluster is torn down either way
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cluster.up()
        print(f"[simcluster] {len(nodes)} node{'s' if len(nodes) != 1 else ''} ({args.profile}) as namespaces "
              f"{cluster.tag}-*; main node {cluster.main.name}"
              + ("; Slurm partition 'box' up" if cluster.slurm else ""), flush=True)
        return subprocess.call(cluster.command(cmd))
    except KeyboardInterrupt:
        return 130
    except SimClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        cluster.down()


if __name__ == "__main__":
    sys.exit(main())
