"""Imports run one way: the audit app imports no other app of ours, and the modules of consumers
import one another at the top, but for an import marked as the cycle-breaker it is."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = {
    "accounts",
    "audit",
    "backoffice",
    "bench",
    "cdp",
    "cdp_sandbox",
    "consumers",
    "core",
    "dashboard",
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
