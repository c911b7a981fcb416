"""lib.arxiv imports run one way (no module imports another that imports it back, even inside a function)."""

import ast
from pathlib import Path

import lib.arxiv

PKG = Path(lib.arxiv.__file__).parent


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PKG.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            deps |= {n.split(".")[2] for n in names if n.startswith("lib.arxiv.") and len(n.split(".")) >= 3}
        graph[path.stem] = {d for d in deps if d != path.stem and (PKG / f"{d}.py").exists()}
    return graph


def _cycle(graph):
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for dep in graph.get(node, ()):
            if state.get(dep) == "open":
                return trail + [node, dep]
            if dep not in state and (found := visit(dep, trail + [node])):
                return found
        state[node] = "done"
        return None

    for node in graph:
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_import_cycle_in_lib_arxiv():
    graph = _graph()
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"
    assert "experiment" not in graph["encoder"] and "encoder" not in graph["data"] and "head" not in graph["evaluation"]
    assert "experiment" in graph["embed"] and "hub" in graph["data"] and "hub" in graph["encoder"]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
