"""The README's SDK example runs as printed against `coldshift serve` with the shipped catalog."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import ServerProcess

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_sdk_example_runs(tmp_path: Path) -> None:
    text = README.read_text()
    match = re.search(r"## Using it from the SDK\n\n```python\n(.*?)```", text, re.S)
    assert match is not None, "the README lost its SDK example"
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'readme.db'}", catalog=None, log_path=tmp_path / "serve.log"
    ).start()
    try:
        script = match.group(1).replace('URL = "http://127.0.0.1:8080"', f'URL = "{server.url}"')
        assert server.url in script
        (tmp_path / "example.py").write_text(script)
        result = subprocess.run(
            [sys.executable, str(tmp_path / "example.py")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SUCCESS ["), result.stdout
