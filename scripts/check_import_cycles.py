"""Fail when any module of engine/, ovdiff_web/ or tasks/ takes part in an import cycle, counting imports inside
functions (and the few page imports the layer contract lets through: .importlinter). Run by ``make test`` next to
``lint-imports``, whose ``acyclic_siblings`` contract checks packages; this checks modules, with no exceptions.

Usage: python scripts/check_import_cycles.py  (exit status 1 and the cycles on stderr when there are any)."""
from __future__ import annotations

import sys
from pathlib import Path

import grimp

PACKAGES = ("engine", "ovdiff_web", "tasks")


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = module_cycles(graph)
    for component in cycles:
        print("import cycle: " + " <-> ".join(component), file=sys.stderr)
    print(f"{len(graph.modules)} modules, {len(cycles)} import cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    raise SystemExit(main())
