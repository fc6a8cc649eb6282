"""``mpirun ... python -m parc_mpi.netbench``: the network benchmark on its own.

Rank 0 measures latency, upload and download to one rank on every other node (to
rank 1 when all ranks share one node), prints an OSU-style table and writes CSV and
JSON; with several nodes it also measures the node-pair latency matrix.
"""
from __future__ import annotations

import csv
import json
import sys
from typing import List, Optional

EPILOG = """\
examples:
  mpiexec -n 2 python -m parc_mpi.netbench --mode quick
  mpirun -hostfile hostfile -n 24 python -m parc_mpi.netbench --csv net.csv --json net.json
"""


def main(argv: Optional[List[str]] = None) -> int:
    from .cli import make_parser
    ap = make_parser("netbench", "MPI latency and bandwidth from rank 0 to every node, OSU "
                     "style (MB = 10^6 bytes).", EPILOG)
    ap.add_argument("--mode", choices=("quick", "full"), default="full",
                    help="quick: 3 sizes each; full: 1 B to 4 MiB (default)")
    ap.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    ap.add_argument("--json", metavar="FILE", help="write the rows (and pairs) as JSON")
    args = ap.parse_args(argv)

    from mpi4py import MPI
    from .cluster.netbench import Leader, serve
    from .monitor.network import warnings_for
    comm = MPI.COMM_WORLD.Dup()
    if comm.size < 2:
        print("error: netbench needs at least 2 ranks: mpiexec -n 2 python -m parc_mpi.netbench",
              file=sys.stderr)
        return 2
    host = MPI.Get_processor_name()
    hosts = comm.allgather(host)
    leaders = {}
    for rank, h in enumerate(hosts):
        leaders.setdefault(h, rank)
    peers = {r: h for h, r in leaders.items() if r != 0}
    if not peers:  # one node: measure rank 0 <-> rank 1 (shared memory, the floor)
        peers = {1: hosts[1] + " (same node)"}
    node_leaders = {r: h for h, r in leaders.items()}
    if comm.rank != 0:
        if comm.rank in peers or comm.rank in node_leaders:
            serve(comm, 0)
        comm.Barrier()
        return 0
    leader = Leader(comm, args.mode)
    rows = []
    for peer, node in sorted(peers.items()):
        print(f"# {host} -> {node} (rank {peer}), {args.mode}", flush=True)
        node_rows = leader.node(peer, node)
        rows += node_rows
        _print_table(node_rows)
    pairs = leader.pair_matrix(node_leaders) if len(node_leaders) > 2 else []
    leader.end(sorted(set(peers) | (set(node_leaders) - {0})))
    for a, b, p50, p99 in pairs:
        print(f"# pair {a} <-> {b}: 1 B latency p50 {p50:.1f} us, p99 {p99:.1f} us")
    for warning in warnings_for(rows):
        print(f"warning: {warning}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=sorted({k for r in rows for k in r}))
            out.writeheader()
            out.writerows(rows)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "pairs": pairs}, fh, indent=1)
    comm.Barrier()
    return 0


def _print_table(rows) -> None:
    lat = {r["size"]: r for r in rows if r["kind"] == "latency"}
    up = {r["size"]: r for r in rows if r["kind"] == "upload"}
    down = {r["size"]: r for r in rows if r["kind"] == "download"}
    print(f"{'# Size':<10}{'Lat p50(us)':>12}{'p99(us)':>10}{'Up(MB/s)':>11}{'Down(MB/s)':>12}"
          f"  NIC")
    for size in sorted(set(lat) | set(up) | set(down)):
        la, u, d = lat.get(size), up.get(size), down.get(size)
        cells = [f"{la['p50']:.2f}" if la else "-", f"{la['p99']:.2f}" if la else "-",
                 f"{u['mbps']:.2f}" if u else "-", f"{d['mbps']:.2f}" if d else "-"]
        nic = (d or u or {}).get("nic") or ""
        print(f"{size:<10}{cells[0]:>12}{cells[1]:>10}{cells[2]:>11}{cells[3]:>12}  {nic}")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
