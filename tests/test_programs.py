"""Programs as tasks (parc_mpi.program) and tasks of several cores (cores=).

The first tests call a program task as a task host does (the task's number set, its
context told); the e2e ones run the real command, serially, under mpiexec, and on a
simulated mixed box."""
import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

import parc_mpi
from conftest import cli_env, most_at_once, mpi_cmd, python_cmd, run_cmd
from parc_mpi import execute, programs
from parc_mpi.engine import node_cores, place
from parc_mpi.job import JobError
from parc_mpi.store import RunReader

SQUARE = """#!/bin/sh
# writes the square of $1 to out.txt; says what it was given and in what environment
echo "args $* threads=$OMP_NUM_THREADS rank=${PMI_RANK:-none} task=$PARC_TASK"
[ "$1" = 3 ] && { echo "warming up" >&2; echo "bad input: 3" >&2; exit 3; }
[ "$1" = 4 ] && exit 0   # 'forgets' its output
echo $(( $1 * $1 )) > out.txt
"""


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A task's context as a task host sets it: a scratch folder, a run, a node."""
    monkeypatch.setenv("PARC_MPI_SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setattr(programs.CONTEXT, "run", "run-1")
    monkeypatch.setattr(programs.CONTEXT, "node", "pi3")
    monkeypatch.setattr(programs.CONTEXT, "cores", 1)
    monkeypatch.setattr(programs.CONTEXT, "files", {})
    monkeypatch.setattr(programs, "SEARCH_DIRS", [str(tmp_path)])
    script = tmp_path / "square.sh"
    script.write_text(SQUARE)
    script.chmod(0o755)
    (tmp_path / "params.in").write_text("n = {n}\nlabel = {{literal}}\n")
    yield tmp_path / "scratch" / "run-1"
    programs.NOW[0] = None


def as_task(fn, task, *args, **kwargs):
    programs.NOW[0] = (task, 0, args[0] if args else kwargs)   # as execute's loop sets it
    try:
        return fn(*args, **kwargs)
    finally:
        programs.NOW[0] = None


def test_a_program_task_runs_in_a_folder_of_its_own_with_its_parameters(scratch):
    prog = parc_mpi.program(["./square.sh", "{n}", "{task}"], inputs=["square.sh"],
                            templates=["params.in"], outputs=["out.txt"],
                            read=lambda d: int((d / "out.txt").read_text()), keep="all")
    assert as_task(prog, 7, {"n": 5}) == 25
    folder = scratch / "task-7"
    assert (folder / "stdout.txt").read_text() == "args 5 7 threads=1 rank=none task=7\n"
    assert (folder / "params.in").read_text() == "n = 5\nlabel = {literal}\n"
    assert os.access(folder / "square.sh", os.X_OK)
    assert programs.take_files() == {7: {"out.txt": b"25\n"}}   # for the main node
    assert programs.take_files() is None


def test_items_fill_arguments_by_position_or_as_a_whole(scratch):
    prog = parc_mpi.program(["echo", "{0}-{1}", "{item}"], keep="all")
    as_task(prog, 1, (2, "b"))
    assert (scratch / "task-1" / "stdout.txt").read_text() == "2-b (2, 'b')\n"
    import numpy as np
    as_task(parc_mpi.program("sh -c 'echo {item}'"), 2, np.float64(0.5))
    out = as_task(parc_mpi.program("sh -c 'echo {item}'"), 3, np.float64(0.5))
    assert out["returncode"] == 0 and out["stdout"] == "0.5"   # a number, not np.float64(..)


def test_the_folder_is_removed_on_success_kept_on_failure_and_fresh_when_run_again(scratch):
    prog = parc_mpi.program(["./square.sh", "{item}"], inputs=["square.sh"],
                            outputs=["out.txt"])
    as_task(prog, 0, 2)
    assert not (scratch / "task-0").exists()
    with pytest.raises(programs.ProgramError) as err:
        as_task(prog, 1, 3)
    assert (scratch / "task-1" / "stderr.txt").exists()
    (scratch / "task-1" / "stale").write_text("from the last attempt")
    with pytest.raises(programs.ProgramError):
        as_task(prog, 1, 3)       # a resumed or retried task starts in a fresh folder
    assert not (scratch / "task-1" / "stale").exists()
    assert str(err.value) == (f"./square.sh exited with 3 on pi3: warming up | bad input: 3 "
                              f"(its folder: pi3:{scratch / 'task-1'})")


def test_a_missing_output_program_or_input_is_one_line_naming_it(scratch):
    prog = parc_mpi.program(["./square.sh", "{item}"], inputs=["square.sh"],
                            outputs=["out.txt"])
    with pytest.raises(programs.ProgramError, match=r"^./square.sh exited with 0 on pi3 but "
                       r"did not write its output 'out.txt' \(its folder"):
        as_task(prog, 4, 4)
    with pytest.raises(programs.ProgramError, match=r"^./forces.x: no such program in the "
                       r"task folder on pi3 \(list it in inputs="):
        as_task(parc_mpi.program(["./forces.x"]), 5, 0)
    with pytest.raises(programs.ProgramError, match="forces-bin: no such program on the PATH"):
        as_task(parc_mpi.program(["forces-bin"]), 5, 0)
    with pytest.raises(ValueError, match=r"input 'mesh.dat': not found on pi3 in"):
        parc_mpi.program(["./square.sh"], inputs=["mesh.dat"])
    (scratch.parent.parent / "arm.x").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 +
                                                  b"\x02\x00\xb7\x00" + b"\0" * 44)
    (scratch.parent.parent / "arm.x").chmod(0o755)
    with pytest.raises(programs.ProgramError, match=r"^./arm.x: exec format error on pi3 "):
        as_task(parc_mpi.program(["./arm.x"], inputs=["arm.x"]), 6, 0)


def test_a_parameter_the_tasks_lack_is_an_error_before_work_starts(scratch):
    prog = parc_mpi.program(["./square.sh", "{n}", "{seed}"], inputs=["square.sh"])
    with pytest.raises(JobError, match=r"items\[0\]: program\('./square.sh {n} {seed}'\): "
                       r"argument '{seed}': {seed} names no parameter of the task \(it has n\)"):
        parc_mpi.map(prog, [{"n": 1}, {"n": 2}])
    with pytest.raises(JobError, match="{seed} names no parameter of the task"):
        parc_mpi.optimize(prog, {"n": parc_mpi.Real(0, 1)}, budget=3, goal="min")
    parc_mpi.optimize(prog, {"n": parc_mpi.Real(0, 1), "seed": parc_mpi.Integer(1, 9)},
                      budget=3, goal="min")
    with pytest.raises(JobError, match="cores must be a positive integer"):
        parc_mpi.map(prog, [], cores=0)


def test_a_program_that_ignores_sigterm_is_ended_at_the_timeout_with_what_it_started(
        scratch, tmp_path):
    (tmp_path / "stubborn.sh").write_text(
        "#!/bin/sh\ntrap '' TERM\nsleep 60 &\necho $! > child.pid\necho $$ > self.pid\n"
        "while :; do sleep 1; done\n")
    (tmp_path / "stubborn.sh").chmod(0o755)
    prog = parc_mpi.program(["./stubborn.sh"], inputs=["stubborn.sh"])
    t0 = time.monotonic()
    outcomes, _ = execute.execute_batch(prog, "arg", [(9, 0, 0)], timeout=1.0)
    assert time.monotonic() - t0 < 1.0 + programs.TERM_GRACE + 1.0
    assert outcomes[0][2] == "timeout", outcomes
    folder = scratch / "task-9"
    for name in ("self.pid", "child.pid"):
        pid = int((folder / name).read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", name


def test_the_program_gets_no_launcher_variables_and_the_tasks_cores(scratch, monkeypatch):
    monkeypatch.setenv("PMI_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setattr(programs.CONTEXT, "cores", 4)
    out = as_task(parc_mpi.program(["env"], read=lambda d: (d / "stdout.txt").read_text()),
                  0, 0)
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert "PMI_RANK" not in env and "OMPI_COMM_WORLD_RANK" not in env
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "4"
    assert env["PARC_CORES"] == "4" and env["PARC_NODE"] == "pi3"


def test_an_archived_folder_comes_back_to_the_main_node(scratch):
    import io
    import tarfile
    prog = parc_mpi.program(["./square.sh", "{item}"], inputs=["square.sh"],
                            outputs=["out.txt"], keep="archive")
    as_task(prog, 2, 6)
    files = programs.take_files()[2]
    assert files["out.txt"] == b"36\n" and not (scratch / "task-2").exists()
    names = tarfile.open(fileobj=io.BytesIO(files["task-2.tar.gz"])).getnames()
    assert {"task-2/out.txt", "task-2/stdout.txt", "task-2/square.sh"} <= set(names)


def test_run_program_inside_a_task_function(scratch):
    def fn(x):
        done = parc_mpi.run_program(["./square.sh", "{x}"], {"x": x}, inputs=["square.sh"])
        value = int((done.folder / "out.txt").read_text())
        done.finish(ok=True)
        return value, done.returncode
    assert as_task(fn, 0, 9) == (81, 0)
    assert not (scratch / "task-0").exists()


def test_a_build_runs_once_per_node_and_each_task_gets_its_product(scratch, tmp_path):
    (tmp_path / "count.c").write_text("main")
    prog = parc_mpi.program(["./tool", "{item}"], inputs=["count.c"],
                            build="echo built >> ../builds.log; printf '#!/bin/sh\\necho "
                                  "tool $1\\n' > tool; chmod +x tool")
    assert [as_task(prog, t, t)["stdout"] for t in range(3)] == ["tool 0", "tool 1", "tool 2"]
    assert (scratch / "builds.log").read_text() == "built\n"
    broken = parc_mpi.program(["./tool"], inputs=["count.c"], build="echo 'no cc here' >&2; "
                              "exit 127")
    with pytest.raises(programs.ProgramError, match=r"^build .* exited with 127 on pi3 \("
                       r".*\): no cc here"):
        as_task(broken, 0, 0)


# -- cores per task: the scheduler's choice ------------------------------------------
def test_cores_per_task_never_put_more_threads_on_a_node_than_its_cores():
    # a laptop with 8 cores as main (rank 0, the monitor, 6 workers), two 4-core Pis
    hosts = ["laptop"] * 8 + ["pi1"] * 4 + ["pi2"] * 4
    workers = list(range(2, 16))
    offered = {"laptop": 8, "pi1": 4, "pi2": 4}
    takers, benched, line = place(4, workers, hosts, offered)
    assert takers == [2, 3, 8, 12] and benched == set(workers) - set(takers)
    assert line.startswith("4 cores per task: 4 of 14 workers take tasks (laptop 2 of 6, "
                           "pi1 1 of 4, pi2 1 of 4)")
    for cores in (1, 2, 3, 4, 8):
        takers, _b, _l = place(cores, workers, hosts, offered)
        for host, n in offered.items():
            assert sum(hosts[w] == host for w in takers) * cores <= n
    assert place(1, workers, hosts, offered)[0] == workers   # one core: everyone works
    takers, _b, _l = place(8, workers, hosts, offered)
    assert takers == [2]          # only the laptop fits a task of 8 cores
    with pytest.raises(ValueError, match=r"cores=16: no node has that many cores \(the most "
                       r"is 8, on laptop\)"):
        place(16, workers, hosts, offered)


def test_what_a_node_offers(monkeypatch):
    monkeypatch.setenv("PARC_MPI_CORES", "pi0=8,pi1=4")
    assert node_cores("pi1") == 4 and node_cores("pi0.local") == 8
    assert node_cores("pi9") == len(os.sched_getaffinity(0))
    monkeypatch.setenv("PARC_MPI_CORES", "6")
    assert node_cores("anything") == 6


# -- the real command ------------------------------------------------------------------
JOB = """
import parc_mpi

def read(folder):
    return int((folder / "out.txt").read_text())

square = parc_mpi.program(["./square.sh", "{item}"], inputs=["square.sh"],
                          outputs=["out.txt"], read=read)
stuck = parc_mpi.program(["sh", "-c", "trap '' TERM; echo $$ > pid; sleep 30"],
                         outputs=["pid"])

def task(x):
    if x == 5:
        return stuck(x)
    if x == 6:
        return parc_mpi.program(["./not-built.x"])(x)
    return square(x)

job = parc_mpi.map(task, range(8), timeout=2)
"""


@pytest.mark.e2e
@pytest.mark.parametrize("ranks", [1, 4])
def test_program_tasks_serially_and_under_mpiexec(tmp_path, write_job, ranks):
    """Success, a non-zero exit, a missing output, a program that ignores SIGTERM past
    the timeout, a missing executable: each costs its task, with one line; the outputs
    are in the run folder."""
    (tmp_path / "square.sh").write_text(SQUARE)
    (tmp_path / "square.sh").chmod(0o755)
    job = write_job(JOB)
    run_dir = tmp_path / "run"
    args = ("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q", "--no-monitor")
    env = cli_env(PARC_MPI_SCRATCH=str(tmp_path / "scratch"))
    cmd = mpi_cmd(ranks, *args) if ranks > 1 else python_cmd(*args)
    done = run_cmd(cmd, env=env, timeout=120)
    assert done.returncode == 1, done
    with RunReader(str(run_dir)) as reader:
        got = {r.task: r for r in reader.results()}
    assert {t: r.result for t, r in got.items() if r.ok} == {0: 0, 1: 1, 2: 4, 7: 49}
    assert got[3].status == "failed" and got[3].error.splitlines()[-1].startswith(
        "ProgramError: ./square.sh exited with 3 on ")
    assert "bad input: 3" in got[3].error
    assert "did not write its output 'out.txt'" in got[4].error
    assert got[5].status == "timeout"
    assert "./not-built.x: no such program in the task folder" in got[6].error
    for t in (0, 1, 2, 7):
        assert (run_dir / "outputs" / f"task-{t}" / "out.txt").read_text() == f"{t * t}\n"
    assert not (run_dir / "outputs" / "task-3").exists()
    run_name = "run"
    kept = sorted(p.name for p in (tmp_path / "scratch" / run_name).iterdir())
    assert kept == ["task-3", "task-4", "task-5", "task-6"]   # failed tasks' folders only
    pid = int((tmp_path / "scratch" / run_name / "task-5" / "pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert "(its folder:" in done.stderr and "first (task 3): ProgramError: ./square.sh " \
        "exited with 3 on" in done.stderr, done


@pytest.mark.e2e
def test_a_task_of_more_cores_than_any_node_has_is_one_line_before_work(tmp_path, write_job):
    job = write_job("import parc_mpi\njob = parc_mpi.map(abs, range(4), cores=3)\n")
    env = cli_env(PARC_MPI_CORES="2")
    args = ("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "run")
    for cmd in (mpi_cmd(3, *args), python_cmd(*args)):
        done = run_cmd(cmd, env=env, timeout=60)
        assert done.returncode == 2, done
        errors = [x for x in done.stderr.splitlines() if x.strip()]
        assert len(errors) == 1 and re.search(r"job\.py: cores=3: (no node has that many "
                                              r"cores \(the most is 2|this machine offers 2)",
                                              errors[0]), done
        assert not (tmp_path / "run").exists()


@pytest.mark.e2e
def test_cores_set_the_threads_and_leave_ranks_idle_under_mpiexec(tmp_path, write_job):
    """5 ranks on a node offering 4 cores, cores=2: two workers take the tasks, each
    program sees OMP_NUM_THREADS=2, and never more than two run at once."""
    job = write_job("""
import parc_mpi
probe = parc_mpi.program(["sh", "-c", "date +%s.%N; echo $OMP_NUM_THREADS; sleep 0.3; date +%s.%N"])
job = parc_mpi.map(probe, range(8), cores=2)
""")
    run_dir = tmp_path / "run"
    env = cli_env(PARC_MPI_CORES="4")
    done = run_cmd(mpi_cmd(6, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "--no-monitor"),
                   env=env, timeout=120)
    assert done.returncode == 0, done
    assert "2 cores per task: 2 of 5 workers take tasks" in done.stdout, done
    with RunReader(str(run_dir)) as reader:
        got = reader.results()
    spans = []
    for r in got:
        start, threads, end = r.result["stdout"].split()
        assert threads == "2"
        spans.append((float(start), float(end)))
    assert len({r.worker for r in got}) == 2
    assert most_at_once(spans) == 2



MIXED = """
import parc_mpi
probe = parc_mpi.program(["sh", "-c", "date +%s.%N; echo $OMP_NUM_THREADS; sleep 0.3; "
                                      "date +%s.%N"])
job = parc_mpi.map(probe, range(24), cores=4)
"""


@pytest.mark.e2e
def test_cores_never_oversubscribe_a_mixed_box(tmp_path):
    """A laptop with 8 cores as the main node (8 ranks: rank 0, the monitor and 6
    workers) and two 4-core Pis (4 ranks each), cores=4: two of the laptop's workers and
    one per Pi take tasks, and no node ever runs more than its cores / 4 tasks at once."""
    from parc_mpi.mpienv import find_mpiexec
    from parc_mpi.nodes import read_node_list
    from parc_mpi.simcluster import SimCluster, available
    why = available()
    if why:
        pytest.skip(why)
    from conftest import node_list_and_hostfile
    nodes_csv, hostfile = node_list_and_hostfile(
        tmp_path, "name,address,role,cores,user\nlaptop,laptop.local,main,8,me\n"
                  "pi1,pi1.local,worker,4,pi\npi2,pi2.local,worker,4,pi\n")
    job = tmp_path / "job.py"
    job.write_text(MIXED)
    run_dir = tmp_path / "run"
    with SimCluster(read_node_list(str(nodes_csv)), "gigabit") as box:
        done = run_cmd(box.command([find_mpiexec(), "-f", str(hostfile), "-n", "16",
                                    sys.executable, "-m", "parc_mpi.run", str(job),
                                    "--run-dir", str(run_dir), "--netbench", "off"]),
                       timeout=300)
    assert done.returncode == 0, done
    assert "4 cores per task: 4 of 14 workers take tasks (laptop 2 of 6, pi1 1 of 4, " \
           "pi2 1 of 4)" in done.stdout, done
    with RunReader(str(run_dir)) as reader:
        got = reader.results()
    assert sorted(r.task for r in got if r.ok) == list(range(24))
    spans = {}
    for r in got:
        start, threads, end = r.result["stdout"].split()
        assert threads == "4"
        spans.setdefault(r.node, []).append((float(start), float(end)))
    most = {node: most_at_once(s) for node, s in spans.items()}
    assert most["pi1"] == most["pi2"] == 1 and 1 <= most["laptop"] <= 2, most
    assert len({r.worker for r in got}) == 4


def test_a_changed_source_is_built_again(scratch, tmp_path):
    """The build is kept per node for its command and its inputs' contents: an edited
    source under the same run name is built anew, an unchanged one is not."""
    src = tmp_path / "tool.txt"
    src.write_text("one")
    prog = parc_mpi.program(["./tool"], inputs=["tool.txt"],
                            build="echo built >> ../builds.log; printf '#!/bin/sh\\ncat "
                                  "tool.txt\\n' > tool; chmod +x tool")
    assert as_task(prog, 0, 0)["stdout"] == "one"
    assert as_task(prog, 1, 0)["stdout"] == "one"
    src.write_text("two")
    assert as_task(prog, 2, 0)["stdout"] == "two"
    assert (scratch / "builds.log").read_text() == "built\nbuilt\n"


STUBBORN = """
import parc_mpi
stubborn = parc_mpi.program(["sh", "-c", "trap '' TERM INT; echo $$ > {pids}/{item}.pid; "
                                         "sleep 60 & echo $! > {pids}/{item}.child; wait"])
job = parc_mpi.map(stubborn, range(2))
"""


@pytest.mark.e2e
def test_a_second_ctrl_c_ends_a_running_program_and_what_it_started(tmp_path, write_job):
    """Ctrl-C once: a soft stop that waits for running tasks; twice: the run ends now,
    and so does the program its task runs (in a process group of its own, ignoring
    SIGTERM and SIGINT) with the process it started."""
    pids = tmp_path / "pids"
    pids.mkdir()
    job = write_job(STUBBORN.replace("{pids}", str(pids)))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir,
                                       "--no-monitor"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=cli_env(PARC_MPI_SCRATCH=str(tmp_path / "scratch")))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (pids / "0.child").exists():
        time.sleep(0.1)
    time.sleep(0.3)
    started = [int((pids / n).read_text()) for n in ("0.pid", "0.child")]
    assert all(psutil.pid_exists(p) for p in started)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert all(psutil.pid_exists(p) for p in started)   # a soft stop lets tasks finish
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    time.sleep(0.3)
    left = [p for p in started if psutil.pid_exists(p) and
            psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert left == [], (left, out, err)


HOG = """
import parc_mpi
hog = parc_mpi.program(["python3", "-c", "x = bytearray({item} * 2**20); print(len(x))"])
job = parc_mpi.map(hog, [10, 400], memory="150M")
"""


@pytest.mark.e2e
def test_the_memory_limit_applies_to_the_program(tmp_path, write_job):
    """memory=150M: a program that takes 400 MB fails its task (killed by the memory
    cgroup, or MemoryError under RLIMIT_DATA), naming the limit; the other task is
    fine and the run goes on."""
    job = write_job(HOG)
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"),
                   env=cli_env(PARC_MPI_SCRATCH=str(tmp_path / "scratch")), timeout=60)
    assert done.returncode == 1, done
    with RunReader(str(run_dir)) as reader:
        got = {r.task: r for r in reader.results()}
    assert got[0].ok and got[0].result["stdout"] == str(10 * 2**20)
    last = got[1].error.splitlines()[-1]
    assert got[1].status == "failed" and (
        "was killed by SIGKILL on" in last and "the task's limit is 150 MB" in last
        or "exited with 1" in last and "MemoryError" in last), last


def _cores_of(item):
    return item["cores"]


def test_tasks_of_their_own_cores_start_only_where_their_cores_are_free(tmp_path):
    """cores= a function of the item (a generate job): the scheduler hands a task to a
    worker only where its node has that many cores free, and frees them when the result
    comes back; a task no node can hold fails alone, naming why. Driven without a
    transport: a laptop (8 cores, workers 2-7) and a Pi (4 cores, workers 8-11), results
    coming back in random order."""
    import random
    from parc_mpi.engine import Cores, Scheduler
    from parc_mpi.sources import make_source
    from parc_mpi.store import Store, rows_for

    def follow(item, result):   # generated tasks of their own cores
        return [{"cores": 3, "gen": 1}] if item.get("gen") is None and item["cores"] == 2 \
            else None
    sizes = [1, 2, 4, 8, 3, 1, 1, 4, 2, 16, 1, 2, 8, 1]
    job = parc_mpi.generate(lambda item: item["cores"], [{"cores": c} for c in sizes],
                            follow, cores=_cores_of)
    (tmp_path / "run").mkdir()
    store = Store(str(tmp_path / "run"))
    hosts = {w: "laptop" for w in range(2, 8)} | {w: "pi" for w in range(8, 12)}
    sched = Scheduler(job, make_source(job, 10), store, workers=10)
    sched.sizing = Cores(job.cores, hosts, {"laptop": 8, "pi": 4})
    rng = random.Random(1)
    running = {}   # batch id -> (worker, tasks)
    most = {"laptop": 0, "pi": 0}
    while not sched.finished:
        free = {w: 2 - sched.holding(w) for w in hosts}
        for w, (bid, tasks) in sched.assign(free):
            running[bid] = (w, tasks)
        use = {"laptop": 0, "pi": 0}
        for w, tasks in running.values():
            use[hosts[w]] += tasks[0][2]["cores"]
            assert len(tasks) == 1
        for h in use:
            most[h] = max(most[h], use[h])
        assert use["laptop"] <= 8 and use["pi"] <= 4, use
        assert all(sched.holding(w) <= 1 for w in hosts)   # no queue behind a reservation
        if running:
            bid = rng.choice(sorted(running))
            w, tasks = running.pop(bid)
            outcomes = [(tasks[0][0], 0, "ok", tasks[0][2]["cores"], None, 0.0, 0.0)]
            sched.receive(bid, w, rows_for(tasks, outcomes, w, hosts[w]),
                          [tasks[0][2]["cores"]], 0.0, hosts[w])
        sched.flush()
    store.flush()
    with RunReader(str(tmp_path / "run")) as reader:
        got = reader.results()
    failed = {r.task: r.error for r in got if not r.ok}
    assert sorted(r.result for r in got if r.ok) == sorted(
        [c for c in sizes if c <= 8] + [3] * sizes.count(2))   # follow-ups ran too
    assert list(failed.values()) == ["task 9: needs 16 cores; no node has that many (the "
                                     "most is 8)"]
    assert most == {"laptop": 8, "pi": 4}   # full, never over
    assert all(r.node == "laptop" for r in got if r.ok and r.result == 8)
    assert -1 not in sched.stats


@pytest.mark.e2e
def test_generated_tasks_of_their_own_cores_under_mpiexec(tmp_path, write_job):
    """A generate job whose tasks ask 1, 2 or 4 cores, on a node offering 4 (5
    workers): each program sees its own OMP_NUM_THREADS, and the cores of the tasks
    running at any moment never pass 4."""
    job = write_job("""
import parc_mpi
probe = parc_mpi.program(["sh", "-c", "date +%s.%N; echo $OMP_NUM_THREADS; sleep 0.25; date +%s.%N"])

def more(item, result):
    return [{"c": item["c"], "next": 1}] if "next" not in item else None

job = parc_mpi.generate(probe, [{"c": c} for c in (4, 1, 2, 1, 2, 4, 1, 1)], more,
                        cores=lambda item: item["c"])
""")
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(6, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                           "--no-monitor"), env=cli_env(PARC_MPI_CORES="4"), timeout=120)
    assert done.returncode == 0, done
    with RunReader(str(run_dir)) as reader:
        got = reader.results()
    assert len(got) == 16 and all(r.ok for r in got)
    events = []
    for r in got:
        start, threads, end = r.result["stdout"].split()
        assert int(threads) == r.params["c"], r
        events += [(float(start), int(threads)), (float(end), -int(threads))]
    in_use = most = 0
    for _t, step in sorted(events, key=lambda e: (e[0], e[1])):
        in_use += step
        most = max(most, in_use)
    assert most <= 4, most


def test_a_failure_keeps_its_stderr_in_the_message_when_the_folder_is_not_kept(scratch):
    prog = parc_mpi.program(["./square.sh", "{item}"], inputs=["square.sh"], keep="none")
    with pytest.raises(programs.ProgramError) as err:
        as_task(prog, 1, 3)
    assert str(err.value) == "./square.sh exited with 3 on pi3: warming up | bad input: 3"
    assert not (scratch / "task-1").exists()
