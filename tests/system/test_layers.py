"""Imports run one way: no two modules of ours import each other, even through others; the audit
app imports no other app of ours and core none at all; the sandbox imports nothing of the app;
and the modules of consumers import one another at the top, but for an import marked as the
cycle-breaker it is (a function-level import that breaks a real cycle, with a comment why)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = {
    "accounts",
    "approvals",
    "audit",
    "backoffice",
    "bench",
    "cdp",
    "cdp_sandbox",
    "consumers",
    "core",
    "dashboard",
    "privacy",
}


def sources(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def our_imports(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, str, bool]]:
    """Return (statement, module, at the top) for each import of one of our packages."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top: set[ast.AST] = set()
    for statement in tree.body:
        top.add(statement)
        if isinstance(statement, ast.If):  # `if TYPE_CHECKING:` imports are the module's own
            top.update(statement.body)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module]
        else:
            continue
        found += [(node, m, node in top) for m in modules if m.split(".")[0] in OUR_PACKAGES]
    return found


def marked_as_cycle_breaker(path: Path, statement: ast.stmt) -> bool:
    """Say whether the comments and imports just above the statement hold a cycle-breaker."""
    lines = path.read_text().splitlines()
    index = statement.lineno - 2
    while index >= 0 and lines[index].strip().startswith(("#", "from ", "import ")):
        if lines[index].strip().startswith("# cycle-breaker: "):
            return True
        index -= 1
    return False


def test_the_audit_app_imports_no_other_app_of_ours():
    # core is not an app: what every app uses, itself importing none.
    found = [
        f"{path.relative_to(ROOT)}:{statement.lineno} imports {module}"
        for path in sources("audit")
        for statement, module, _ in our_imports(path)
        if module.split(".")[0] not in ("audit", "core")
    ]

    assert found == []


@pytest.mark.parametrize("path", sources("consumers"), ids=lambda path: path.name)
def test_consumers_import_our_modules_at_the_top_but_for_a_marked_cycle_breaker(path):
    late = [
        f"{path.relative_to(ROOT)}:{statement.lineno} imports {module}"
        for statement, module, at_top in our_imports(path)
        if not at_top and not marked_as_cycle_breaker(path, statement)
    ]

    assert late == []


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {_module(path): path for package in sorted(OUR_PACKAGES) for path in sources(package)}


def _owner(name: str) -> str | None:
    """The module of ours an imported name belongs to (`cdp.errors.CDPError` → `cdp.errors`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """{module: the modules of ours it imports}, but for the marked cycle-breakers."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = graph.setdefault(module, set())
        for statement, name, at_top in our_imports(path):
            if not at_top and marked_as_cycle_breaker(path, statement):
                continue
            names = [name]
            if isinstance(statement, ast.ImportFrom):  # `from cdp import client` names a module
                names += [f"{name}.{alias.name}" for alias in statement.names]
            for each in names:
                owner = _owner(each)
                if owner and owner != module:
                    targets.add(owner)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return every group of modules that import each other, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = [stack.pop()]
            while group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_our_modules_and_their_imports():
    graph = import_graph()

    assert "cdp.links" in graph["cdp.client"]
    assert "consumers.records" in graph["consumers.pushes"]


def test_a_cycle_is_found_where_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_two_modules_of_ours_import_each_other_even_through_others():
    assert cycles(import_graph()) == []


# The layers of docs/architecture.md: each app of ours and the apps it may import. The project
# package (`backoffice`) wires the apps together and is imported by none of them.
LAYERS = {
    "core": set(),
    "cdp_sandbox": set(),
    "audit": {"core"},
    "cdp": {"core", "audit"},
    "accounts": {"core", "audit"},
    "consumers": {"core", "audit", "cdp", "accounts"},
    "approvals": {"core", "audit", "cdp", "accounts", "consumers"},
    # The dashboard shows the approvals' figures too, so it sits above them.
    "dashboard": {"core", "audit", "consumers", "approvals"},
    # Forgetting a person deletes their approval requests too, so privacy sits above approvals.
    "privacy": {"core", "audit", "cdp", "accounts", "consumers", "approvals"},
}


@pytest.mark.parametrize(("package", "may_import"), sorted(LAYERS.items()))
def test_each_app_imports_only_the_layers_below_it(package, may_import):
    found = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in {package, *may_import}
    )

    assert found == []


def test_every_app_of_ours_has_its_place_in_the_layers():
    apps = {module.split(".")[0] for module in import_graph()}

    assert apps - {"backoffice", "bench", "tests", "manage"} <= set(LAYERS)
