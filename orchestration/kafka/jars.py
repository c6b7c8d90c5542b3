"""Fetch the broker's jars from Maven Central once, with Maven and the POM beside this file."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

POM = Path(__file__).with_name("pom.xml")


class BrokerSetupError(RuntimeError):
    """Something the broker needs on this machine is missing (Java, Maven, jars)."""


def ensure_jars(jars_dir: Path) -> Path:
    """The folder holding the broker's jars, fetched first if absent or from another POM.

    Brokers starting at once (test workers, a demo beside the tests) share the folder: one
    fetches while the others wait on the lock, then find the jars there."""
    wanted = hashlib.sha256(POM.read_bytes()).hexdigest()
    jars_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(jars_dir.with_name(jars_dir.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_unless_current(jars_dir, wanted)


def _fetch_unless_current(jars_dir: Path, wanted: str) -> Path:
    stamp = jars_dir / ".pom-sha256"
    if stamp.exists() and stamp.read_text() == wanted:
        return jars_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerSetupError("Maven (mvn) is not on PATH; it fetches the Kafka jars once")
    staging = jars_dir.with_name(jars_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging.resolve()}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise BrokerSetupError("Maven could not fetch the Kafka jars: " + " | ".join(tail))
    (staging / ".pom-sha256").write_text(wanted)
    shutil.rmtree(jars_dir, ignore_errors=True)
    staging.rename(jars_dir)
    return jars_dir
