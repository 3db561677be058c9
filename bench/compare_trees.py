"""Two checkouts of ingestd, passes alternating, on one replay world and one proxy.

The machine's speed drifts by tens of percent within an hour, so two ``throughput.py`` runs an
hour apart do not compare two versions. This runs ``ingest --once`` from each checkout in turn
(A, B, then B, A, ...), each on its own state folder, against the same world served by the same
proxy, and prints the median first pass (fresh database, with ``--fresh``) and second pass
(every feed due again, answering 304) of each, in wall time and in the CPU time of the process
tree (main process and pool, sampled from ``/proc``), and each round's B − A of both.

    python -m bench.compare_trees /path/to/old-checkout . --rounds 4 --fresh
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import quality_replay, replay, throughput

BENCH = Path(__file__).resolve().parent


def run_pass(tree: Path, config: Path, state: Path) -> tuple[float, float]:
    """One ``python -m ingestd --once`` from ``tree``: its wall time and the CPU time of its
    process tree (main process and pool, sampled from ``/proc``; 0.0 without it), in seconds."""
    cpu: dict[str, Any] = {}
    clock = time.perf_counter()
    done = quality_replay.run_ingest(config, state, "--once", cpu=cpu, tree=tree)
    wall = time.perf_counter() - clock
    if done.returncode != 0:
        raise SystemExit(
            f"compare_trees: ingest in {tree} exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
    return wall, float(cpu.get("total_s", 0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="one checkout of the repository")
    parser.add_argument("b", type=Path, help="the other")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--fresh", action="store_true", help="a first pass on a fresh database each round"
    )
    parser.add_argument("--pages", type=int, default=None)
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "compare_trees")
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    for tree in trees.values():
        throughput.compile_sources(tree)  # both as installed: no compiling in a timed pass
    world, _, folder = replay.prepare(args.pages, 1, args.out)
    first: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}  # (wall, CPU)
    second: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    with replay.ReplayProxy(world, folder / "proxy-log.jsonl") as proxy:
        configs = {
            name: replay.write_config(
                world,
                proxy.url,
                folder / f"state-{name}",
                folder / f"{name}.toml",
                extra_http={"min_host_gap_s": 0.0},
            )
            for name in trees
        }
        for round_number in range(args.rounds):
            order = ("A", "B") if round_number % 2 == 0 else ("B", "A")
            for name in order:
                state = folder / f"state-{name}"
                if round_number == 0 or args.fresh:
                    shutil.rmtree(state, ignore_errors=True)
                    state.mkdir(parents=True)
                    first[name].append(run_pass(trees[name], configs[name], state))
                throughput._make_due(state / "ingestd.sqlite3")
                second[name].append(run_pass(trees[name], configs[name], state))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    for name, tree in trees.items():
        for label, runs in (("first", first[name]), ("second", second[name])):
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            if runs:
                print(
                    f"{name} {tree}: {label} pass median {statistics.median(walls):.2f} s"
                    f" {[round(x, 2) for x in walls]}, CPU {statistics.median(cpus):.2f} s"
                    f" {[round(x, 2) for x in cpus]}"
                )
    for label, runs in (("first", first), ("second", second)):
        for index, unit in ((0, "wall"), (1, "CPU")):
            a = [run[index] for run in runs["A"]]
            b = [run[index] for run in runs["B"]]
            print(_paired(f"{label} pass {unit}", a, b))
    return 0


def _paired(label: str, a: list[float], b: list[float]) -> str:
    """B - A of each round's pair (run back to back, so the machine's drift over the run
    cancels out), their median and how many rounds B was the faster."""
    differences = [round(y - x, 2) for x, y in zip(a, b, strict=True)]
    if not differences:
        return f"{label}: no rounds"
    faster = sum(d < 0 for d in differences)
    median = statistics.median(differences)
    return (
        f"{label}, B - A per round: {differences}; median {median:+.2f} s;"
        f" B less in {faster} of {len(differences)} rounds"
    )


if __name__ == "__main__":
    sys.exit(main())
