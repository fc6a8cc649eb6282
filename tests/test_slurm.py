"""The same job files under Slurm, for real: Debian's slurmctld, slurmd and munge on the
simulated six-node box (``SimCluster(..., slurm=True)``), the batch scripts of
docs "slurm-and-laptop.md" submitted as written, a time limit, scancel and the
resume in a second job. One box serves every test of this module."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, cli_env
from docs_blocks import blocks, scratch, write_file
from parc_mpi.nodes import read_node_list
from parc_mpi.simcluster import SimCluster, available
from parc_mpi.simslurm import available as slurm_available
from parc_mpi.store import RunReader

WHY = available(launcher=False) or slurm_available()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(WHY is not None, reason=f"{WHY}")]

PAGE = ROOT / "docs" / "slurm-and-laptop.md"
PI_BOX = [f"pi{i}" for i in range(6)]


@pytest.fixture(scope="module")
def box():
    with SimCluster(read_node_list(str(ROOT / "node_list.csv")), "gigabit",
                    slurm=True) as cluster:
        yield cluster


def env_for_jobs(**extra):
    """The environment sbatch runs in: the venv's python first on PATH, as after
    ``. ~/parc/bin/activate`` (Slurm hands it to the job)."""
    env = cli_env(**extra)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def on_main(box, script, where, env=None, timeout=400):
    """``bash -e -c SCRIPT`` on the box's main node, in ``where``; the finished process."""
    return subprocess.run(box.command(["bash", "-e", "-o", "pipefail", "-c", script],
                                      cwd=str(where)), env=env or env_for_jobs(),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def shown(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def wait_idle(box, timeout=120):
    """Until Slurm has no job left (a test's jobs must not hold the next test's nodes)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        q = on_main(box, "squeue -h", ROOT, timeout=30)
        if not q.stdout.strip():
            return
        time.sleep(1)
    raise AssertionError(f"Slurm still has jobs: {q.stdout}")


def out_files(where, name):
    """The output files of the jobs named ``name`` (``%x-%j.out``), in job order."""
    files = [p for p in where.glob(f"{name}-*.out") if p.stem[len(name) + 1:].isdigit()]
    return sorted(files, key=lambda p: int(p.stem[len(name) + 1:]))


def outputs(where, name):
    return "\n".join(p.read_text() for p in out_files(where, name))


def meta_of(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.meta()


def task_rows(run_dir):
    """(task, status) of every stored attempt."""
    with RunReader(str(run_dir)) as reader:
        cols = reader.columns(["task", "status"])
    return list(zip(cols["task"], cols["status"]))


def test_the_slurm_page_runs_as_written_on_the_six_node_box(box, tmp_path):
    """docs "slurm-and-laptop.md", its Slurm section as written: the srun batch script,
    the resubmission with afterany (of a finished run: nothing to do), and MPICH's
    mpiexec inside the allocation; 24 ranks over the six nodes each time."""
    where = scratch(tmp_path / "work")
    page = [b for b in blocks(PAGE) if b.kind in ("file", "slurm")]
    assert [b.kind for b in page].count("slurm") == 3, page
    procs = []
    for b in page:
        if b.kind == "file":
            write_file(b, where)
            continue
        assert b.arg == "node_list.csv"
        procs.append(on_main(box, b.text, where))
        assert procs[-1].returncode == 0, (str(b), shown(procs[-1]))
        wait_idle(box)
    # the first job: the sweep's 121 tasks, 24 ranks on the six nodes
    assert "finished: 121 ok, 0 failed of 121 tasks" in procs[0].stdout, shown(procs[0])
    for name in ("sweep", "sweep-mpiexec"):
        meta = meta_of(where / "runs" / name)
        assert meta["status"] == "finished", (name, meta["status"])
        assert meta["ranks"] == 24 and meta["nodes"] == PI_BOX, (name, meta["nodes"])
        assert sorted(set(meta["rank_nodes"].values())) == PI_BOX
        assert meta["rank_nodes"]["0"] == "pi0"
        rows = task_rows(where / "runs" / name)
        assert sorted(t for t, s in rows if s == "ok") == list(range(121)), name
    # the two jobs of the afterany block found the run finished and left it so
    again = outputs(where, "sweep")
    assert again.count("finished: 121 ok") == 1, again
    assert again.count("already finished") == 2, again
    # the report names Slurm's nodes as it names the box's
    page = (where / "runs" / "sweep" / "report.html").read_text()
    assert all(f"<td>pi{i}" in page for i in range(6))
    assert "<td>pi0 <span class='muted'>(main)</span>" in page


SLOW_SWEEP = '''"""The epidemic sweep, each simulation slowed to a second: longer than the time limit."""
import time

import parc_mpi


def simulate(params):
    time.sleep(1.0)
    beta, gamma = params["beta"], params["gamma"]
    return {"r0": beta / gamma}


items = [{"beta": 0.1 + 0.01 * i, "gamma": 0.05 + 0.01 * j} for i in range(40) for j in range(40)]
job = parc_mpi.map(simulate, items)
'''


def test_a_time_limit_stops_the_run_and_a_second_job_finishes_it(box, tmp_path):
    """The page's batch script with a two-minute limit (SBATCH_TIMELIMIT, as a user
    overrides it): Slurm's warning (--signal=USR2@60) stops the run softly, every
    result computed is stored, and the job queued with afterany resumes it to the end."""
    where = scratch(tmp_path / "work")
    (where / "jobs" / "sweep_epidemic.py").write_text(SLOW_SWEEP)
    script = next(b for b in blocks(PAGE) if b.kind == "file" and b.arg == "sweep.sbatch")
    write_file(script, where)
    chain = [b for b in blocks(PAGE) if b.kind == "slurm" and "afterany" in b.text][0]
    assert chain.text.splitlines()[0] == "first=$(sbatch --parsable sweep.sbatch)"
    t0 = time.monotonic()
    # the page's two lines, the first job's limit cut to two minutes (the second keeps
    # the script's half hour)
    proc = on_main(box, "export SBATCH_TIMELIMIT=2\n" + chain.text.replace(
        "\nsbatch", "\nunset SBATCH_TIMELIMIT\nsbatch"), where, timeout=600)
    assert proc.returncode == 0, shown(proc)
    wait_idle(box)
    first, second = out_files(where, "sweep")
    said = first.read_text()
    assert "Slurm's warning of the time limit (SIGUSR2): soft stop" in said, said
    assert "stopped by Slurm's warning of the time limit (SIGUSR2): " in said, said
    assert "--resume runs/sweep continues it" in said, said
    resumed = second.read_text()
    assert "resuming" in resumed and "finished: 1600 ok, 0 failed of 1600 tasks" in resumed, \
        resumed
    run_dir = where / "runs" / "sweep"
    meta = meta_of(run_dir)
    assert meta["status"] == "finished"
    rows = task_rows(run_dir)
    ok = [t for t, s in rows if s == "ok"]
    assert sorted(ok) == list(range(1600)), "every task once, none lost or run twice"
    # the first job stored what it computed: the second kept it and ran the rest
    kept = int(resumed.split("resuming")[1].split(":")[1].split()[0])
    assert 0 < kept < 1600, resumed
    print(f"time limit and resume: {time.monotonic() - t0:.0f} s; first job kept {kept}")


def test_scancel_stops_the_run_softly_and_names_it(box, tmp_path):
    """scancel of a running job without --signal: Slurm's SIGTERM reaches every rank
    and task process; the run gives running tasks their seconds, stores what is done,
    is marked stopped by scancel, and exits; the same script finishes it later."""
    where = scratch(tmp_path / "work")
    (where / "jobs" / "sweep_epidemic.py").write_text(SLOW_SWEEP)
    script = next(b for b in blocks(PAGE) if b.kind == "file" and b.arg == "sweep.sbatch")
    (where / "sweep.sbatch").write_text(
        "\n".join(ln for ln in script.text.splitlines() if "--signal" not in ln) + "\n")
    proc = on_main(box, "sbatch --parsable sweep.sbatch", where)
    assert proc.returncode == 0, shown(proc)
    jid = proc.stdout.strip()
    run_dir = where / "runs" / "sweep"
    end = time.monotonic() + 120
    while time.monotonic() < end:   # until results are stored
        if (run_dir / "run.sqlite").exists():
            try:
                if len(task_rows(run_dir)) >= 40:
                    break
            except Exception:   # the store is being made
                pass
        time.sleep(0.5)
    cancel = on_main(box, f"scancel {jid}", where)
    assert cancel.returncode == 0, shown(cancel)
    wait_idle(box)
    said = outputs(where, "sweep")
    assert "[parc_mpi] stopping by scancel (SIGTERM)" in said, said
    meta = meta_of(run_dir)
    assert meta["status"] == "stopped", meta["status"]
    assert meta["summary"]["stopped"] == "scancel (SIGTERM)", meta["summary"]
    done_first = [t for t, s in task_rows(run_dir) if s == "ok"]
    assert len(done_first) >= 40 and len(set(done_first)) == len(done_first)
    # no task was failed by Slurm's SIGTERM reaching its process
    assert all(s in ("ok",) for _t, s in task_rows(run_dir)), set(task_rows(run_dir))
    again = on_main(box, "sbatch --wait sweep.sbatch", where, timeout=600)
    assert again.returncode == 0, shown(again)
    wait_idle(box)
    assert sorted(t for t, s in task_rows(run_dir) if s == "ok") == list(range(1600))
    assert meta_of(run_dir)["status"] == "finished"


def test_a_time_limit_without_warning_is_named_and_what_is_stored_is_kept(box, tmp_path):
    """The page's script without --signal and with a one-minute limit: Slurm's SIGTERM
    at the limit is named as the time limit (scontrol's Reason=TimeLimit), running
    tasks get their seconds, and the stored results are kept for the next job."""
    where = scratch(tmp_path / "work")
    # twice the sweep: about 150 s of work, past the limit however late Slurm enforces
    # it (its check comes up to 30 s after the minute)
    (where / "jobs" / "sweep_epidemic.py").write_text(
        SLOW_SWEEP.replace("for i in range(40)", "for i in range(80)"))
    script = next(b for b in blocks(PAGE) if b.kind == "file" and b.arg == "sweep.sbatch")
    (where / "sweep.sbatch").write_text(
        "\n".join(ln for ln in script.text.splitlines() if "--signal" not in ln) + "\n")
    proc = on_main(box, "sbatch --wait --time=1 sweep.sbatch", where, timeout=300)
    assert proc.returncode != 0, shown(proc)   # Slurm ends the job: TIMEOUT
    wait_idle(box)
    said = outputs(where, "sweep")
    assert "DUE TO TIME LIMIT" in said, said
    assert "[parc_mpi] stopping by Slurm's time limit (SIGTERM)" in said, said
    assert "stopped by Slurm's time limit (SIGTERM): " in said, said
    run_dir = where / "runs" / "sweep"
    meta = meta_of(run_dir)
    assert meta["status"] == "stopped"
    assert meta["summary"]["stopped"] == "Slurm's time limit (SIGTERM)"
    rows = task_rows(run_dir)
    assert len(rows) > 100 and all(s == "ok" for _t, s in rows), len(rows)
    assert len({t for t, _s in rows}) == len(rows)


def wait_rows(run_dir, n, timeout=180):
    """Until the run has stored ``n`` attempts."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (run_dir / "run.sqlite").exists():
            try:
                if len(task_rows(run_dir)) >= n:
                    return
            except Exception:   # the store is being made
                pass
        time.sleep(0.5)
    raise AssertionError(f"{run_dir}: fewer than {n} results after {timeout} s")


def plug_back(box, node, timeout=120):
    """The node's cable back in, and Slurm's node up again (ReturnToService=2)."""
    box.cut(node, up=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if box.slurm.sinfo().get(node) == "idle":
            return
        time.sleep(1)
    raise AssertionError(f"{node} did not come back: {box.slurm.sinfo()}")


def job_state(box, jid):
    q = on_main(box, f"squeue -h -j {jid} -o %T", ROOT, timeout=30)
    return q.stdout.strip()


def test_with_no_kill_a_failed_node_costs_only_its_ranks(box, tmp_path):
    """The page's --no-kill script (sbatch and srun): a node's cable pulled mid-run;
    its ranks are lost, their tasks run elsewhere, the run finishes every task on the
    other five nodes and ends the step with its farewell line."""
    where = scratch(tmp_path / "work")
    (where / "jobs" / "sweep_epidemic.py").write_text(SLOW_SWEEP)
    write_file(next(b for b in blocks(PAGE) if b.arg == "sweep-nokill.sbatch"), where)
    job = subprocess.Popen(box.command(["sbatch", "--wait", "sweep-nokill.sbatch"],
                                       cwd=str(where)), env=env_for_jobs(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_rows(where / "runs" / "sweep", 40)
        box.cut("pi5")
        out, err = job.communicate(timeout=400)
    finally:
        if job.poll() is None:
            job.kill()
        plug_back(box, "pi5")
    said = outputs(where, "sweep")
    assert job.returncode != 0, (out, err)   # Slurm: FAILED, as the page says
    assert "srun: error: Node failure on pi5" in said, said
    assert "finished with lost node pi5 (ranks 20, 21, 22, 23): 1600 ok, 0 failed of " \
           "1600 tasks" in said, said
    run_dir = where / "runs" / "sweep"
    assert meta_of(run_dir)["status"] == "finished"
    assert sorted(t for t, s in task_rows(run_dir) if s == "ok") == list(range(1600))
    wait_idle(box)


def test_by_default_a_failed_node_ends_the_job_and_the_requeued_job_resumes(box, tmp_path):
    """The page's script as written: a node's power cut mid-run; Slurm cancels the
    job for the node failure (the run soft-stops and names it) and requeues it; with
    the node back (its slurmd started again, as at boot), the requeued job resumes the
    run to the end."""
    where = scratch(tmp_path / "work")
    (where / "jobs" / "sweep_epidemic.py").write_text(SLOW_SWEEP)
    write_file(next(b for b in blocks(PAGE) if b.arg == "sweep.sbatch"), where)
    proc = on_main(box, "sbatch --parsable sweep.sbatch", where)
    assert proc.returncode == 0, shown(proc)
    jid = proc.stdout.strip()
    run_dir = where / "runs" / "sweep"
    try:
        wait_rows(run_dir, 40)
        box.power("pi5", on=False)
        end = time.monotonic() + 240
        while job_state(box, jid) != "PENDING" and time.monotonic() < end:
            time.sleep(1)
        said = outputs(where, "sweep")   # the requeued job's output replaces it
    finally:
        box.power("pi5")
        plug_back(box, "pi5")
    assert "DUE TO NODE FAILURE" in said, said
    why = "a failed node of the job, pi5 (Slurm's SIGTERM)"
    assert f"[parc_mpi] stopping by {why}" in said, said
    stored = [t for t, s in task_rows(run_dir) if s == "ok"]
    assert len(stored) >= 40 and meta_of(run_dir)["summary"]["stopped"] == why
    # Slurm holds a requeued job about two minutes; a user may let it go at once
    held = on_main(box, f"scontrol update JobId={jid} StartTime=now", where)
    assert held.returncode == 0, shown(held)
    wait_idle(box, timeout=400)
    assert meta_of(run_dir)["status"] == "finished"
    rows = task_rows(run_dir)
    assert sorted(t for t, s in rows if s == "ok") == list(range(1600))
    assert set(stored) <= {t for t, s in rows if s == "ok"}


def test_srun_without_the_right_pmi_is_refused_in_one_line(box, tmp_path):
    """srun --mpi=none (Slurm's default): every rank starts alone in a world of one.
    parc_mpi refuses on every rank, says so once with the fix, and makes no run."""
    where = scratch(tmp_path / "work")
    proc = on_main(box, "srun --mpi=none -N 2 -n 4 python -m parc_mpi.run "
                        "jobs/sweep_epidemic.py --run-dir runs/none", where, timeout=120)
    assert proc.returncode != 0, shown(proc)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, shown(proc)
    assert "srun started 4 tasks but MPI gave each a world of 1" in lines[0]
    assert "--mpi=pmi2" in lines[0]
    assert not (where / "runs" / "none").exists()
    wait_idle(box)


def test_the_hostfile_tool_writes_the_node_list_from_slurm(box, tmp_path):
    """``hostfile --from-slurm``: every node sinfo lists, with its address and cores;
    inside an allocation (salloc), the job's nodes, its first node the main one; the
    hostfile from it names the nodes as the box's node list does."""
    where = tmp_path
    proc = on_main(box, "python -m parc_mpi.hostfile all.csv --from-slurm -o hostfile "
                        "--format mpich && salloc -N 3 --ntasks-per-node 2 python -m "
                        "parc_mpi.hostfile job.csv --from-slurm", where, timeout=120)
    assert proc.returncode == 0, shown(proc)
    assert "wrote all.csv: 6 Slurm nodes (pi0, pi1, pi2, pi3, pi4, pi5)" in proc.stdout
    rows = read_node_list(str(where / "all.csv"))
    assert [(n.name, n.address, n.role, n.cores) for n in rows] == [
        (f"pi{i}", box.addr[f"pi{i}"], "main" if i == 0 else "worker", 4) for i in range(6)]
    # the hostfile: the main node first, each node by Slurm's address for it, its cores
    lines = [ln for ln in (where / "hostfile").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert lines == [f"{box.addr[f'pi{i}']}:4" for i in range(6)], lines
    job = read_node_list(str(where / "job.csv"))
    assert [n.name for n in job] == ["pi0", "pi1", "pi2"]
    assert [n.role for n in job] == ["main", "worker", "worker"]
    assert all(n.cores == 2 for n in job), [(n.name, n.cores) for n in job]
    wait_idle(box)


OMPI_ENV = {"MPI4PY_MPIABI": "openmpi",            # mpi4py's wheel: use Open MPI's libmpi
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def open_mpi_missing():
    if not os.path.exists("/usr/bin/mpirun.openmpi"):
        return "Debian's openmpi-bin is not installed"
    probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI; "
                            "print(MPI.Get_library_version())"], env={**cli_env(), **OMPI_ENV},
                           capture_output=True, text=True, timeout=60)
    if "Open MPI" not in probe.stdout:
        return f"mpi4py does not load Open MPI here: {probe.stderr.strip()[-200:]}"
    return None


@pytest.mark.skipif(open_mpi_missing() is not None, reason=f"{open_mpi_missing()}")
def test_open_mpi_under_srun_with_pmix_runs_the_sweep(box, tmp_path):
    """Debian's Open MPI, started by srun --mpi=pmix (no mpirun): the sweep on 24 ranks
    over the six nodes; with --mpi=pmi2 it cannot start, and says so from MPI_Init."""
    where = scratch(tmp_path / "work")
    env = env_for_jobs(**OMPI_ENV)
    proc = on_main(box, "srun --mpi=pmix -N 6 --ntasks-per-node=4 python -m parc_mpi.run "
                        "jobs/sweep_epidemic.py --run-dir runs/ompi -q", where, env=env)
    assert proc.returncode == 0, shown(proc)
    assert "finished: 121 ok, 0 failed of 121 tasks" in proc.stdout, shown(proc)
    meta = meta_of(where / "runs" / "ompi")
    assert meta["mpi"].startswith("Open MPI"), meta["mpi"]
    assert meta["ranks"] == 24 and meta["nodes"] == PI_BOX
    wrong = on_main(box, "srun --mpi=pmi2 -N 2 -n 4 python -m parc_mpi.run "
                         "jobs/sweep_epidemic.py --run-dir runs/wrong -q", where, env=env,
                    timeout=120)
    assert wrong.returncode != 0, shown(wrong)
    assert "MPI_Init_thread" in wrong.stdout + wrong.stderr, shown(wrong)
    assert not (where / "runs" / "wrong").exists()
    wait_idle(box)
