"""The package as a façade (issue 10): __init__ only re-exports, submodules form no import cycle."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import numpy as np

import vector_ops_ffi as vo

PACKAGE_DIR = Path(vo.__file__).resolve().parent
MODULES = {p.stem: p for p in PACKAGE_DIR.glob("*.py")}


def package_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports (``""`` for the package itself), wherever the import sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "vector_ops_ffi":
                    rest = node.module.split(".")[1:]
                    found.add(rest[0] if rest else "")
            elif node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x: x must be a module, not a name from __init__
                for alias in node.names:
                    found.add(alias.name if alias.name in MODULES else "")
            else:
                found.add("")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "vector_ops_ffi":
                    rest = alias.name.split(".")[1:]
                    found.add(rest[0] if rest else "")
    return found


def test_no_submodule_imports_the_package_itself():
    offenders = {
        name: sorted(imports)
        for name, path in MODULES.items()
        if name != "__init__"
        for imports in [package_imports(path)]
        if "" in imports
    }
    assert offenders == {}, "these modules import from the package __init__ (a cycle)"


def test_the_import_graph_has_no_cycle():
    graph = {name: package_imports(path) - {""} for name, path in MODULES.items() if name != "__init__"}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        assert state.get(name) != 1, "import cycle: " + " -> ".join([*trail, name])
        state[name] = 1
        for dependency in sorted(graph.get(name, ())):
            visit(dependency, [*trail, name])
        state[name] = 2

    for name in sorted(graph):
        visit(name, [])


def test_the_cycle_check_sees_a_cycle(tmp_path):
    """The checker itself: a module importing back from the package is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from . import batch_normalize\nfrom vector_ops_ffi import dot\n")
    assert package_imports(bad) == {""}


def test_init_only_re_exports():
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert assigned == ["__all__"]
    assert all(node.level == 1 for node in tree.body if isinstance(node, ast.ImportFrom))


def test_dir_exposes_the_api_and_no_helpers():
    # Public submodules (io, dask, cli) appear once something imports them: they are API too.
    public = {
        name for name in dir(vo) if not name.startswith("_") and not inspect.ismodule(getattr(vo, name))
    }
    assert public == set(vo.__all__) - {"__version__"}
    for leaked in ("np", "mmap", "Any", "ffi", "threading", "contextlib", "operator", "npt", "Union"):
        assert not hasattr(vo, leaked), leaked


def test_public_hints_are_precise():
    for name in vo.__all__:
        obj = getattr(vo, name)
        if not inspect.isfunction(obj):
            continue
        text = " ".join(str(v) for v in typing.get_type_hints(obj).values())
        assert "PairResult" not in text, (name, text)
    for function in (vo.cdist, vo.top_k):
        metric = typing.get_type_hints(function)["metric"]
        assert typing.get_origin(metric) is typing.Literal
        assert typing.get_args(metric) == ("cosine", "dot", "sqeuclidean") == tuple(vo.METRICS)
    assert typing.get_type_hints(vo.top_k)["return"] is vo.TopK


def test_top_k_is_a_named_tuple_that_unpacks_as_before():
    base = np.eye(4, dtype=np.float32)
    result = vo.top_k(base[:2], base, 2)
    assert isinstance(result, vo.TopK)
    assert isinstance(result, tuple)
    indices, scores = result
    assert indices is result.indices
    assert scores is result.scores
    np.testing.assert_array_equal(result.indices[:, 0], [0, 1])
    assert result._fields == ("indices", "scores")
