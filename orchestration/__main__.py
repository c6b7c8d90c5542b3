"""``python -m orchestration`` is the ``omnicx`` command (for subprocesses started by tests and
by the demo, which must not depend on the console script being on PATH)."""

from orchestration.cli import main

main(prog_name="omnicx")
