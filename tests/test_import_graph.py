"""The package's import graph runs one way: no cycle, no import up a layer (lazy imports included).

Every ``import`` and ``from ... import`` statement anywhere in a module (top
level or inside a function) is an edge.  Layers, bottom to top, are listed in
:data:`LAYERS`; a module may import its own layer and the layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "statvae"

#: Bottom to top.  Each entry: layer name -> the top-level modules/subpackages of statvae in it.
LAYERS = [
    ("foundation", {"errors", "_version", "validate", "arguments", "storage", "lazy"}),
    ("model", {"model"}),
    ("data", {"data"}),
    ("symbolic", {"symbolic"}),
    ("numeric", {"numeric"}),
    ("bifurcation", {"bifurcation"}),
    ("analysis", {"analysis", "collapse_plan"}),
    ("training", {"training"}),
    ("output", {"latex", "plot"}),
    ("interface", {"cli", "api", "__main__", "__init__"}),
]


def _layer_of(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    for k, (_, members) in enumerate(LAYERS):
        if head in members:
            return k
    raise AssertionError(f"{module} is in no layer: add its top-level name to LAYERS")


def _modules() -> dict:
    out = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = p
    return out


def import_graph() -> nx.DiGraph:
    """Module -> module edges of every import statement inside statvae."""
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for a in node.names:
                    full = f"{mod}.{a.name}"
                    targets.append(full if full in mods else mod)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t.startswith("statvae") and t != name:
                    while t not in mods and "." in t:
                        t = t.rsplit(".", 1)[0]
                    if t in mods:
                        g.add_edge(name, t)
                        # importing statvae.a.b runs statvae/a/__init__.py first (the root package excepted:
                        # every module is inside it)
                        parts = t.split(".")
                        for k in range(2, len(parts)):
                            parent = ".".join(parts[:k])
                            if parent != name and not name.startswith(parent + "."):
                                g.add_edge(name, parent)
    return g


def _package_of(module: str) -> str:
    return module if module in ("statvae",) else ".".join(module.split(".")[:2])


def test_no_import_runs_up_a_layer():
    bad = sorted(f"{a} -> {b} ({LAYERS[_layer_of(a)][0]} imports {LAYERS[_layer_of(b)][0]})"
                 for a, b in import_graph().edges if _layer_of(b) > _layer_of(a))
    assert not bad, "imports up a layer:\n" + "\n".join(bad)


def test_no_import_cycle_between_modules():
    g = import_graph()
    # the package __init__ files re-export their own modules; a cycle through them is still a cycle
    cycles = list(nx.simple_cycles(g))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def test_the_graph_sees_lazy_imports(tmp_path):
    """The checker itself: an import inside a function is an edge."""
    g = import_graph()
    assert g.number_of_edges() > 50
    lazy = [(a, b) for a, b in g.edges if a == "statvae.cli.main"]
    assert lazy, "the CLI imports nothing?"


if __name__ == "__main__":  # pragma: no cover - a report for developers
    for a, b in sorted(import_graph().edges):
        if _layer_of(b) > _layer_of(a):
            print(f"UP   {a} -> {b}")
    for c in nx.simple_cycles(import_graph()):
        print("CYCLE", " -> ".join(c))
        break
    pytest.main([__file__])
