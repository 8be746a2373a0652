"""Read regcred's import graph from the source (ast, no imports executed) and check it against a contract.

The architecture test (tests/unit/architecture/test_architecture.py) states the layers; this module only knows how to find
imports and how to judge them, so that its own test can feed it a synthetic graph or a planted package. Every
import counts: module level, inside functions (lazy imports), and under `if TYPE_CHECKING:` — a dependency the
code names is a dependency, wherever the statement sits.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One `import`/`from … import` edge between two modules of the scanned package."""

    importer: str
    imported: str
    line: int
    lazy: bool = False  # inside a function body: runs when the function is called
    type_checking: bool = False  # under `if TYPE_CHECKING:`: never runs
    comment: str = ""  # `# …` text on the statement's lines or on the line above it (the lazy-import rule)

    def __str__(self) -> str:
        where = " (inside a function)" if self.lazy else ""
        return f"{self.importer} imports {self.imported} (line {self.line}){where}"


@dataclass
class Module:
    """A scanned module: where it is, how long, its docstring and its imports of the package."""

    name: str
    path: Path
    lines: int
    docstring: str
    imports: list[Import] = field(default_factory=list)  # of modules inside the scanned package
    function_level: list[Import] = field(default_factory=list)  # inside functions, of any module


def module_name(path: Path, src_root: Path) -> str:
    """`src/regcred/core/x.py` -> `regcred.core.x`; a package's `__init__.py` is the package itself."""
    parts = list(path.relative_to(src_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def scan(src_root: Path, package: str) -> dict[str, Module]:
    """Every module of `package` under `src_root`, with its imports of modules inside `package`."""
    paths = sorted((src_root / package.replace(".", "/")).rglob("*.py"))
    names = {module_name(p, src_root): p for p in paths}
    modules: dict[str, Module] = {}
    for name, path in names.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        module = Module(name, path, len(text.splitlines()), ast.get_docstring(tree) or "")
        is_package = path.name == "__init__.py"
        found = list(_imports(tree, text, name, is_package, names.keys()))
        module.imports = [edge for edge in found if within(edge.imported, package)]
        module.function_level = [edge for edge in found if edge.lazy]
        modules[name] = module
    return modules


def _imports(tree: ast.Module, text: str, name: str, is_package: bool, known: Iterable[str]) -> Iterable[Import]:
    known = set(known)
    lines = text.splitlines()

    def visit(node: ast.AST, lazy: bool, type_checking: bool) -> Iterable[Import]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            last = node.end_lineno or node.lineno
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            comments = [line.split("#", 1)[1].strip() for line in lines[node.lineno - 1 : last] if "#" in line]
            if above.startswith("#"):  # a comment line right above the statement belongs to it
                comments.insert(0, above[1:].strip())
            comment = " ".join(comments)
            for target in _targets(node, name, is_package, known):
                yield Import(name, target, node.lineno, lazy, type_checking, comment)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            # only the body is for the type checker; an `else:` branch runs
            for stmt in node.body:
                yield from visit(stmt, lazy, True)
            for stmt in node.orelse:
                yield from visit(stmt, lazy, type_checking)
            return
        lazy = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, lazy, type_checking)

    yield from visit(tree, False, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, known: set[str]) -> list[str]:
    """The modules a statement imports; `from pkg import sub` names the submodule when `sub` is one."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join([*base, *([node.module] if node.module else [])])
    else:
        origin = node.module or ""
    targets = []
    for alias in node.names:
        sub = f"{origin}.{alias.name}"
        targets.append(sub if sub in known else origin)
    return list(dict.fromkeys(targets))


def within(module: str, package: str) -> bool:
    """`regcred.core.x` is within `regcred.core`; `regcred.corex` is not."""
    return module == package or module.startswith(package + ".")


@dataclass(frozen=True)
class Layer:
    """A layer: packages (with everything under them) and single modules (just that module)."""

    name: str
    packages: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()


def layer_of(module: str, layers: Sequence[Layer]) -> int | None:
    """Index of the layer (lowest first) that holds `module`: an exact module first, else the longest package."""
    best: tuple[int, int] | None = None
    for index, layer in enumerate(layers):
        if module in layer.modules:
            return index
        for package in layer.packages:
            if within(module, package) and (best is None or len(package) > best[1]):
                best = (index, len(package))
    return None if best is None else best[0]


def layer_violations(imports: Iterable[Import], layers: Sequence[Layer]) -> list[str]:
    """Each import of a higher layer from a lower one; a layer may import itself and every layer below it."""
    found = []
    for edge in imports:
        low, high = layer_of(edge.importer, layers), layer_of(edge.imported, layers)
        if low is not None and high is not None and high > low:
            found.append(f"{edge}: layer {layers[low].name!r} must not import layer {layers[high].name!r}")
    return found


def independence_violations(imports: Iterable[Import], packages: Sequence[str]) -> list[str]:
    """Each import between two of `packages` (packages that must not know each other)."""
    found = []
    for edge in imports:
        mine = [p for p in packages if within(edge.importer, p)]
        theirs = [p for p in packages if within(edge.imported, p)]
        if mine and theirs and mine[0] != theirs[0]:
            found.append(f"{edge}: {mine[0]} and {theirs[0]} must stay independent")
    return found


def unassigned(modules: Iterable[str], layers: Sequence[Layer]) -> list[str]:
    """Modules no layer holds: a new package must be placed in the contract before it can be judged."""
    return sorted(m for m in modules if layer_of(m, layers) is None)


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Import cycles among module-level imports (those that run on import), each sorted, as a sorted list.

    Lazy imports and `if TYPE_CHECKING:` imports run after both modules are loaded (or never), so they
    cannot make an import fail and are left out. Tarjan's strongly connected components, iteratively.
    """
    graph: dict[str, set[str]] = {}
    for edge in imports:
        if edge.lazy or edge.type_checking or edge.importer == edge.imported:
            continue
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    return sorted(sorted(c) for c in _strongly_connected(graph) if len(c) > 1)


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result
