"""A real multi-host cluster on this machine: every node a network namespace with its
own network stack, host name and home folder, links shaped like a Pi cluster's
(parc_mpi.simcluster). Skipped, with the reason, where namespaces cannot be made."""
import json
import re
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, Done, cli_env, needs_chromium, python_cmd, run_cmd
from docs_blocks import blocks, scratch, write_file
from faults import start, wait_committed
from parc_mpi.mpienv import find_mpiexec
from parc_mpi.nodes import Node, read_node_list
from parc_mpi.simcluster import SimCluster, available, hot_firmware, ssh_available
from parc_mpi.store import RunReader

WHY = available()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(WHY is not None, reason=f"{WHY}")]


def meta_of(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.meta()


ASKPASS = """#!/bin/sh
# what a person types at ssh's questions: yes to a new host key, then pi's password
case "$1" in
  *continue*) echo yes;;
  *) echo raspberry;;
esac
"""


@pytest.mark.skipif(ssh_available() is not None, reason=f"{ssh_available()}")
def test_the_six_pi_parc_box_runs_the_pi_cluster_guide_over_real_ssh(tmp_path):
    """docs "pi-cluster.md", word for word, on the simulated six-Pi box with an OpenSSH
    server on every node: the key set-up (ssh-keygen, ssh-copy-id answering the host-key
    question and the password as a person would, ssh hostname to each), its files, its
    hostfile command, and its first run (an optimization with --ship, the monitor and
    the report) with mpirun launching the 24 ranks over ssh itself."""
    where = scratch(tmp_path / "work")
    env = cli_env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(ASKPASS)
    askpass.chmod(0o755)
    env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force")
    ssh_blocks = []
    host_ssh = sorted(os.listdir(os.path.expanduser("~/.ssh"))) \
        if os.path.isdir(os.path.expanduser("~/.ssh")) else []
    for b in blocks(ROOT / "docs" / "pi-cluster.md"):
        if b.kind == "file":
            write_file(b, where)
        elif b.kind == "run":
            done = subprocess.run(["bash", "-e", "-c", b.text], cwd=where, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (b, done.stdout, done.stderr)
        elif b.kind == "ssh":
            ssh_blocks.append(b)
    assert [b.arg for b in ssh_blocks] == ["node_list.csv"] * 3
    nodes = read_node_list(str(where / "node_list.csv"))
    with SimCluster(nodes, "gigabit", ssh=True) as cluster:
        outs = []
        for b in ssh_blocks:
            proc = subprocess.run(cluster.command(["bash", "-e", "-c", b.text], cwd=str(where)),
                                  env=env, capture_output=True, text=True, timeout=400)
            outs.append(Done(proc, 0))
            assert proc.returncode == 0, (b, outs[-1])
        homes = {n.name: Path(cluster.home(n.name)) for n in cluster.nodes}
        shipped = {name: sorted(p.name for p in (home / ".cache").rglob("shape.py"))
                   for name, home in homes.items()}
        keys = {name: (home / ".ssh" / "authorized_keys").exists() for name, home in homes.items()}
    # the key went to every worker, and "ssh pi@piN.local hostname" answered from each
    assert keys == {f"pi{i}": i > 0 for i in range(6)}
    assert outs[0].stdout.split()[-5:] == [f"pi{i}" for i in range(1, 6)], outs[0]
    # the machine's own ~/.ssh saw none of it: each node had its own
    assert sorted(os.listdir(os.path.expanduser("~/.ssh"))) == host_ssh
    # the pre-flight check passed every node, one line each
    checked = [ln for ln in outs[1].stdout.splitlines() if ln.startswith("pi")]
    assert [ln.split(":")[0] for ln in checked] == [f"pi{i}" for i in range(6)], outs[1]
    assert all(": ok (clock " in ln and "TCP 50000 reachable" in ln for ln in checked), outs[1]
    done = outs[2]
    run_dir = where / "runs" / "first"
    assert done.returncode == 0, done
    assert "finished: 60 ok, 0 failed of 60 tasks" in done.stdout, done
    # every node unpacked the shipped project in its own ~/.cache
    assert all(shipped[n] == ["shape.py"] for n in homes), shipped
    meta = meta_of(run_dir)
    assert meta["ranks"] == 24 and meta["nodes"] == [f"pi{i}" for i in range(6)]
    hosts = meta["rank_nodes"]
    assert hosts["0"] == hosts["1"] == "pi0" and sum(h == "pi3" for h in hosts.values()) == 4
    db = RunReader(str(run_dir))
    workers_on = set(db.columns(["node"])["node"])
    assert len(workers_on) >= 4, workers_on
    # the netbench went over the shaped links: 940 Mbit/s is at most 117.5 MB/s
    rates = {}
    for f in db.netbench():
        if "same node" not in f.node and f.kind in ("upload", "download"):
            rates[f.node, f.kind] = max(rates.get((f.node, f.kind), 0.0), f.mbps)
    assert {n for n, _k in rates} == {f"pi{i}" for i in range(1, 6)}
    assert all(60 < r < 120 for r in rates.values()), rates
    nodes_seen = {s.node for s in db.samples()}
    assert nodes_seen == {f"pi{i}" for i in range(6)}
    page = (run_dir / "report.html").read_text()
    assert all(f"<td>pi{i}" in page for i in range(6)) and "<td>pi0 <span class='muted'>(main)</span>" in page


SLOW = """
import time, parc_mpi
def f(x):
    time.sleep(0.1)
    return x * 3
job = parc_mpi.map(f, range(150))
"""


def three_nodes(tmp_path):
    """n0 (main, 3 cores), n1 and n2 (2 each): the node list and its MPICH hostfile."""
    from conftest import node_list_and_hostfile
    return node_list_and_hostfile(tmp_path, "name,address,role,cores\nn0,n0,main,3\n"
                                            "n1,n1,worker,2\nn2,n2,worker,2\n")


def run_on_three_nodes(tmp_path, hostfile, job, run_dir, *args, env=None, **box):
    """``parc_mpi.run JOB`` on the three-node box (7 ranks), built with ``box``'s
    options (links=, cpu=, ...); the finished process, checked to have exited 0."""
    nodes_csv = tmp_path / "node_list.csv"
    with SimCluster(read_node_list(str(nodes_csv)), "gigabit", **box) as cluster:
        proc = subprocess.run(cluster.command(
            [find_mpiexec(), "-f", str(hostfile), "-n", "7", sys.executable, "-m",
             "parc_mpi.run", str(job), "--run-dir", str(run_dir), *args], cwd=str(tmp_path)),
            env=env or cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, Done(proc, 0)
    return proc


def test_a_worker_node_whose_cable_is_pulled_is_lost_and_the_run_completes(tmp_path):
    """The cable stays out: rank 0 finishes with the other nodes, and the job ends
    (MPI_Abort after everything is saved) instead of mpiexec waiting for the lost
    node's processes for ever."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(SLOW)
    run_dir = tmp_path / "run"
    with SimCluster(read_node_list(str(nodes_csv)), "gigabit") as cluster:
        proc = start(cluster.command([find_mpiexec(), "-disable-auto-cleanup", "-f",
                                      str(hostfile), "-n", "7", sys.executable, "-m",
                                      "parc_mpi.run", str(job), "--run-dir", str(run_dir),
                                      "--heartbeat-timeout", "3", "--netbench", "off"]))
        try:
            assert wait_committed(run_dir, 20, proc, timeout=120) >= 20
            cluster.cut("n2")
            cut_at = time.time()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "finished: 150 ok, 0 failed of 150 tasks" in out, (out, err)
    assert "ending the job with MPI_Abort" in err, err
    with RunReader(str(run_dir)) as reader:
        ok = sorted(r.task for r in reader.results(status="ok"))
    assert ok == list(range(150))
    lost = meta_of(run_dir)["summary"]["lost_workers"]
    assert {v["node"] for v in lost.values()} == {"n2"} and len(lost) == 2, lost
    assert max(v["at"] for v in lost.values()) - cut_at <= 3 + 5
    assert "n2" in (run_dir / "report.html").read_text()
    verdict = meta_of(run_dir)["verdict"]   # what limited it: the node that was lost
    assert verdict["limit"] == "lost node", verdict["text"]
    assert verdict["text"].startswith("a lost node: n2 stopped answering")
    lines = out.splitlines()   # said after the summary line; the farewell lines stay last
    said = [i for i, ln in enumerate(lines) if ln.startswith("[parc_mpi] what limited it:")]
    farewell = [i for i, ln in enumerate(lines) if ln.startswith("[parc_mpi] lost worker")]
    assert said and farewell and said[0] < min(farewell), out


def test_the_simcluster_command_runs_a_command_on_the_main_node_and_tears_down(tmp_path):
    nodes_csv = tmp_path / "node_list.csv"
    nodes_csv.write_text("name,address,role,cores\nhead,head,main,2\nw1,w1,worker,2\n")
    done = run_cmd(python_cmd("-m", "parc_mpi.simcluster", "run", nodes_csv, "--profile",
                              "wifi", "--", "sh", "-c", "hostname; getent hosts w1"))
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    tag = lines[0].split(" as namespaces ")[1].split("-*")[0]
    # w1 resolves by its name and by its mDNS name, as on a Pi's LAN
    assert "(wifi)" in lines[0] and lines[1] == "head" and \
        lines[2].split()[1:] == ["w1", "w1.local"], lines
    assert tag not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                     text=True).stdout


STEADY = """
import time, parc_mpi
def f(x):
    time.sleep(0.2)
    return x * x
job = parc_mpi.map(f, range(20000), name="steady")
"""


def _line_with(proc, text, timeout):
    """Read the command's stdout until a line holds ``text``; that line."""
    box = []

    def read():
        for line in proc.stdout:
            box.append(line)
            if text in line:
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    hit = [x for x in box if text in x]
    assert hit, ("".join(box), proc.poll())
    return hit[0], box


@needs_chromium
def test_a_laptop_on_the_router_watches_the_six_pi_box_and_stops_it(tmp_path):
    """The box as its owner uses it: 24 ranks on six simulated Pis with --serve; a
    seventh namespace plays the laptop on the router and runs headless Chromium,
    which loads the dashboard by the main node's name, sees progress advance and one
    row per node, shows the kiosk view, and stops the run with the token through the
    page's button. Every rank exits 0 and every finished task is stored once."""
    box, hostfile = six_pi_box(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(STEADY)
    run_dir = tmp_path / "run"
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    laptop = Node("laptop", "laptop", "worker", 1)  # on the switch, in no hostfile
    with SimCluster(box + [laptop], "gigabit") as cluster:
        proc = start(cluster.command([find_mpiexec(), "-f", str(hostfile), "-n", "24",
                                      sys.executable, "-m", "parc_mpi.run", str(job),
                                      "--run-dir", str(run_dir), "--serve", "8080"]))
        try:
            line, _seen = _line_with(proc, "dashboard: http://", 120)
            url, token = line.split()[2], line.split()[-1].rstrip(")")
            assert url == "http://pi0:8080/", line
            url = "http://pi0.local:8080/"   # the name the Pi guide's node list uses
            overview = url + "#/run/run/overview"
            done_js = "+(document.getElementById('progress') || {dataset: {}}).dataset.done || 0"
            steps = [
                {"open": overview}, {"wait": done_js, "timeout": 150}, {"sleep": 4},
                {"eval": done_js}, {"shot": str(shots / "simbox-overview.png")},
                {"open": url + "#/run/run/nodes"},
                {"wait": "document.querySelectorAll('main table.nodes tr').length === 7 && "
                         "[...document.querySelectorAll('main table.nodes tr td:first-child')]"
                         ".map(e => e.textContent)", "timeout": 60},
                {"wait": "document.querySelectorAll('#stream rect').length > 0 && "
                         "document.querySelectorAll('#throughput path').length", "timeout": 60},
                {"eval": "document.querySelectorAll('#stream text.lane').length"},
                {"shot": str(shots / "simbox-nodes.png")},
                {"open": url + "#/run/run/results?sort=result&order=desc"},
                {"wait": "document.querySelectorAll('main table tr').length > 10 && "
                         "[...document.querySelectorAll('main table tr')].slice(1).map("
                         "tr => +tr.children[3].title || +tr.children[3].textContent)",
                 "timeout": 60},
                {"shot": str(shots / "simbox-results.png")},
                {"open": url + "#/run/run/results?view=plots"},
                {"wait": "document.querySelectorAll('#scatter circle').length", "timeout": 60},
                {"eval": "[...document.querySelectorAll('svg.hist')].map(s => [...s.querySelectorAll("
                         "'rect[data-count]')].reduce((a, r) => a + +r.dataset.count, 0))"},
                {"shot": str(shots / "simbox-plots.png")},
                {"size": [800, 480]}, {"open": url + "?view=kiosk"},
                {"wait": "document.querySelectorAll('.tile').length"},
                {"eval": "[...document.querySelectorAll('.tile .t')].map(e => e.textContent)"},
                {"shot": str(shots / "simbox-kiosk.png")},
                {"size": [1280, 900]}, {"open": overview},
                {"wait": "document.querySelector('button.stop') !== null"},
                {"eval": f"window.prompt = () => {token!r}; "
                         "document.querySelector('button.stop').click(); true"},
                {"wait": "document.querySelector('main').innerText.includes('stop requested')",
                 "timeout": 30},
            ]
            (tmp_path / "steps.json").write_text(json.dumps(steps))
            browse = subprocess.run(
                ["ip", "netns", "exec", cluster.ns["laptop"], sys.executable,
                 str(ROOT / "tests" / "browser.py"), str(tmp_path / "steps.json")],
                capture_output=True, text=True, timeout=400)
            assert browse.returncode == 0, browse.stderr[-3000:]
            got = json.loads(browse.stdout)
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
    first, later, names = got[1], got[3], got[6]
    assert 0 < first < later, got  # progress advanced while the laptop watched
    assert names == [f"pi{i}" for i in range(6)], names
    squares = got[11]     # the table sorted by the result, largest first
    assert squares == sorted(squares, reverse=True) and squares[0] > 0, squares
    assert got[14] > 0    # the plots: x squared against x ...
    assert len(got[15]) == 1 and got[15][0] >= got[14]   # ... and every task's histogram
    assert got[19] == 6   # one kiosk tile per node
    assert all("n/a" not in t and t for t in got[20]), got[20]  # load, with no sensor
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-3000:]}\n{err[-6000:]}"
    assert "soft stop from the dashboard" in (run_dir / "STOP").read_text()
    meta = meta_of(run_dir)
    assert meta["status"] == "stopped"
    assert meta["summary"]["stopped"] == "the dashboard's soft stop"
    assert got[8] == meta["workers"]   # the task stream: a lane per worker
    with RunReader(str(run_dir)) as reader:
        tasks = reader.columns(("task", "status"))
    assert len(tasks["task"]) == len(set(tasks["task"])) == meta["summary"]["tasks"]
    assert later <= meta["summary"]["tasks"] < 20000
    assert set(tasks["status"]) == {"ok"}


BOX_OPT = """
import time, parc_mpi
from parc_mpi import Real
def f(x, y):
    time.sleep(0.25)
    return (x - 1) ** 2 + (y + 0.5) ** 2
job = parc_mpi.optimize(f, {"x": Real(-3, 3), "y": Real(-3, 3)}, budget=240, goal="min",
                        optimizer="random", seed=11)
"""


def six_pi_box(tmp_path):
    """The PaRC box's node list and MPICH hostfile: pi0 (main) .. pi5, 4 cores each."""
    nodes_csv = tmp_path / "node_list.csv"
    nodes_csv.write_text("name,address,role,cores\n" + "".join(
        f"pi{i},pi{i},{'main' if i == 0 else 'worker'},4\n" for i in range(6)))
    hostfile = tmp_path / "hostfile"
    assert run_cmd(python_cmd("-m", "parc_mpi.hostfile", nodes_csv, "-o", hostfile,
                              "--format", "mpich")).returncode == 0
    return read_node_list(str(nodes_csv)), hostfile


def tasks_nodes(run_dir):
    with RunReader(str(run_dir)) as reader:
        return set(reader.columns(("node",))["node"])


def _cut_when(phase, run_dir, proc, cluster, node, timeout=300):
    """Pull ``node``'s cable at ``phase``: 'work' (after 60 results), 'netbench' (while
    the start-up benchmark measures the nodes), 'report' (once the last result is
    in, while rank 0 writes results.csv and the report). Returns what was read of
    the command's stdout meanwhile."""
    seen = []
    if phase == "work":
        assert wait_committed(run_dir, 60, proc, timeout=timeout) >= 60
    elif phase == "netbench":
        # rank 0 says so as the benchmark starts, once every rank is up (a cable pulled
        # before that is start-up's watch: test_stops.py)
        _line, seen = _line_with(proc, "network benchmark", timeout)
        time.sleep(0.5)  # the benchmark has reached the first worker nodes
    else:
        assert wait_committed(run_dir, 240, proc, timeout=timeout) >= 240
    assert proc.poll() is None, "the run ended before the cable was pulled"
    cluster.cut(node)
    return "".join(seen)


@pytest.mark.parametrize("phase", ["work", "netbench", "report"])
def test_on_the_six_pi_box_a_pulled_cable_ends_the_command_with_the_runs_status(tmp_path, phase):
    """Issue 19: 24 ranks, -disable-auto-cleanup, an optimization of 240 x 0.25 s; pi3's
    cable is pulled and left out. The command exits 0 (the run's own status), every
    evaluation is stored once, and the last line the user reads is parc_mpi's, naming
    the lost node and the run directory, not the launcher's internals."""
    nodes, hostfile = six_pi_box(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(BOX_OPT)
    run_dir = tmp_path / "run"
    with SimCluster(nodes, "gigabit") as cluster:
        proc = start(cluster.command([find_mpiexec(), "-disable-auto-cleanup", "-f",
                                      str(hostfile), "-n", "24", sys.executable, "-m",
                                      "parc_mpi.run", str(job), "--run-dir", str(run_dir),
                                      "--heartbeat-timeout", "10"]))
        try:
            seen = _cut_when(phase, run_dir, proc, cluster, "pi3")
            out, err = proc.communicate(timeout=300)
            out = seen + out
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, (proc.returncode, out[-2000:], err[-3000:])
    meta = meta_of(run_dir)
    assert meta["status"] == "finished", meta["status"]
    with RunReader(str(run_dir)) as reader:
        tasks = reader.columns(("task", "status"))
    assert sorted(tasks["task"]) == list(range(240)) and set(tasks["status"]) == {"ok"}
    lost = meta["summary"].get("lost_workers") or {}
    assert {v["node"] for v in lost.values()} == {"pi3"}, lost
    if phase == "netbench":   # lost before the first task: none ran there
        assert "stopped answering during the network benchmark" in out, out[-2000:]
        assert not {n for n in tasks_nodes(run_dir)} & {"pi3"}
    if phase == "report":     # found gone by the roll call after the report
        assert all(v.get("after_last_result") for v in lost.values()), lost
        assert "stopped answering after the last result" in err, err[-2000:]
    last = [x for x in err.strip().splitlines() if x.strip()][-1] if err.strip() else ""
    assert "pmiserv" not in err and "assert" not in err and "HYD_" not in err, err[-3000:]
    if lost:
        assert last.startswith("[parc_mpi] finished with lost node pi3"), err[-3000:]
        assert str(run_dir) in last


OPEN_MPI = "/usr/bin/mpirun"    # Debian's openmpi-bin, beside the MPICH the suite runs on
OMPI_ENV = {"MPI4PY_MPIABI": "openmpi",            # mpi4py's wheel: use Open MPI's libmpi
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def open_mpi_missing():
    why = ssh_available()
    if why:
        return why
    from parc_mpi.mpienv import detect_flavour
    if not os.path.exists(OPEN_MPI) or detect_flavour(OPEN_MPI) != "openmpi":
        return "Debian's openmpi-bin is not installed"
    env = {**cli_env(), **OMPI_ENV}
    probe = subprocess.run([OPEN_MPI, "-n", "1", sys.executable, "-c",
                            "from mpi4py import MPI; print(MPI.Get_library_version())"],
                           env=env, capture_output=True, text=True, timeout=60)
    if "Open MPI" not in probe.stdout:
        return f"mpi4py does not load Open MPI here: {probe.stderr.strip()[-200:]}"
    return None


OMPI_MAP = """
import time, parc_mpi
def f(x):
    time.sleep(0.01)
    return {"square": x * x}
job = parc_mpi.map(f, range(300))
"""

OMPI_OPT = """
import time, parc_mpi
from parc_mpi import Real
def f(x, y):
    time.sleep(0.02)
    return (x - 1) ** 2 + (y + 0.5) ** 2
job = parc_mpi.optimize(f, {"x": Real(-3, 3), "y": Real(-3, 3)}, budget=60, goal="min", seed=2)
"""


@pytest.mark.skipif(open_mpi_missing() is not None, reason=f"{open_mpi_missing()}")
def test_the_six_node_box_with_open_mpi_over_real_ssh(tmp_path):
    """Debian's Open MPI (mpirun's ssh launcher, orted on every node) runs the six-node
    box: a map job and an optimization, 24 ranks each, with the monitor, the network
    benchmark over the shaped links and the report."""
    (tmp_path / "map_job.py").write_text(OMPI_MAP)
    (tmp_path / "opt_job.py").write_text(OMPI_OPT)
    (tmp_path / "node_list.csv").write_text(
        "name,address,role,cores,user\n" + "".join(
            f"pi{i},pi{i}.local,{'main' if i == 0 else 'worker'},4,pi\n" for i in range(6)))
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(ASKPASS)
    askpass.chmod(0o755)
    env = {**cli_env(), **OMPI_ENV, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    script = f"""
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
for n in pi1 pi2 pi3 pi4 pi5; do ssh-copy-id -i ~/.ssh/id_ed25519.pub pi@$n.local; done
python -m parc_mpi.hostfile node_list.csv -o hostfile --format openmpi
{OPEN_MPI} -x MPI4PY_MPIABI -hostfile hostfile -n 24 {sys.executable} -m parc_mpi.run map_job.py --run-dir runs/map -q
{OPEN_MPI} -x MPI4PY_MPIABI -hostfile hostfile -n 24 {sys.executable} -m parc_mpi.run opt_job.py --run-dir runs/opt -q
"""
    with SimCluster(read_node_list(str(tmp_path / "node_list.csv")), "gigabit",
                    ssh=True) as cluster:
        proc = subprocess.run(cluster.command(["bash", "-e", "-c", script], cwd=str(tmp_path)),
                              env=env, capture_output=True, text=True, timeout=400)
    done = Done(proc, 0)
    assert done.returncode == 0, done
    assert "finished: 300 ok, 0 failed of 300 tasks" in done.stdout, done
    assert "finished: 60 ok, 0 failed of 60 tasks" in done.stdout, done
    for name in ("map", "opt"):
        run_dir = tmp_path / "runs" / name
        meta = meta_of(run_dir)
        assert meta["mpi"].startswith("Open MPI"), meta["mpi"]
        assert meta["ranks"] == 24 and meta["nodes"] == [f"pi{i}" for i in range(6)]
        db = RunReader(str(run_dir))
        assert len(set(db.columns(["node"])["node"])) >= 4
        assert {s.node for s in db.samples()} == {f"pi{i}" for i in range(6)}
        assert (run_dir / "report.html").exists()
    rates = [f.mbps for f in RunReader(str(tmp_path / "runs" / "map")).netbench()
             if f.kind in ("upload", "download") and "same node" not in f.node and f.mbps]
    assert rates and all(40 < r < 120 for r in rates), rates
    best = json.loads((tmp_path / "runs" / "opt" / "best.json").read_text())
    assert best["evaluations"] == 60 and best["value"] < 0.5


def three_node_ssh_box(tmp_path, extra_env):
    """A job (SLOW), a three-node list and the askpass answers in ``tmp_path``; the
    environment to run the box's commands with."""
    (tmp_path / "job.py").write_text(SLOW)
    (tmp_path / "node_list.csv").write_text(
        "name,address,role,cores\npi0,pi0.local,main,3\npi1,pi1.local,worker,2\n"
        "pi2,pi2.local,worker,2\n")
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(ASKPASS)
    askpass.chmod(0o755)
    env = {**cli_env(), **extra_env, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


OMPI_KEEPALIVE = ["--mca", "oob_tcp_keepalive_time", "5", "--mca", "oob_tcp_keepalive_intvl", "2",
                  "--mca", "oob_tcp_keepalive_probes", "3"]


@pytest.mark.skipif(open_mpi_missing() is not None, reason=f"{open_mpi_missing()}")
def test_with_open_mpi_a_pulled_cable_ends_the_job_and_resume_finishes_it(tmp_path):
    """Open MPI 4.1 does not survive a node's loss: with its daemons' keepalive
    shortened (docs/reliability.md), mpirun notices the silent daemon about ten seconds
    after the cable goes and ends the whole job with a non-zero status and 'ORTE has
    lost communication with a remote daemon'. Every result committed before is in the
    store once, and --resume finishes the run."""
    env = three_node_ssh_box(tmp_path, OMPI_ENV)
    run_dir = tmp_path / "runs" / "cut"
    script = f"""
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
for n in pi1 pi2; do ssh-copy-id -i ~/.ssh/id_ed25519.pub pi@$n.local >/dev/null 2>&1; done
python -m parc_mpi.hostfile node_list.csv -o hostfile --format openmpi
exec {OPEN_MPI} -x MPI4PY_MPIABI {' '.join(OMPI_KEEPALIVE)} -hostfile hostfile -n 7 \\
    {sys.executable} -m parc_mpi.run job.py --run-dir {run_dir} --heartbeat-timeout 10 --netbench off
"""
    with SimCluster(read_node_list(str(tmp_path / "node_list.csv")), "gigabit",
                    ssh=True) as cluster:
        proc = start(cluster.command(["bash", "-e", "-c", script], cwd=str(tmp_path)), env=env)
        assert wait_committed(run_dir, 30, timeout=60), "the run did not start"
        cluster.cut("pi2")
        t_cut = time.monotonic()
        try:
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            cluster.down()   # every process of every node, mpirun included
            out, err = proc.communicate()
            pytest.fail(f"mpirun still waiting 90 s after the cable was pulled:\n{err[-2000:]}")
        waited = time.monotonic() - t_cut
    assert proc.returncode != 0 and waited < 60, (proc.returncode, waited)
    assert "ORTE has lost communication with a remote daemon" in err, err[-2000:]
    with RunReader(str(run_dir)) as db:
        tasks = db.columns(["task"])["task"]
    assert len(tasks) == len(set(tasks)) >= 30, "results lost or stored twice"
    resumed = run_cmd(python_cmd("-m", "parc_mpi.run", tmp_path / "job.py", "--resume", run_dir,
                                 "-q", "--no-monitor"), timeout=120)
    assert resumed.returncode == 0, resumed
    with RunReader(str(run_dir)) as db:
        tasks = db.columns(["task"])["task"]
        assert meta_of(run_dir)["status"] == "finished"
    assert sorted(tasks) == list(range(150))


@pytest.mark.skipif(ssh_available() is not None, reason=f"{ssh_available()}")
def test_a_node_without_the_virtual_environment_is_named_by_the_launcher(tmp_path):
    """The venv is missing on one node (an empty folder at its path): MPICH's launcher
    names the node and the path at once (docs/troubleshooting.md quotes the line); it
    then waits in MPI start-up, below parc_mpi, until stopped."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True)
    env = three_node_ssh_box(tmp_path, {})
    script = f"""
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
for n in pi1 pi2; do ssh-copy-id -i ~/.ssh/id_ed25519.pub pi@$n.local >/dev/null 2>&1; done
python -m parc_mpi.hostfile node_list.csv -o hostfile --format mpich >/dev/null
exec timeout 25 mpiexec -f hostfile -n 7 {venv}/bin/python -m parc_mpi.run job.py -q
"""
    with SimCluster(read_node_list(str(tmp_path / "node_list.csv")), "gigabit", ssh=True,
                    hide={"pi2": [str(venv)]}) as cluster:
        proc = subprocess.run(cluster.command(["bash", "-e", "-c", script], cwd=str(tmp_path)),
                              env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert ("[proxy:2@pi2] HYDU_create_process" in proc.stderr and
            f"execvp error on file {venv}/bin/python (No such file or directory)" in proc.stderr), \
        proc.stderr[-2000:]


def test_a_laptop_with_eight_cores_as_the_main_node_of_pi_workers(tmp_path):
    """The original design's other shape: the main node is a laptop (8 cores, not a
    Pi), the workers are Pis. The hostfile gives the laptop its 8 slots first, rank 0
    and the monitor run there beside six workers, the Pis take the rest, and the report
    names the laptop as the main node."""
    nodes_csv = tmp_path / "node_list.csv"
    nodes_csv.write_text("name,address,role,cores\nlaptop,laptop,main,8\n"
                         "pi1,pi1.local,worker,4\npi2,pi2.local,worker,4\n")
    hostfile = tmp_path / "hostfile"
    made = run_cmd(python_cmd("-m", "parc_mpi.hostfile", nodes_csv, "-o", hostfile,
                              "--format", "mpich"))
    assert made.returncode == 0, made
    lines = [ln for ln in hostfile.read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == ["laptop:8", "pi1.local:4", "pi2.local:4"]
    job = tmp_path / "job.py"
    job.write_text(SLOW.replace("range(150)", "range(120)"))
    run_dir = tmp_path / "run"
    with SimCluster(read_node_list(str(nodes_csv)), "gigabit") as cluster:
        proc = subprocess.run(cluster.command(
            [find_mpiexec(), "-f", str(hostfile), "-n", "16", sys.executable, "-m",
             "parc_mpi.run", str(job), "--run-dir", str(run_dir), "-q", "--netbench", "quick"],
            cwd=str(tmp_path)), env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, Done(proc, 0)
    meta = meta_of(run_dir)
    hosts = meta["rank_nodes"]
    assert [hosts[str(r)] for r in range(8)] == ["laptop"] * 8
    assert sorted(hosts[str(r)] for r in range(8, 16)) == ["pi1"] * 4 + ["pi2"] * 4
    with RunReader(str(run_dir)) as db:
        ran_on = set(db.columns(["node"])["node"])
    assert ran_on == {"laptop", "pi1", "pi2"}       # the laptop's six workers worked too
    page = (run_dir / "report.html").read_text()
    assert "<td>laptop <span class='muted'>(main)</span></td>" in page
    assert "<td>pi1</td>" in page and page.count("(main)") == 1


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.skipif(ssh_available() is not None or not os.path.exists(FAKETIME),
                    reason=f"{ssh_available() or 'libfaketime (Debian faketime) is not installed'}")
def test_a_node_whose_clock_is_five_minutes_ahead_keeps_the_timeline_right(tmp_path):
    """pi2's clock runs 300 s ahead (libfaketime in its ssh sessions, as a Pi booted
    without a time server): rank 0 measures it at start-up, says so, and every time
    from pi2 (task starts and ends, health samples, last seen) lands inside the run;
    the report says pi2's clock was off."""
    env = three_node_ssh_box(tmp_path, {})
    run_dir = tmp_path / "run"
    script = f"""
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
for n in pi1 pi2; do ssh-copy-id -i ~/.ssh/id_ed25519.pub pi@$n.local >/dev/null 2>&1; done
python -m parc_mpi.hostfile node_list.csv -o hostfile --format mpich >/dev/null
mpiexec -f hostfile -n 7 python -m parc_mpi.run job.py --run-dir {run_dir} --netbench off
"""
    fake = {"pi2": {"LD_PRELOAD": FAKETIME, "FAKETIME": "+300"}}
    with SimCluster(read_node_list(str(tmp_path / "node_list.csv")), "gigabit", ssh=True,
                    env=fake) as cluster:
        proc = subprocess.run(cluster.command(["bash", "-e", "-c", script], cwd=str(tmp_path)),
                              env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, Done(proc, 0)
    assert "[parc_mpi] clocks: pi2 +300." in proc.stdout, proc.stdout
    meta = meta_of(run_dir)
    assert 299 < meta["clock_offsets"]["pi2"] < 301 and abs(meta["clock_offsets"]["pi1"]) < 0.25
    lo, hi = meta["started"] - 5, meta["finished"] + 5
    with RunReader(str(run_dir)) as db:
        rows = db.results()
        samples = [s for s in db.samples() if s.node == "pi2"]
        pi2 = db.nodes()["pi2"]
    on_pi2 = [r for r in rows if r.node == "pi2"]
    assert on_pi2 and all(lo < r.t_start <= r.t_end < hi for r in on_pi2)
    assert samples and all(lo < s.t < hi for s in samples)
    assert lo < pi2.last_seen < hi
    page = (run_dir / "report.html").read_text()
    assert "pi2: its clock was 300 s ahead of the main node&#x27;s" in page or \
        "pi2: its clock was 300 s ahead of the main node's" in page


def test_a_wifi_node_on_a_wired_box_is_named_by_the_report(tmp_path):
    """One node on a 50 Mbit/s link beside gigabit ones: the network benchmark measures
    it and the report's alerts name it as the slow path (troubleshooting.md quotes it)."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(SLOW.replace("range(150)", "range(40)"))
    run_dir = tmp_path / "run"
    run_on_three_nodes(tmp_path, hostfile, job, run_dir, "-q", links={"n2": "wifi"})
    with RunReader(str(run_dir)) as db:
        best = {}
        for f in db.netbench():
            if f.kind == "upload" and f.mbps and "same node" not in f.node:
                best[f.node] = max(best.get(f.node, 0.0), f.mbps)
    assert best["n2"] < 7 < 60 < best["n1"], best
    page = (run_dir / "report.html").read_text()
    alerts = re.findall(r"<li class='l\d'>([^<]*)</li>", page)
    assert [a for a in alerts if a.startswith("n2: ") and "MB/s on a" in a], alerts
    assert not [a for a in alerts if a.startswith("n1: ") and "MB/s" in a], alerts


QUICK_JOB = """
import parc_mpi
job = parc_mpi.map(abs, range(-30, 30))
"""


def test_network_figures_are_measured_once_kept_and_measured_again_when_the_cluster_changes(
        tmp_path):
    """Three nodes on gigabit: the first run measures (quick) and keeps the figures; the
    second reuses them after a spot check (same figures in its store, with their age,
    and a start-up without the benchmark); n2 moves to a 50 Mbit/s link (Wi-Fi):
    measured again, naming n2; two of the three nodes are another cluster: measured
    for it."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    small = tmp_path / "hostfile-2"
    small.write_text("n0:3\nn1:2\n")
    job = tmp_path / "job.py"
    job.write_text(QUICK_JOB)

    def run(name, hosts=hostfile, ranks=7):
        run_dir = tmp_path / name
        done = run_cmd(box.command([find_mpiexec(), "-f", str(hosts), "-n", str(ranks),
                                    sys.executable, "-m", "parc_mpi.run", str(job),
                                    "--run-dir", str(run_dir)]), timeout=300)
        assert done.returncode == 0, done
        with RunReader(str(run_dir)) as db:
            meta, figures = db.meta(), db.netbench()
        steps = meta["startup"]   # rank 0's start-up step by step, adding up to the whole
        assert abs(sum(steps.values()) -
                   meta["phases"]["start-up (process start to first task)"]) < 0.01, meta
        return (done, meta["netbench"], figures,
                meta["phases"]["start-up (process start to first task)"], steps)

    with SimCluster(read_node_list(str(nodes_csv)), "gigabit") as box:
        done, nb, figures1, startup1, steps1 = run("first")
        assert "network benchmark (quick) to 3 peer(s) before work starts: no figures kept " \
               "for this cluster yet; kept for later runs" in done.stdout, done
        assert nb["source"] == "measured" and nb["file"], nb
        done, nb, figures2, startup2, steps2 = run("second")
        assert "network figures kept from" in done.stdout, done
        assert "network benchmark" not in done.stdout
        assert nb["source"] == "kept" and nb["age_seconds"] > 0, nb
        assert figures2 == figures1        # the run's own copy of what it used
        assert startup2 < startup1 - 2.0, (startup1, startup2)
        bench = "network benchmark or its check"   # the step that got shorter
        assert steps2[bench] < steps1[bench] - 2.0 and steps2[bench] < 1.0, (steps1, steps2)
        page = (tmp_path / "second" / "report.html").read_text()
        assert re.search(r"Measured \d+ s before this run \(quick\) and kept for this cluster; "
                         r"reused after a check of each link(?:'|&#x27;)s latency and rate at start-up \(n1 \d+ "
                         r"µs, \d+ MB/s, n2 \d+ µs, \d+ MB/s\)", page)
        box.shape("n2", "50mbit")
        done, nb, figures3, _s, _steps = run("slower")
        assert re.search(r"network benchmark \(quick\) to 3 peer\(s\) before work starts: "
                         r"n2's upload is [\d.]+ MB/s against [\d.]+ MB/s kept: its link "
                         r"changed", done.stdout), done
        assert nb["source"] == "measured"
        up = {f.node: f.mbps for f in figures3 if f.kind == "upload" and f.size == 1 << 20}
        assert up["n2"] < 6.25 < up["n1"] / 3, up   # 50 Mbit/s is 6.25 MB/s
        box.shape("n2")
        done, nb, _f, _s, _steps = run("two-nodes", small, 5)
        assert "no figures kept for this cluster yet" in done.stdout, done


@pytest.mark.skipif(ssh_available() is not None or not os.path.exists(FAKETIME),
                    reason=f"{ssh_available() or 'libfaketime (Debian faketime) is not installed'}")
def test_the_pre_flight_check_names_each_fault_in_one_line(tmp_path):
    """Six nodes over real ssh, four of them with a fault each: pi2 cannot import
    parc_mpi (its folder hidden), pi3's mpi4py loads Open MPI's library instead of
    MPICH's, pi4's clock runs 300 s ahead, and pi5's firewall (an nftables rule) drops
    the test port. `hostfile --check` prints one line per node naming the fault and its
    fix, passes pi0 and pi1, and exits 1."""
    import shutil
    import parc_mpi
    if not shutil.which("nft"):
        pytest.skip("nftables is not installed (.ci/run installs it)")
    other_mpi = open_mpi_missing() is None
    env = three_node_ssh_box(tmp_path, {})   # (and its node list, replaced here)
    (tmp_path / "node_list.csv").write_text("name,address,role,cores,user\n" + "".join(
        f"pi{i},pi{i}.local,{'main' if i == 0 else 'worker'},2,pi\n" for i in range(6)))
    script = f"""
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
for n in pi1 pi2 pi3 pi4 pi5; do ssh-copy-id -i ~/.ssh/id_ed25519.pub pi@$n.local >/dev/null 2>&1; done
python -m parc_mpi.hostfile node_list.csv --check
"""
    node_env = {"pi4": {"LD_PRELOAD": FAKETIME, "FAKETIME": "+300"}}
    if other_mpi:
        node_env["pi3"] = {"MPI4PY_MPIABI": "openmpi"}
    with SimCluster(read_node_list(str(tmp_path / "node_list.csv")), "gigabit", ssh=True,
                    env=node_env, hide={"pi2": [os.path.dirname(parc_mpi.__file__)]}) as cluster:
        ns = cluster.ns["pi5"]
        for rule in (["add", "table", "inet", "fw"],
                     ["add", "chain", "inet", "fw", "in", "{ type filter hook input priority 0; }"],
                     ["add", "rule", "inet", "fw", "in", "tcp", "dport", "50000", "drop"]):
            subprocess.run(["ip", "netns", "exec", ns, "nft", *rule], check=True)
        t0 = time.monotonic()
        proc = subprocess.run(cluster.command(["bash", "-e", "-c", script], cwd=str(tmp_path)),
                              env=env, capture_output=True, text=True, timeout=200)
        took = time.monotonic() - t0
    lines = {ln.split(":")[0]: ln for ln in proc.stdout.splitlines() if ln.startswith("pi")}
    assert proc.returncode == 1, Done(proc, took)
    assert sorted(lines) == [f"pi{i}" for i in range(6)], proc.stdout
    assert re.match(r"pi0: ok \(clock [+-]0\.0\d s, \d+ MB available, TCP 50000 reachable\)",
                    lines["pi0"]) and lines["pi1"].startswith("pi1: ok (clock "), proc.stdout
    assert lines["pi2"].startswith("pi2: FAIL parc_mpi is not importable by ") and \
        "pip install the same parc_mpi there" in lines["pi2"], lines["pi2"]
    if other_mpi:
        assert re.match(r"pi3: FAIL MPI library 'Open MPI v[\d.]+' against 'MPICH Version: "
                        r"[\d.]+' on pi0: one MPI", lines["pi3"]), lines["pi3"]
    assert re.match(r"pi4: FAIL its clock is 30\d s ahead of pi0's: turn on time sync",
                    lines["pi4"]), lines["pi4"]
    assert re.match(r"pi5: FAIL TCP port 50000 unreachable from pi0, pi1, pi2, pi3, pi4 "
                    r"\(timed out\): let the nodes' subnet through the firewall, or pin",
                    lines["pi5"]), lines["pi5"]
    assert all("FAIL" not in lines[n] for n in ("pi0", "pi1"))
    assert took < 120, took


BUSY = """
import time, parc_mpi
def f(x):
    t = time.process_time()
    while time.process_time() - t < 0.02:   # 20 ms of CPU, however long that takes,
        pass
    time.sleep(0.08)                        # and 80 ms of waiting: five workers need one
    return x                                # of this machine's two cores, as on a box
job = parc_mpi.map(f, range(250))
"""

def test_a_node_held_to_a_fraction_of_a_core_is_named_with_its_throttling(tmp_path):
    """A hot Pi: n2's processes held to 0.1 of a core by a CPU cgroup quota, its
    firmware (a fake vcgencmd) reporting 83 degC, 600 MHz and the throttle bits. The
    verdict names n2 as the slow node, with the throttling as its evidence."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(BUSY)
    bin_dir = hot_firmware(str(tmp_path / "bin"), "n2")
    env = cli_env()
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    run_dir, cool_dir = tmp_path / "run", tmp_path / "cool"
    proc = run_on_three_nodes(tmp_path, hostfile, job, run_dir, "--netbench", "off", env=env,
                              cpu={"n2": 0.1})
    run_on_three_nodes(tmp_path, hostfile, job, cool_dir, "--netbench", "off")   # n2 cooled
    with RunReader(str(run_dir)) as db:
        meta = db.meta()
    with RunReader(str(cool_dir)) as db:
        cool_meta = db.meta()
    verdict = meta["verdict"]
    measured = cool_meta["verdict"]["figures"]["wall"]["compute"]
    print(verdict["text"], "| measured without the limit:", measured)
    assert abs(verdict["what_if"] - measured) <= 0.25 * measured, (verdict["what_if"], measured)
    assert verdict["limit"] == "slow node", verdict["text"]
    assert verdict["text"].startswith("a slow node: node n2's tasks took")
    share = re.search(r"it was throttled for (\d+)% of its samples \(83 °C, ARM 600 MHz\)",
                      verdict["text"])
    assert share and int(share.group(1)) >= 50, verdict["text"]
    said = [ln for ln in proc.stdout.splitlines() if ln.startswith("[parc_mpi] what limited")]
    assert said and "node n2" in said[0]


def test_thermal_keeps_the_last_tasks_off_the_hot_node(tmp_path):
    """--thermal on the box whose n2 is hot (0.1 of a core, its firmware at 83 °C and
    throttled): rank 0 sees n2 hot from the monitor's samples, says so in the summary,
    and hands the last tasks to the cooler workers only; every task is done."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(BUSY)
    env = cli_env()
    env["PATH"] = f"{hot_firmware(str(tmp_path / 'bin'), 'n2')}:{env['PATH']}"
    run_dir = tmp_path / "run"
    run_on_three_nodes(tmp_path, hostfile, job, run_dir, "--netbench", "off", "--thermal",
                       "-q", env=env, cpu={"n2": 0.1})
    meta = meta_of(run_dir)
    thermal = meta["summary"]["thermal"]
    assert set(thermal["hot_seconds"]) == {"n2"} and thermal["hot_seconds"]["n2"] > 1.0
    with RunReader(str(run_dir)) as r:
        rows = sorted(r.final_results(), key=lambda x: x.t_start)
    assert len(rows) == 250 and all(x.ok for x in rows)
    assert [x.node for x in rows[-4:]].count("n2") == 0, [(x.task, x.node) for x in rows[-8:]]


LARGE_RESULTS = """
import time, numpy as np, parc_mpi
def f(x):
    time.sleep(0.05)
    return np.full(31_250, float(x))      # 250 kB of results a task
job = parc_mpi.map(f, range(120))
"""


def test_a_wifi_node_sending_large_results_is_named_as_the_network(tmp_path):
    """n2 on a 50 Mbit/s link, every task returning 1 MB: its results spend most of its
    workers' time on the wire. The verdict names the network and n2, from the bytes
    rank 0 received and the network benchmark's download rate."""
    nodes_csv, hostfile = three_nodes(tmp_path)
    job = tmp_path / "job.py"
    job.write_text(LARGE_RESULTS)
    run_dir = tmp_path / "run"
    run_on_three_nodes(tmp_path, hostfile, job, run_dir, "-q", links={"n2": "wifi"})
    wired_dir = tmp_path / "wired"
    run_on_three_nodes(tmp_path, hostfile, job, wired_dir, "-q")
    verdict = meta_of(run_dir)["verdict"]
    assert verdict["limit"] == "network", verdict["text"]
    assert verdict["text"].startswith("the network: n2 sent ")
    measured = meta_of(wired_dir)["verdict"]["figures"]["wall"]["compute"]
    print(verdict["text"], "| measured on a wired n2:", measured)
    assert abs(verdict["what_if"] - measured) <= 0.25 * measured, (verdict["what_if"], measured)
