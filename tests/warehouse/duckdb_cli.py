"""The duckdb CLI that users install today, for the tests that open the warehouse with it.

It comes from PyPI (the ``duckdb-cli`` package ships the official binary) and is installed once
under ``.omnicx/tools/`` with the project's pip, so that reruns do not download it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO

# The newest duckdb CLI on PyPI when this was written (DuckDB 2.0 has no CLI release yet).
DUCKDB_CLI_VERSION = "1.5.6"


def duckdb_cli() -> Path:
    """The CLI binary, installed on first use."""
    target = REPO / ".omnicx" / "tools" / f"duckdb-cli-{DUCKDB_CLI_VERSION}"
    binary = target / "duckdb_cli" / "duckdb"
    if binary.exists():
        return binary
    staging = target.with_name(f"{target.name}.installing-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    spec = f"duckdb-cli=={DUCKDB_CLI_VERSION}"
    subprocess.run([*pip, "--no-deps", "--target", str(staging), spec], check=True)
    try:
        staging.rename(target)  # atomic: a concurrent run either sees it whole or not at all
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run installed it first
    return binary


def cli_query(database: Path, sql: str) -> list[dict[str, Any]]:
    """The rows of one statement run by the CLI on ``database`` opened read-only."""
    done = subprocess.run(
        [str(duckdb_cli()), "-readonly", "-json", str(database), "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else []
