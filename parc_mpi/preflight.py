"""The pre-flight check: ``python -m parc_mpi.hostfile node_list.csv --check``.

Before the first run on a new box, every node is asked over the ssh the launcher uses
(``ssh [user@]address``; the main node runs the probe itself) to run the interpreter
this command runs under (the virtual environment's, at the same path on every node)
with a probe that needs nothing but Python. One line per node, the fix named for
each fault:

* the interpreter missing, or ssh not reaching the node without a password;
* Python's minor version, mpi4py, the MPI library and parc_mpi against the main node's
  (a node without parc_mpi would leave every rank waiting inside ``MPI_Init``);
* the virtual environment's path, available memory and free disk;
* the clock's offset from the main node's (over 1 s: time sync is off);
* TCP between the nodes on a test port (``--port``, default 50000): each node listens
  and every other node connects, so a firewall that drops MPI's ports is named before
  it costs two silent minutes and a UCX error inside ``MPI_Init``.

The exit status is 0 when every node is fine, 1 when a line says ``FAIL``.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .nodes import Node

CLOCK_LIMIT = 1.0          # seconds of offset before a node's clock is a fault
MEMORY_LOW = 200 << 20     # bytes available
DISK_LOW = 1 << 30         # bytes free in the home folder
SSH_TIMEOUT = 10           # seconds for ssh to connect

# The probe is text run by each node's own interpreter (``python -c``): its mpi4py
# import happens there, never in this process, which stays outside the MPI layer (a
# check must work where MPI itself is what is broken).
PROBE = r"""
import json, os, shutil, socket, sys, time
out = {"python": "%d.%d.%d" % sys.version_info[:3], "exe": sys.executable,
       "prefix": sys.prefix, "host": socket.gethostname()}
try:
    import mpi4py
    mpi4py.rc.initialize = False
    mpi4py.rc.finalize = False
    from mpi4py import MPI
    out["mpi4py"] = mpi4py.__version__
    out["mpi"] = " ".join(MPI.Get_library_version().strip().splitlines()[0].split(",")[0].split())
except Exception as exc:
    out["mpi4py_error"] = "%s: %s" % (type(exc).__name__, exc)
try:
    import parc_mpi
    out["parc_mpi"] = parc_mpi.__version__
except Exception as exc:
    out["parc_mpi_error"] = "%s: %s" % (type(exc).__name__, exc)
try:
    with open("/proc/meminfo") as fh:
        info = dict(line.split(":", 1) for line in fh)
    out["mem_available"] = int(info["MemAvailable"].split()[0]) * 1024
except Exception:
    pass
out["disk_free"] = shutil.disk_usage(os.path.expanduser("~")).free
out["t"] = time.time()
print("PARC-PROBE " + json.dumps(out), flush=True)
"""

LISTEN = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("", PORT))
except OSError as exc:
    print("PARC-LISTEN-ERROR %s" % exc, flush=True)
    sys.exit(0)
s.listen(64)
s.settimeout(0.2)
print("PARC-LISTENING", flush=True)
end = time.time() + SECONDS
while time.time() < end:
    try:
        c, _a = s.accept()
        c.close()
    except socket.timeout:
        pass
"""

CONNECT = r"""
import json, socket
out = {}
for name, addr in TARGETS:
    try:
        socket.create_connection((addr, PORT), timeout=3).close()
        out[name] = ""
    except OSError as exc:
        out[name] = str(exc) or type(exc).__name__
print("PARC-CONNECT " + json.dumps(out))
"""

PORT_HINT = ("let the nodes' subnet through the firewall, or pin MPI's ports and open those "
             "(MPICH: MPIEXEC_PORT_RANGE=50000:50100 for mpiexec, and "
             "MPIR_CVAR_CH3_PORT_RANGE=50000:50100 with the ch3 device; Open MPI: --mca "
             "btl_tcp_port_min_v4 50000 --mca btl_tcp_port_range_v4 100)")


class Remote:
    """Runs Python code on a node: over ssh, or here for the main node."""

    def __init__(self, node: Node, python: str, local: bool):
        self.node, self.python, self.local = node, python, local

    @property
    def target(self) -> str:
        return f"{self.node.user}@{self.node.address}" if self.node.user else self.node.address

    def command(self, code: str) -> List[str]:
        if self.local:
            return [self.python, "-c", code]
        return ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={SSH_TIMEOUT}",
                "-o", "StrictHostKeyChecking=accept-new", self.target,
                f"{shlex.quote(self.python)} -c {shlex.quote(code)}"]

    def run(self, code: str, timeout: float = 60) -> Tuple[int, str, str]:
        try:
            proc = subprocess.run(self.command(code), capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, "", f"no answer in {timeout:g} s"
        except FileNotFoundError as exc:
            return 127, "", str(exc)
        return proc.returncode, proc.stdout, proc.stderr

    def popen(self, code: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(code), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def _last(text: str) -> str:
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else ""


def probe(remote: Remote, timeout: float = 60) -> Dict[str, Any]:
    """The node's facts, or {"error": one line with the fix}."""
    t0 = time.time()
    try:
        proc = remote.popen(PROBE)
    except OSError:   # the main node's own interpreter (or ssh) is not there
        return {"error": f"{remote.python if remote.local else 'ssh'} is not there on "
                         f"{remote.node.name}" + (": make the virtual environment at the "
                                                  "same path on every node" if remote.local
                                                  else ": install openssh-client")}
    line, t1 = None, t0
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        for text in proc.stdout:
            if text.startswith("PARC-PROBE "):
                line, t1 = text, time.time()   # stamped as the line arrives: not after
                break                          # the interpreter's own exit
        out_rest, err = proc.communicate()
    finally:
        killer.cancel()
    rc = proc.returncode
    if line is None:
        name = remote.node.name
        if rc == 255 and not remote.local:
            return {"error": f"ssh {remote.target} failed ({_last(err) or 'no reason given'}): "
                             f"give the main node a key on {name} (ssh-copy-id "
                             f"{remote.target}) and check its address"}
        if rc == 127 or "No such file" in err or "not found" in err:
            return {"error": f"{remote.python} is not there on {name}: make the virtual "
                             "environment at the same path on every node "
                             "(docs/pi-cluster.md, step 4)"}
        if rc < 0:
            return {"error": f"the probe got no answer from {name} in {timeout:g} s"}
        return {"error": f"the probe failed on {name} (exit {rc}): "
                         f"{_last(err) or _last(out_rest)}"}
    facts = json.loads(line[len("PARC-PROBE "):])
    # stamped just before the line left the node: only its way back (milliseconds on a
    # switch) separates the two clocks' readings
    facts["offset"] = facts["t"] - t1
    facts["rtt"] = t1 - t0
    return facts


def compare(name: str, facts: Dict[str, Any], main: Dict[str, Any],
            main_name: str) -> Tuple[List[str], List[str]]:
    """(faults, notes) of a node against the main node, each with its fix."""
    faults, notes = [], []
    if "error" in facts:
        return [facts["error"]], notes
    py, mpy = facts["python"].rsplit(".", 1)[0], main.get("python", "").rsplit(".", 1)[0]
    if py != mpy:
        faults.append(f"Python {facts['python']} against {main.get('python')} on {main_name}: "
                      "use the same Python minor version everywhere (pickles and wheels "
                      "must match)")
    if "parc_mpi_error" in facts:
        faults.append(f"parc_mpi is not importable by {facts['exe']} "
                      f"({facts['parc_mpi_error']}): pip install the same parc_mpi there; "
                      "a rank without it leaves every other rank waiting in MPI_Init")
    elif main.get("parc_mpi") and facts.get("parc_mpi") != main.get("parc_mpi"):
        faults.append(f"parc_mpi {facts.get('parc_mpi')} against {main['parc_mpi']} on "
                      f"{main_name}: install the same version")
    if "mpi4py_error" in facts:
        faults.append(f"mpi4py does not load ({facts['mpi4py_error']}): pip install mpi4py "
                      "(and the MPI library) there")
    else:
        if main.get("mpi") and facts.get("mpi") != main.get("mpi"):
            faults.append(f"MPI library '{facts.get('mpi')}' against '{main['mpi']}' on "
                          f"{main_name}: one MPI, one version, on every node (never MPICH "
                          "with Open MPI)")
        if main.get("mpi4py") and facts.get("mpi4py") != main.get("mpi4py"):
            notes.append(f"mpi4py {facts.get('mpi4py')} against {main['mpi4py']}")
    if main.get("prefix") and facts.get("prefix") != main.get("prefix"):
        notes.append(f"its environment is {facts.get('prefix')}, the main node's "
                     f"{main['prefix']}")
    off = facts.get("offset", 0.0)
    if abs(off) > CLOCK_LIMIT:
        faults.append(f"its clock is {abs(off):.0f} s {'ahead of' if off > 0 else 'behind'} "
                      f"{main_name}'s: turn on time sync (sudo timedatectl set-ntp true; "
                      "chrony or systemd-timesyncd)")
    mem = facts.get("mem_available")
    if mem is not None and mem < MEMORY_LOW:
        faults.append(f"only {mem >> 20} MB of memory available: stop what runs there")
    disk = facts.get("disk_free")
    if disk is not None and disk < DISK_LOW:
        notes.append(f"only {disk >> 20} MB free on disk")
    return faults, notes


def tcp_matrix(remotes: Dict[str, Remote], usable: Sequence[str], port: int
               ) -> Dict[str, Dict[str, str]]:
    """{target node: {source node: error ("" when it connected)}}: every usable node
    listens on ``port``, and every usable node connects to every other one."""
    seconds = 20
    listeners = {n: remotes[n].popen(LISTEN.replace("PORT", str(port))
                                     .replace("SECONDS", str(seconds))) for n in usable}
    listening = {}
    for n, proc in listeners.items():
        line = proc.stdout.readline()
        listening[n] = line.strip()
    out: Dict[str, Dict[str, str]] = {n: {} for n in usable}
    results: Dict[str, Dict[str, str]] = {}

    def connect(src: str) -> None:
        targets = [(n, remotes[n].node.address) for n in usable
                   if n != src and listening[n] == "PARC-LISTENING"]
        rc, text, err = remotes[src].run(CONNECT.replace("TARGETS", repr(targets))
                                         .replace("PORT", str(port)), timeout=60)
        line = next((x for x in text.splitlines() if x.startswith("PARC-CONNECT ")), None)
        results[src] = json.loads(line[len("PARC-CONNECT "):]) if line else {
            n: f"the connect probe failed ({_last(err)})" for n, _a in targets}

    threads = [threading.Thread(target=connect, args=(n,)) for n in usable]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proc in listeners.values():
        proc.kill()
        proc.wait()
    for n in usable:
        if listening[n] != "PARC-LISTENING":
            out[n]["*"] = listening[n].replace("PARC-LISTEN-ERROR ", "") or "no listener"
    for src, got in results.items():
        for dst, err in got.items():
            out[dst][src] = err
    return out


def check(nodes: Sequence[Node], python: Optional[str] = None, port: int = 50000,
          say=print) -> int:
    """Check every node; print one line each; return the exit status (0: all fine)."""
    python = python or sys.executable
    main = next((n for n in nodes if n.is_main), nodes[0])
    remotes = {n.name: Remote(n, python, local=n is main) for n in nodes}
    facts: Dict[str, Dict[str, Any]] = {}

    def one(n: Node) -> None:
        facts[n.name] = probe(remotes[n.name])

    threads = [threading.Thread(target=one, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref = facts[main.name]
    if "error" in ref:
        say(f"{main.name}: FAIL {ref['error']}")
        return 1
    say(f"checking {len(nodes)} nodes against {main.name}: Python {ref['python']}, mpi4py "
        f"{ref.get('mpi4py', '-')}, {ref.get('mpi', 'no MPI')}, parc_mpi "
        f"{ref.get('parc_mpi', '-')}, {python}")
    usable = [n.name for n in nodes if "error" not in facts[n.name]]
    tcp = tcp_matrix(remotes, usable, port) if len(usable) > 1 else {}
    status = 0
    for n in nodes:
        f = facts[n.name]
        faults, notes = compare(n.name, f, ref, main.name)
        blocked = tcp.get(n.name, {})
        if "*" in blocked:
            faults.append(f"cannot listen on TCP port {port}: {blocked['*']} (--port another)")
        refused = sorted(src for src, err in blocked.items() if err and src != "*")
        if refused:
            faults.append(f"TCP port {port} unreachable from {', '.join(refused)} "
                          f"({blocked[refused[0]]}): {PORT_HINT}")
        if faults:
            status = 1
            say(f"{n.name}: FAIL " + "; ".join(faults) + (f" (also: {'; '.join(notes)})"
                                                          if notes else ""))
        else:
            extra = f"; note: {'; '.join(notes)}" if notes else ""
            say(f"{n.name}: ok (clock {f['offset']:+.2f} s, {f.get('mem_available', 0) >> 20} "
                f"MB available, TCP {port} reachable){extra}")
    return status
