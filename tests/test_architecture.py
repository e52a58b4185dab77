"""Dependencies point left only: mediation ← mediators ← sessions ← signing ← judicial_link.

Read from the source (``ast``), so an import added anywhere — a module, a function body, a
``TYPE_CHECKING`` block — is caught. The URLconf and websocket routes gather the apps by dotted
path strings, which is how the core wires them without importing them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["mediation", "mediators", "sessions", "signing", "judicial_link"]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_from_apps_to_its_left(app: str) -> None:
    rightwards = set(ORDER[ORDER.index(app) + 1 :])
    offences = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for line, module in _imports(path):
            if module.split(".")[0] in rightwards:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


def test_the_check_sees_an_offence() -> None:
    """The parser finds imports wherever they are (guards the check itself)."""
    probe = ROOT / "var" / "architecture_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text("def f():\n    from judicial_link import package\n    import signing.services\n", encoding="utf-8")
    try:
        assert [module for _line, module in _imports(probe)] == ["judicial_link", "signing.services"]
    finally:
        probe.unlink()
