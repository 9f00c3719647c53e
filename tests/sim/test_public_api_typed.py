"""The public ``sim`` API is fully type-annotated (issue #2), and stays so.

Public means: a function or method whose name has no leading underscore, at module level or
in a public class (nested public classes included), in a module under ``sim/`` whose path has
no component starting with an underscore (``__init__.py`` counts as public). Every parameter
but a method's ``self``/``cls`` needs an annotation (``*args``/``**kwargs`` included), and so
does the return. Functions nested inside functions are implementation details and not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[2] / "sim"


def _is_public_module(rel: Path) -> bool:
    return not any(part.startswith("_") and part != "__init__.py" for part in rel.parts)


def _is_staticmethod(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)


def _missing(fn: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> list[str]:
    a = fn.args
    params = [*a.posonlyargs, *a.args]
    if is_method and params and not _is_staticmethod(fn):
        params = params[1:]  # self / cls
    params += a.kwonlyargs
    out = [p.arg for p in params if p.annotation is None]
    for p, star in ((a.vararg, "*"), (a.kwarg, "**")):
        if p is not None and p.annotation is None:
            out.append(star + p.arg)
    if fn.returns is None:
        out.append("return")
    return out


def untyped_public_functions(root: Path = SIM) -> list[str]:
    """``path:line name (what is missing)`` for every incompletely annotated public function."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if not _is_public_module(rel):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def walk(body: list[ast.stmt], prefix: str, in_class: bool, rel: Path = rel) -> None:
            for node in body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    if node.name.startswith("_"):
                        continue
                    missing = _missing(node, in_class)
                    if missing:
                        found.append(f"{rel.as_posix()}:{node.lineno} {prefix}{node.name} "
                                     f"(missing: {', '.join(missing)})")
                elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    walk(node.body, f"{prefix}{node.name}.", True)
                elif isinstance(node, ast.If | ast.Try):
                    # e.g. definitions under `if sys.platform ...:` or `try: ... except ImportError:`
                    walk(node.body, prefix, in_class)
                    walk(node.orelse, prefix, in_class)
                    for handler in getattr(node, "handlers", []):
                        walk(handler.body, prefix, in_class)

        walk(tree.body, "", False)
    return found


def test_every_public_sim_function_is_annotated() -> None:
    offenders = untyped_public_functions()
    assert not offenders, (
        f"{len(offenders)} public function(s)/method(s) in sim/ lack type annotations "
        "(annotate every parameter except self/cls, and the return; or make the name private "
        "with a leading underscore if it is not API):\n  " + "\n  ".join(offenders))


def test_the_check_catches_missing_annotations(tmp_path: Path) -> None:
    pkg = tmp_path / "sim"
    (pkg / "_private").mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "def typed(a: int, *args: str, **kw: float) -> None: ...\n"
        "def untyped(a, b: int): ...\n"
        "def _helper(x): ...\n"
        "class Thing:\n"
        "    def method(self, x) -> int: ...\n"
        "    @staticmethod\n"
        "    def static(x: int): ...\n"
        "    def _private(self, x): ...\n"
        "    class Inner:\n"
        "        def deep(self, *args) -> None: ...\n"
        "class _Hidden:\n"
        "    def visible_name(self, x): ...\n", encoding="utf-8")
    (pkg / "_private" / "mod.py").write_text("def f(x): ...\n", encoding="utf-8")
    assert untyped_public_functions(pkg) == [
        "sim/mod.py:2 untyped (missing: a, return)",
        "sim/mod.py:5 Thing.method (missing: x)",
        "sim/mod.py:7 Thing.static (missing: return)",
        "sim/mod.py:10 Thing.Inner.deep (missing: *args)",
    ]
