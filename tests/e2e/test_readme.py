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


def readme_block(after: str) -> str:
    """The first Python block of the README after the text ``after``."""
    text = README.read_text()
    match = re.search(re.escape(after) + r".*?```python\n(.*?)```", text, re.S)
    assert match is not None, f"the README lost its example after {after!r}"
    return match.group(1)


def run_example(script: str, server: ServerProcess, tmp_path: Path, name: str) -> str:
    script = script.replace("http://127.0.0.1:8080", server.url)
    assert server.url in script
    (tmp_path / name).write_text(script)
    result = subprocess.run(
        [sys.executable, str(tmp_path / name)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_readme_cold_migration_and_admin_examples_run(tmp_path: Path) -> None:
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'readme.db'}", catalog=None, log_path=tmp_path / "serve.log"
    ).start()
    try:
        fault = run_example(readme_block("coldshift's own signer:"), server, tmp_path, "admin.py")
        migration = run_example(readme_block("## Cold migration"), server, tmp_path, "cold.py")
        groups = run_example(readme_block("## ECS groups"), server, tmp_path, "groups.py")
    finally:
        server.stop()
    assert "'fail_next': 1" in fault and "'operation': 'copy_disks'" in fault, fault
    assert groups == "SUCCESS 3 members on 3 hosts\n", groups
    lines = migration.splitlines()
    assert lines.count("    SUCCESS SHUTOFF None") == 3, migration  # stop and two moves
    assert "    RUNNING RESIZE resize_migrated" in lines, migration
    assert "migrate to the public pool:" in lines, migration
    assert [line.split("ECSs: ")[1] for line in lines[-2:]] == ["0", "0"], migration
