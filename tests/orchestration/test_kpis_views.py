"""``omnicx kpis`` as people read it and as programs read it (issue 13).

By default one row per group with the KPIs as columns: the terminal's tables round the exact
values of ``--format json`` into people's units (each figure read back as a person reads it is
within half a unit of its last digit), fit 80 and 120 columns without cutting a number, and show
service level, ASA and first response per channel; CSV and JSON are exact, each KPI's unit in
its header or key; ``--long`` is the long form (one row per KPI and group) of ``kpi_values``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.kpi_view import FAMILIES, column
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    build_int_layer,
    contact,
    handled_call,
    settings,
    small_centre,
    survey,
)
from warehouse.kpi_marts import refresh_marts
from warehouse.kpis import PER_CHANNEL, kpi_values, per_channel, unit

GROUPINGS = [[], ["tenant"], ["tenant", "channel"], ["day", "queue"], ["hour"], ["agent"]]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Two days of two brands: acme's small centre (voice, chat, e-mail, surveys, agents'
    states) and beta's voice calls and e-mails answered after hours."""
    home = tmp_path_factory.mktemp("home")
    centre = small_centre()
    beta = {"tenant": "beta", "queue": "beta.support", "agent": "agent-9"}
    centre["contacts"] += [
        handled_call("b1", "2026-01-05T14:00:00", customer="gus", answered=95.0, **beta),
        handled_call(
            "b2",
            "2026-01-05T14:10:00",
            customer="hal",
            answered=4001.0,
            ended=4300.0,
            wrapped=4330.0,
            **beta,
        ),
        contact("b3", "2026-01-05T15:00:00", customer="ivy", abandoned=70.0, **beta),
        *(
            contact(
                f"be{n}",
                f"2026-01-05T0{n}:00:00",
                channel="email",
                customer=f"mail-{n}",
                answered=3600.0 * n + 25.0,
                ended=3600.0 * n + 600.0,
                wrapped=3600.0 * n + 700.0,
                disposition="resolved",
                **beta,
            )
            for n in range(1, 4)
        ),
    ]
    centre["surveys"] += [
        survey("sb1", "b1", "2026-01-05T14:20:00", nps=6, csat=3, ces=5, tenant="beta"),
        survey("sb2", "b2", "2026-01-05T15:20:00", nps=9, csat=5, ces=6, tenant="beta"),
    ]
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    build_int_layer(con, **centre)
    refresh_marts(con, DAY, NEXT_DAY, settings())
    con.close()
    return home


def omnicx_kpis(home: Path, *args: str, width: int = 80) -> str:
    command = ["--home", str(home), "kpis", "--from", str(DAY), "--to", str(NEXT_DAY), *args]
    outcome = CliRunner().invoke(
        main, command, prog_name="omnicx", env={"COLUMNS": str(width), "OMNICX_CONFIG": ""}
    )
    assert (outcome.exit_code, outcome.stderr) == (0, ""), outcome.output
    return outcome.stdout


def exact(home: Path, by: list[str]) -> list[dict]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return kpi_values(con, DAY, NEXT_DAY, by, settings())


def by_option(by: list[str]) -> list[str]:
    return ["--by", ",".join(by)] if by else []


def group_text(value: str | None, dimension: str) -> str:
    """A group's JSON value as the table shows it: an hour without seconds."""
    if value is None:
        return "(none)"
    if dimension == "hour":
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def read_back(text: str) -> tuple[float, float]:
    """A figure as a person reads it, in the KPI's base unit (fractions, seconds, points), and
    half a unit of its last digit in that unit."""
    if text.endswith("%"):
        return float(text[:-1]) / 100, 0.0005
    if text.endswith(" h"):
        return float(text[:-2]) * 3600, 0.05 * 3600
    if ":" in text:
        *hours, minutes, seconds = (int(part) for part in text.split(":"))
        assert 0 <= minutes < 60 and 0 <= seconds < 60 and (not hours or len(text) >= 7)
        return (hours[0] if hours else 0) * 3600 + minutes * 60 + seconds, 0.5
    if "." in text:
        return float(text), 0.005
    return int(text.replace(",", "")), 0.5


def tables_of(output: str) -> dict[str, list[list[str]]]:
    """The output's tables: title -> its data rows, each cell as printed (cells are separated
    by two or more spaces, a cell holds at most one)."""
    found: dict[str, list[list[str]]] = {}
    for block in output.split("\n\n"):
        lines = block.strip("\n").splitlines()
        rule = next((i for i, line in enumerate(lines) if set(line.strip()) == {"─"}), None)
        if rule is None:
            continue
        found[lines[0].strip()] = [re.split(r" {2,}", line.strip()) for line in lines[rule + 1 :]]
    return found


@pytest.mark.parametrize("by", GROUPINGS, ids=lambda by: ",".join(by) or "overall")
@pytest.mark.parametrize("width", [80, 120])
def test_the_wide_table_rounds_the_exact_json_into_peoples_units(home, by, width):
    rows = json.loads(omnicx_kpis(home, *by_option(by), "--format", "json"))
    output = omnicx_kpis(home, *by_option(by), width=width)
    assert (
        max(len(line) for line in output.splitlines() if not line.startswith("knob set")) <= width
    )
    assert "…" not in output
    shown = tables_of(output)
    split = "channel" not in by
    checked = 0
    for family in FAMILIES:
        present = [kpi for kpi, _ in family.columns if any(column(kpi) in r for r in rows)]
        if not present:
            assert not any(family.title in title for title in shown)
            continue
        own_split = split and family.per_channel
        groups = [*by, "channel"] if own_split else by
        title = f"{family.title}, per channel" if own_split else family.title
        expected = [
            r
            for r in rows
            if (not split or (r["channel"] != "all") == own_split)
            and any(r.get(column(kpi)) is not None for kpi in present)
        ]
        printed = shown[title]
        assert len(printed) == len(expected), title
        for row, cells in zip(expected, printed, strict=True):
            assert cells[: len(groups)] == [group_text(row[d], d) for d in groups]
            for kpi, text in zip(present, cells[len(groups) :], strict=True):
                value = row[column(kpi)]
                if value is None:
                    assert text == "–", (kpi, row)
                    continue
                number, half = read_back(text)
                assert abs(number - value) <= half + 1e-9, (kpi, text, value, row)
                if per_channel(kpi) and unit(kpi) == "seconds":
                    assert text.endswith(" h") == (row["channel"] == "email"), (kpi, text)
                checked += 1
    assert checked >= 10


def test_csv_and_json_are_the_exact_values_with_their_units_in_header_and_keys(home):
    by = ["tenant"]
    rows = json.loads(omnicx_kpis(home, "--by", "tenant", "--format", "json"))
    table = list(
        csv.DictReader(io.StringIO(omnicx_kpis(home, "--by", "tenant", "--format", "csv")))
    )
    assert [list(r) for r in table] == [list(r) for r in rows]
    assert "asa.v1 (seconds)" in rows[0] and "service_level.v1 (fraction)" in rows[0]
    assert {"nps.v1 (points)", "csat.v1.mean (score 1-5)", "ces.v1 (score 1-7)"} <= set(rows[0])
    assert {"offered.v1 (contacts)", "repeat_rate.v1 (contacts per journey)"} <= set(rows[0])
    overall = {(r["kpi"], r["tenant"]): r["value"] for r in exact(home, by)}
    per_channel_values = {
        (r["kpi"], r["tenant"], r["channel"]): r["value"] for r in exact(home, [*by, "channel"])
    }
    compared = 0
    for row, line in zip(rows, table, strict=True):
        for key, value in row.items():
            if key in {"tenant", "channel", "knob_set", "knobs"}:
                continue
            kpi = key.rsplit(" (", 1)[0]
            assert key == f"{kpi} ({unit(kpi)})"
            if row["channel"] == "all":
                want = None if per_channel(kpi) else overall.get((kpi, row["tenant"]))
            else:
                want = per_channel_values.get((kpi, row["tenant"], row["channel"]))
                want = want if per_channel(kpi) else None
            assert value == want, (key, row)  # exact: full precision, fractions
            assert line[key] == ("" if want is None else str(want))
            assert want is None or float(line[key]) == want
            compared += want is not None
    assert compared >= 30
    assert rows[0]["knob_set"] == exact(home, by)[0]["knob_set"]


def test_an_overall_that_mixes_channels_is_shown_per_channel(home):
    output = omnicx_kpis(home, "--by", "tenant")
    shown = tables_of(output)
    speed = shown["Speed of answer, per channel"]
    expected = exact(home, ["tenant", "channel"])
    asa = {(r["tenant"], r["channel"]): r["value"] for r in expected if r["kpi"] == "asa.v1"}
    printed = {(cells[0], cells[1]): cells[3] for cells in speed}
    assert set(printed) == {key for key, value in asa.items() if value is not None}
    assert printed[("beta", "email")].endswith(" h")
    assert read_back(printed[("beta", "email")])[0] == pytest.approx(asa["beta", "email"], abs=180)
    assert printed[("beta", "voice")] == "34:08"  # (95 + 4001) / 2 s
    # the tables of KPIs comparable across channels have one row per tenant, no channel
    assert [cells[0] for cells in shown["Volume and handling"]] == ["acme", "beta"]
    # with the channel in --by nothing is split: no table says "per channel"
    assert not any(
        "per channel" in title for title in tables_of(omnicx_kpis(home, "--by", "channel"))
    )
    long = json.loads(omnicx_kpis(home, "--by", "tenant", "--long", "--format", "json"))
    assert {r["tenant"] for r in long if r["kpi"] == "asa.v1"} == {"acme", "beta"}  # --long: mixed
    assert set(PER_CHANNEL) <= {r["kpi"] for r in long}


@pytest.mark.parametrize("by", [[], ["tenant", "channel"], ["day", "agent"]])
def test_long_is_kpi_values_one_row_per_kpi_and_group(home, by):
    rows = exact(home, by)
    as_json = json.loads(omnicx_kpis(home, *by_option(by), "--long", "--format", "json"))
    assert as_json == [
        {k: r[k] for k in ["kpi", "value", *by, "numerator", "denominator", "knob_set", "knobs"]}
        | ({"day": str(r["day"])} if "day" in by else {})
        for r in rows
    ]
    as_csv = omnicx_kpis(home, *by_option(by), "--long", "--format", "csv").splitlines()
    assert as_csv[0] == ",".join(
        ["kpi", *by, "value", "numerator", "denominator", "knob_set", "knobs"]
    )
    assert len(as_csv) == len(rows) + 1
    table = omnicx_kpis(home, *by_option(by), "--long").splitlines()
    header = [cell.strip() for cell in table[0].split("|")]
    assert header == ["kpi", *by, "value", "numerator", "denominator", "knob_set"]
    assert table[len(rows) + 2] == f"({len(rows)} rows)"
    assert table[-1].startswith(f"knob set {rows[0]['knob_set']}: abandon_treatment=negative")
    first = [cell.strip() for cell in table[2].split("|")]
    assert first[0] == rows[0]["kpi"] and first[len(by) + 1] == str(rows[0]["value"])
