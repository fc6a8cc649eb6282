"""Every command in docs/ is run (or, where it needs a real Pi or Slurm, checked), so
the docs cannot rot. How each block is treated: tests/docs_blocks.py."""
import argparse
import importlib
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, cli_env
from docs_blocks import CODE_LANGS, blocks, pages, scratch, write_file

KINDS = {"run", "file", "sim", "ssh", "slurm", "check", "ci"}
ALL = [b for p in pages() for b in blocks(p)]


def test_every_code_block_says_how_it_is_tested():
    assert ALL, "no docs found"
    unmarked = [str(b) for b in ALL if b.kind is None and (b.lang in CODE_LANGS or not b.lang)]
    assert unmarked == [], f"code blocks with no doc: marker: {unmarked}"
    unknown = [f"{b}: doc:{b.kind}" for b in ALL if b.kind and b.kind not in KINDS]
    assert unknown == [], unknown
    # a page with doc:sim or doc:ssh blocks is run by the simulated-cluster tests
    sim_pages = {b.page for b in ALL if b.kind in ("sim", "ssh")}
    covered = (ROOT / "tests" / "test_simcluster.py").read_text()
    assert all(f'"{p}"' in covered for p in sim_pages), sim_pages
    # and a page with doc:slurm blocks by the Slurm tests
    slurm_pages = {b.page for b in ALL if b.kind == "slurm"}
    covered = (ROOT / "tests" / "test_slurm.py").read_text()
    assert all(f'"{p}"' in covered for p in slurm_pages), slurm_pages


def test_ci_blocks_are_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    for b in (b for b in ALL if b.kind == "ci"):
        m = re.search(rf"<!-- ci:{b.arg} -->\s*```[^\n]*\n(.*?)\n```", readme, re.S)
        assert m and m.group(1).strip() == b.text.strip(), f"{b} differs from README's ci:{b.arg}"


class Parsed(Exception):
    pass


def parse_only(module, args):
    """Run the module's own argument parser on ``args`` and stop there."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, *a, **k):
        original(self, *a, **k)
        raise Parsed()

    argparse.ArgumentParser.parse_args = parse_and_stop
    try:
        importlib.import_module(module).main(args)
    except Parsed:
        return None
    except SystemExit as exc:
        return f"{module} {shlex.join(args)}: rejected by its parser (exit {exc.code})"
    finally:
        argparse.ArgumentParser.parse_args = original
    return f"{module} {shlex.join(args)}: the parser was never reached"


def parc_commands(text):
    """``(module, args)`` of every ``python -m parc_mpi.X ARGS`` in a shell text."""
    for line in text.replace("\\\n", " ").splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        words = list(lex)
        for i in range(len(words) - 2):
            if words[i] in ("python", "python3") and words[i + 1] == "-m" \
                    and words[i + 2].startswith("parc_mpi."):
                args = []
                for w in words[i + 3:]:
                    if w in (";", "&&", "||", "|", "&", ">", ">>", "<"):
                        if w in (">", ">>", "<") and args and args[-1].isdigit():
                            args.pop()  # the 2 of 2> err.txt
                        break
                    args.append(w)
                yield words[i + 2], args


CHECKED = [b for b in ALL if (b.kind in ("check", "run", "sim", "ssh", "slurm")
                              or b.kind == "file" and b.arg.endswith((".sh", ".sbatch")))
           and b.lang in CODE_LANGS - {"python"}]


@pytest.mark.parametrize("block", CHECKED, ids=str)
def test_shell_blocks_parse_and_their_parc_commands_are_accepted(block, capsys):
    syntax = subprocess.run(["bash", "-n"], input=block.text, text=True, capture_output=True)
    assert syntax.returncode == 0, f"{block}: {syntax.stderr}"
    problems = [p for mod, args in parc_commands(block.text)
                for p in [parse_only(mod, args)] if p]
    assert problems == [], f"{block}: {problems}"


RUN_PAGES = sorted({b.page for b in ALL if b.kind == "run"})


@pytest.mark.e2e
@pytest.mark.parametrize("page", RUN_PAGES)
def test_the_runnable_blocks_of_a_page_run_in_order(page, tmp_path):
    runs = [b.text for b in ALL if b.page == page and b.kind == "run"]
    if any("parc_mpi.simcluster" in text for text in runs):
        from parc_mpi.simcluster import available, ssh_available
        why = available()
        if not why and any("--ssh" in text for text in runs):
            why = ssh_available()   # the page's nodes run OpenSSH servers
        if not why and any("--slurm" in text for text in runs):
            from parc_mpi.simslurm import available as slurm_available
            why = slurm_available()   # and Slurm's daemons
        if why:
            pytest.skip(f"{page} builds a simulated cluster: {why}")
    where = scratch(tmp_path / "work")
    env = cli_env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    for b in (b for b in ALL if b.page == page):
        if b.kind == "file":
            write_file(b, where)
        elif b.kind == "run":
            cmd = [sys.executable, "-c", b.text] if b.lang == "python" else \
                ["bash", "-e", "-o", "pipefail", "-c", b.text]
            done = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True,
                                  timeout=300, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, (f"{b}: exit {done.returncode}\n--- stdout\n"
                                          f"{done.stdout}\n--- stderr\n{done.stderr}")
