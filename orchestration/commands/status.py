"""``omnicx status``: the deployment at a glance (``orchestration.status`` gathers it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from schemas.settings import Settings


@click.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Show the broker, the services and the consumer groups' members, lag per topic, the last
    landed file, the newest event analysts see, the last refresh and its failed checks, and the
    dead letters of today (UTC). Exit code 1 when the broker does not answer."""
    from orchestration.status import gather

    now = datetime.now(UTC)
    state = gather(settings, now)
    for line in render(state, now):
        click.echo(line)
    if not state.broker_answers:
        raise SystemExit(1)


def render(state, now: datetime) -> list[str]:
    """The lines of ``omnicx status`` for a gathered ``orchestration.status.Status``."""
    lines = [_line("broker", _broker(state))]
    if state.services:
        lines.append(_line("services", f"{len(state.services)} under supervisord"))
        for service in state.services:
            alive = f"pid {service.pid}, up {_age(service.uptime_seconds)}" if service.pid else "-"
            lines.append(f"  {service.name:<20} {service.state:<9} {alive}  log {service.log_file}")
    else:
        lines.append(_line("services", "none (`omnicx up` starts them)"))
    if state.kafka_error:
        lines.append(_line("kafka", f"cannot read the groups: {state.kafka_error}"))
    for group in state.groups:
        lines.append(_line(f"{group.stage} group", f"{group.group}: {group.members} member(s)"))
        for topic, behind in group.lag.items():
            lines.append(f"  {topic:<40} lag {behind}")
    lines += [
        _line("last landed", _when(state.last_landed, now)),
        _line("newest event", _when(state.newest_event, now, "none in the warehouse yet")),
        _line("last refresh", _refresh(state.last_refresh, now)),
    ]
    if state.last_refresh is not None:
        failed = state.last_refresh.failed_checks
        names = ", ".join(f"{f.asset}:{f.check}" for f in failed)
        lines.append(_line("failed checks", names or "none"))
    dead = "unknown" if state.dead_letters_today is None else str(state.dead_letters_today)
    lines.append(
        _line("dead letters today", f"{dead} (since {state.day_start:%Y-%m-%d} 00:00 UTC)")
    )
    if state.retention:
        lines.append(_line("retention", "contact-level data per tenant (the retention job)"))
        for tenant, (days, first_kept) in state.retention.items():
            applied = f"kept from {first_kept}" if first_kept else "not applied yet"
            lines.append(f"  {tenant:<40} {days} days, {applied}")
    if state.dagster_url:
        lines.append(_line("dagster UI", state.dagster_url))
    return lines


def _line(label: str, value: str) -> str:
    return f"{label + ':':<20} {value}"


def _broker(state) -> str:
    answers = "answering" if state.broker_answers else "NOT answering"
    if state.local_broker is None:
        return f"cluster {state.bootstrap}, {answers}"
    if not state.local_broker.running:
        return f"local broker not running ({state.bootstrap} {answers})"
    return f"local broker pid {state.local_broker.pid} at {state.bootstrap}, {answers}"


def _refresh(run, now: datetime) -> str:
    if run is None:
        return "never"
    return f"{run.status} {_when(run.ended or run.started, now)} (run {run.run_id[:8]})"


def _when(moment: datetime | None, now: datetime, missing: str = "never") -> str:
    if moment is None:
        return missing
    ago = _age((now - moment).total_seconds())
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({ago} ago)"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return str(timedelta(seconds=round(max(seconds, 0))))
