"""The CLI and the personal-data key: generated and announced in development, refused in
production, not needed by the commands that do not hash."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson

from tests.conftest import REPO

SIMULATE = ["simulate", "--seed", "3", "--agents", "3", "--tenants", "1", "--load", "0.05"]


def omnicx(home: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``omnicx`` in a real process, with no OMNICX_* variable but ``environ``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env |= {"OMNICX_HOME": str(home), "OMNICX_CONFIG": str(home / "none.toml"), **environ}
    (home / "none.toml").parent.mkdir(parents=True, exist_ok=True)
    (home / "none.toml").write_text("")
    command = [sys.executable, "-m", "orchestration", *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def customer_hashes(out: Path) -> set[str]:
    lines = (out / "ground_truth_contacts.jsonl").read_bytes().splitlines()
    return {i for line in lines for i in orjson.loads(line)["customer_ids"]}


def test_development_generates_the_key_once_says_where_and_reuses_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = omnicx(home, *SIMULATE, "--to", "file", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    key_file = home / "pii.key"
    assert f"generated a personal-data key in {key_file}" in first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = omnicx(home, *SIMULATE, "--to", "file", "--out", str(tmp_path / "b"))
    assert second.returncode == 0 and "personal-data key" not in second.stderr
    hashes = customer_hashes(tmp_path / "a")
    assert hashes and hashes == customer_hashes(tmp_path / "b")


def test_production_without_a_key_exits_1_with_one_line(tmp_path: Path) -> None:
    result = omnicx(
        tmp_path,
        *SIMULATE,
        "--to",
        "file",
        "--out",
        str(tmp_path / "run"),
        OMNICX_ENVIRONMENT="production",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        'error: no personal-data key: environment = "production" needs OMNICX_PII_KEY '
        "(or pii_key in the settings file); see docs/identity.md"
    ]
    assert not (tmp_path / "pii.key").exists() and not (tmp_path / "run").exists()


def test_production_with_a_key_uses_it(tmp_path: Path) -> None:
    args = [*SIMULATE, "--to", "file", "--out", str(tmp_path / "run")]
    result = omnicx(tmp_path, *args, OMNICX_ENVIRONMENT="production", OMNICX_PII_KEY="k" * 40)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "pii.key").exists() and customer_hashes(tmp_path / "run")


def test_a_command_that_does_not_hash_needs_no_key_in_production(tmp_path: Path) -> None:
    result = omnicx(tmp_path, "kafka", "status", OMNICX_ENVIRONMENT="production")
    assert "personal-data key" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
