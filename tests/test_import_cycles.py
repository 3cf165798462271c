"""No import cycles inside pymantle/.

The graph is built from the source with `ast`, not by importing: every `import` and
`from ... import` anywhere in a module counts, those inside functions included (a lazy
import hides a cycle from the interpreter, not from the reader). Relative imports are
resolved against the module's package, and `from . import x` points at the submodule x
when there is one, else at the package itself. A name the package's __init__ does not
bind (nor list in __all__) is a submodule too: a compiled one (pymantle._kernels) is no
node of the graph, as it imports nothing of pymantle.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "pymantle"


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every .py module under root (packages by their __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def bound_names(path: Path) -> set[str]:
    """Names a module binds at its top level, and those its __all__ lists."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                names |= {c.value for c in ast.walk(node.value)
                          if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return names


def _in_tree(name: str, modules) -> str | None:
    """The deepest in-tree module of a dotted name (`import a.b.c` loads a, a.b, a.b.c)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node, module: str, is_package: bool, modules) -> set[str]:
    """The in-tree modules one import statement loads."""
    if isinstance(node, ast.Import):
        return {m for a in node.names if (m := _in_tree(a.name, modules))}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        src = ".".join(base + ([node.module] if node.module else []))
    else:
        src = node.module or ""
    out = set()
    for a in node.names:
        sub = f"{src}.{a.name}"
        if sub in modules:
            out.add(sub)                # a submodule
        elif src in modules and a.name not in bound_names(modules[src]):
            pass                        # a submodule not in the tree (compiled): no node
        elif m := _in_tree(src, modules):
            out.add(m)                  # an attribute of the module or package
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = module_names(root)
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _targets(node, name, is_package, modules)
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through every knot, each as a list starting and ending at one module."""
    return [_cycle_in(graph, scc) for scc in knots(graph)]


def knots(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, sorted (Tarjan's
    algorithm, iterative): each module of one reaches every other through imports."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    scc = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        scc.append(w)
                        if w == v:
                            break
                    if len(scc) > 1:
                        sccs.append(sorted(scc))
    return sccs


def _cycle_in(graph, scc) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members, start = set(scc), scc[0]
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            if start in graph[v]:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            for w in sorted(graph[v] & members):
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return scc


def test_graph_sees_lazy_and_relative_imports():
    g = import_graph()
    assert "pymantle.config" in g["pymantle.grid"] or "pymantle.grid" in g["pymantle.config"]
    assert "pymantle.simulation" in g["pymantle.cli"]          # imported inside a function
    assert all(m.startswith("pymantle") for deps in g.values() for m in deps)


def test_from_package_import_resolves_submodules():
    g = import_graph()
    assert "pymantle.config" in g["pymantle.campaign"]          # from . import config
    assert "pymantle" not in g["pymantle.diagnostics"]          # from . import _kernels
    assert "pymantle.output" in g["pymantle"]                   # lazy, in __getattr__


def test_find_cycles_names_them():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert find_cycles(g) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    g = import_graph()
    found = knots(g)
    assert not found, "import cycles in pymantle/:\n" + "\n".join(
        f"  {' -> '.join(_cycle_in(g, k))}\n    (one knot: {', '.join(k)})"
        for k in found)
