"""The layering rules of docs/architecture.md, checked: MPI only in the cluster
layer, SQL only in the store package."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT, cli_env

PACKAGE = ROOT / "parc_mpi"

# every module outside parc_mpi/cluster/ (and the two CLIs whose job is MPI)
NO_MPI = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).replace(".__init__", "")
    for p in PACKAGE.rglob("*.py")
    if "cluster" not in p.parts and p.name not in ("run.py", "netbench.py", "__main__.py"))


def test_the_list_of_mpi_free_modules_covers_the_user_facing_ones():
    for name in ("parc_mpi", "parc_mpi.report", "parc_mpi.monitor.report", "parc_mpi.hostfile",
                 "parc_mpi.nodes", "parc_mpi.space", "parc_mpi.store", "parc_mpi.store.reader",
                 "parc_mpi.optimizers.gp", "parc_mpi.optimizers.auto", "parc_mpi.layout",
                 "parc_mpi.api", "parc_mpi.engine", "parc_mpi.resume"):
        assert name in NO_MPI


@pytest.mark.parametrize("module", NO_MPI)
def test_module_imports_without_mpi4py(module):
    code = (f"import importlib, sys; importlib.import_module({module!r}); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'mpi4py'); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{module} pulls in {done.stdout.strip()} {done.stderr[-800:]}"


def test_rendering_a_report_and_a_hostfile_never_loads_mpi4py(tmp_path):
    code = f"""
import sys
from parc_mpi.store import Store
from parc_mpi.monitor.report import build_report
from parc_mpi.hostfile import main
store = Store({str(tmp_path)!r})
store.set_meta(job={{"kind": "map"}}, name="x", status="finished", started=0.0)
store.close()
build_report({str(tmp_path)!r})
main([{str(ROOT / 'node_list.csv')!r}, "-o", {str(tmp_path / 'hostfile')!r}, "--format", "mpich"])
sys.exit(1 if "mpi4py" in sys.modules else 0)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "report.html").exists() and (tmp_path / "hostfile").exists()


SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|CREATE TABLE|PRAGMA)\b")


def test_only_the_store_package_speaks_sql():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "store" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text()
        if "sqlite3" in text or SQL.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_starting_a_rank_does_not_load_matplotlib():
    """Every rank imports the launch path; only the monitor and rank 0's final report
    draw, and matplotlib costs half a second of CPU per rank to import."""
    code = ("import sys, parc_mpi.run, parc_mpi.cluster.launch; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_dashboard_never_loads_matplotlib_or_mpi4py():
    """The server draws nothing (the browser does) and is no MPI process: a Pi running
    it as a service pays for neither."""
    code = ("import sys, parc_mpi.serve.cli, parc_mpi.serve.server, parc_mpi.serve.launch; "
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'mpi4py'}); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_a_map_jobs_task_process_and_ranks_load_no_optimizer():
    """Every rank and task process imports parc_mpi and loads the job; a map job's never
    builds an optimizer, and the models, CMA-ES and the rest (about 0.1 CPU s each
    here, five times that on a Pi 4) load only when one is named."""
    heavy = ("auto", "gp", "cmaes", "de", "multi", "curves", "qmc", "random")
    code = ("import sys, parc_mpi, parc_mpi.run, parc_mpi.cluster.launch, "
            "parc_mpi.tasks.child, parc_mpi.job; "
            f"bad = [m for m in {heavy!r} if 'parc_mpi.optimizers.' + m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    # and named, each is there: the lazy names resolve to the classes
    code = ("from parc_mpi.optimizers import OPTIMIZERS, GPBO, ASHA, make_optimizer; "
            "from parc_mpi.optimizers.gp import GPBO as G; from parc_mpi import Real; "
            "assert GPBO is G and OPTIMIZERS['gp'] is G; "
            "print(type(make_optimizer('lq-cmaes', {'x': Real(0, 1)})).__name__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "LQCMAES", done.stderr[-2000:]


def _import_graph():
    """Module -> the parc_mpi modules it imports anywhere in its text (function-level
    imports too: a lazy import is still a dependency)."""
    import ast
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts).replace(".__init__", "")
        mods[name] = p
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for a in node.names:
                    target = f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                    if target in mods:
                        out.add(target)
        # a module's own packages run before it: importing them is no cycle
        graph[name] = {t for t in out if t != name and not name.startswith(t + ".")}
    return graph


def test_no_import_cycles():
    """docs/architecture.md's layers: no module imports one that imports it back,
    directly or around a loop (Tarjan's strongly connected components)."""
    graph = _import_graph()
    assert "parc_mpi.optimizers.pruners" in graph and graph["parc_mpi.optimizers.curves"]
    index, low, stack, on, loops = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert loops == [], loops
