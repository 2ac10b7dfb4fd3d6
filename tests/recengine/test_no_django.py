import ast
import subprocess
import sys
from pathlib import Path

import recengine

FORBIDDEN = {"django", "celery"}
PACKAGE = Path(recengine.__file__).parent


def test_no_module_imports_django_or_celery():
    offenders = []
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{source}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_recengine_loads_neither():
    code = (
        "import sys, recengine, recengine.features, recengine.models; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert out.stdout.strip() == "[]"
