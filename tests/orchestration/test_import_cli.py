"""`omnicx import ... --to file`: the simulator's events.jsonl, the analysts' dead letters, the
closing summary, a replay of the written events with `omnicx import events`, one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from orchestration.cli import main
from streams.dead_letters import dead_letter_id

T0 = 1609491600  # 2021-01-01T09:00:00Z
PHONE = "0612345678"


def omnicx(home: Path, *args: str):
    return CliRunner().invoke(main, ["--home", str(home), *args])


def queue_log(tmp_path: Path) -> Path:
    path = tmp_path / "queue_log"
    path.write_text(
        f"{T0}|c.1|support|NONE|ENTERQUEUE||{PHONE}|1\n"
        f"{T0 + 2}|c.1|support|SIP/2001|CONNECT|2|x|1\n"
        f"{T0 + 3}|c.1|support|SIP/2001|FROBNICATE|{PHONE}\n"
        f"{T0 + 14}|c.1|support|SIP/2001|COMPLETEAGENT|2|12|1\n"
    )
    return path


def test_an_import_to_files_writes_events_dead_letters_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = omnicx(
        tmp_path, "import", "queue-log", str(queue_log(tmp_path)), "--tenant", "acme",
        "--to", "file", "--out", str(out),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == "read 4 records from 1 file(s)"
    assert lines[1] == f"converted into 7 events to {out}"  # 4 of the call, 3 agent states
    assert "  contact.answered                  1" in lines
    assert lines[-2:] == [
        "rejected 1 records (each a dead letter)",
        f"  {'unknown queue_log event':<40} {1:>10}",
    ]
    events = [orjson.loads(line) for line in (out / "events.jsonl").read_bytes().splitlines()]
    assert len(events) == 7 and {e["tenant"] for e in events} == {"acme"}
    (dead,) = [
        orjson.loads(line) for line in (out / "dead_letters.jsonl").read_bytes().splitlines()
    ]
    assert dead["dead_letter_id"] == dead_letter_id("import:queue-log:queue_log", 0, 3)
    assert (dead["topic"], dead["offset"], dead["errors"]) == (
        "import:queue-log:queue_log",
        3,
        ["unknown queue_log event: FROBNICATE"],
    )
    assert (dead["tenant"], dead["occurred_at"]) == ("acme", "2021-01-01T09:00:03.000Z")
    assert PHONE not in (out / "dead_letters.jsonl").read_text()  # analysts' record: no values
    assert dead["redacted_preview"] is None and "raw_base64" not in dead

    # the written events go on as they are: the same bytes after a second pass
    again = tmp_path / "again"
    replay = omnicx(
        tmp_path, "import", "events", str(out / "events.jsonl"), "--to", "file", "--out", str(again)
    )
    assert replay.exit_code == 0, replay.output
    assert (again / "events.jsonl").read_bytes() == (out / "events.jsonl").read_bytes()
    assert "rejected 0 records" in replay.stdout


def test_unusable_command_lines_are_one_line_errors(tmp_path: Path) -> None:
    missing = omnicx(tmp_path, "import", "queue-log", str(tmp_path / "nope"), "--to", "kafka")
    assert missing.exit_code == 1
    assert missing.output.strip() == f"error: no such file: {tmp_path / 'nope'}"
    no_mapping = omnicx(tmp_path, "import", "csv", str(queue_log(tmp_path)), "--to", "kafka")
    assert no_mapping.exit_code == 1
    assert "needs --mapping FILE" in no_mapping.output.strip().splitlines()[-1]
    no_out = omnicx(tmp_path, "import", "queue-log", str(queue_log(tmp_path)), "--to", "file")
    assert no_out.exit_code == 2 and "--to file needs --out DIR" in no_out.output
