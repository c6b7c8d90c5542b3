"""The subcommands of ``omnicx``, one module each; ``orchestration.cli`` registers this list."""

from orchestration.commands.alerts import alerts
from orchestration.commands.checks import checks
from orchestration.commands.erase import erase
from orchestration.commands.forecast import forecast
from orchestration.commands.importer import import_
from orchestration.commands.kafka import kafka
from orchestration.commands.kpis import kpis
from orchestration.commands.lag import lag
from orchestration.commands.outbound import outbound
from orchestration.commands.refresh import refresh
from orchestration.commands.replay import replay_dead_letters
from orchestration.commands.report import report
from orchestration.commands.simulate import simulate
from orchestration.commands.sink import sink
from orchestration.commands.sql import sql
from orchestration.commands.staffing import staffing
from orchestration.commands.status import status
from orchestration.commands.stream import stream
from orchestration.commands.tenants import tenants
from orchestration.commands.up import down, up
from orchestration.commands.wallboard import wallboard
from orchestration.commands.warehouse import warehouse

COMMANDS = [
    up,
    down,
    status,
    kafka,
    stream,
    lag,
    simulate,
    import_,
    sink,
    sql,
    replay_dead_letters,
    warehouse,
    refresh,
    kpis,
    staffing,
    report,
    forecast,
    outbound,
    checks,
    alerts,
    erase,
    tenants,
    wallboard,
]
