"""Static analysis of a cell: which top-level names it binds.

Kept apart from running the cell (as marimo does) so the builder, the kernel and tests can
ask "what does this cell define?" without executing anything.
"""

from __future__ import annotations

import ast


def _target_names(node: ast.AST) -> list[str]:
    """Names bound by an assignment target (x, (a, b), [c, *d]); not x.attr or x[i]."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for elt in node.elts for n in _target_names(elt)]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return []


# runtime/ui.py's functions: a name bound straight from one is shown by its control
CONTROLS = ("slider", "select", "checkbox", "number")


def _makes_control(value: ast.AST) -> bool:
    """`slider(...)` or `ui.slider(...)` (any module's name before the dot)."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in CONTROLS


class _Binder(ast.NodeVisitor):
    """Collects names bound at module level, in order. Does not enter def/class/lambda
    bodies or comprehensions: their names are local to them."""

    def __init__(self, listing: bool = False) -> None:
        self.names: list[str] = []
        # listing: only the names worth showing as `name: value`, so not those bound by
        # import (a module, a class, a library's settings) or as a loop's variable
        self.listing = listing

    def add(self, names: list[str]) -> None:
        for name in names:
            if name not in self.names:
                self.names.append(name)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        if self.listing and _makes_control(node.value):
            return  # the control shows its value already
        for target in node.targets:
            self.add(_target_names(target))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        self.add(_target_names(node.target))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.generic_visit(node)
            self.add(_target_names(node.target))

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.generic_visit(node)
        self.add(_target_names(node.target))

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        if not self.listing:
            self.add(_target_names(node.target))
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.visit_For(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self.add(_target_names(item.optional_vars))
        self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self.visit_With(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.add([node.name])

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.add([node.name])

    def visit_Import(self, node: ast.Import) -> None:
        if self.listing:
            return
        self.add([(a.asname or a.name.split(".")[0]) for a in node.names])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if self.listing:
            return
        self.add([(a.asname or a.name) for a in node.names if a.name != "*"])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        # `except E as e` unbinds e at the end of the handler, so it is never shown
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def _skip(self, node: ast.AST) -> None:
        pass

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def bound_names(tree: ast.Module) -> list[str]:
    """Top-level names a parsed cell binds, in order of first binding."""
    binder = _Binder()
    for stmt in tree.body:
        binder.visit(stmt)
    return binder.names


def listed_names(tree: ast.Module) -> list[str]:
    """The names a cell shows as `name: value` in the "names" style: those it binds, less
    those bound only by import or as a loop's variable."""
    binder = _Binder(listing=True)
    for stmt in tree.body:
        binder.visit(stmt)
    return binder.names


def defined_names(source: str) -> list[str]:
    """Top-level names a cell's source binds; [] when it does not parse."""
    try:
        return bound_names(ast.parse(source))
    except SyntaxError:
        return []


def read_names(source: str) -> set[str] | None:
    """Every name a cell's code reads anywhere (in functions too): a superset of what it
    needs from the namespace. None when the code does not parse, meaning "could be any"."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store)}


def imported_modules(source: str) -> set[str]:
    """The top-level names of the modules a cell imports anywhere (`import a.b`, `from a
    import x` -> "a"); relative imports are left out. Empty when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def global_reads(source: str) -> tuple[set[str], set[str]] | None:
    """(names the code reads from its module's namespace, names it binds there), scopes
    taken into account: a function's parameters and locals are not reads. None when the
    code does not parse."""
    import symtable

    try:
        top = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return None
    binds = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    reads: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                reads.add(symbol.get_name())
        tables.extend(table.get_children())
    return reads, binds


def changing_names(source: str) -> tuple[set[str], set[str]] | None:
    """(names the code reads from its module's namespace, names it binds there that a new
    run may bind to something new): global_reads less the names only imported, as a module
    imported again is the same module. What the page's reactive re-runs follow. None when
    the code does not parse."""
    import symtable

    found = global_reads(source)
    if found is None:
        return None
    reads, binds = found
    top = symtable.symtable(source, "<cell>", "exec")
    imported = {s.get_name() for s in top.get_symbols() if s.is_imported() and not s.is_assigned()}
    return reads, binds - imported
