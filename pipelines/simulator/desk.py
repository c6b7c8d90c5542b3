"""Agents and the ACD: shifts, breaks, states, skills-based routing and occupancy.

An agent's state changes only through ``set_state``, which emits ``agent.state_changed`` and
adds the time spent in the previous state to the occupancy of its tenant and day (a state lasts
until the next change, at most until the end of its day in the tenant's reporting time zone, as
``occupancy.v1`` says). Two
changes of one agent never share a millisecond, so the order of its states is never ambiguous.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.simulator.clock import MINUTE
from pipelines.simulator.emitter import Emitter
from pipelines.simulator.model import HANDLING, WAITING, Agent, Contact, Queue

Schedule = Callable[..., None]
_WORKING = ("busy", "after_contact_work")


class Desk:
    __slots__ = ("at", "emit", "occupancy", "on_take")

    def __init__(
        self, at: Schedule, emit: Emitter, on_take: Callable[[Agent, Contact, int], None]
    ) -> None:
        self.at = at
        self.emit = emit
        self.on_take = on_take  # the contact flow, called when an agent takes a queued contact
        # (tenant, day) -> [ms busy or in after-contact work, ms available]
        self.occupancy: dict[tuple[str, str], list[int]] = {}

    # ---------------------------------------------------------------- states

    def set_state(self, agent: Agent, state: str, t: int) -> int:
        """Change state at ``t`` (or 1 ms after the previous change); the time used."""
        if t <= agent.since:
            t = agent.since + 1
        previous = agent.state
        if previous in _WORKING or previous == "available":
            since = agent.since
            days = agent.tenant.days
            end = min(t, days.end_of_day(since))
            key = (agent.tenant.name, days.day_of(since))
            bucket = self.occupancy.get(key)
            if bucket is None:
                bucket = self.occupancy[key] = [0, 0]
            bucket[0 if previous in _WORKING else 1] += end - since
        agent.state = state
        agent.since = t
        self.emit.agent_state(t, agent, state)
        return t

    # ---------------------------------------------------------------- shift events

    def shift_start(self, t: int, agent: Agent, _: int) -> None:
        # An overloaded night can keep an agent in overtime until the next shift: then the
        # agent is still logged in (and maybe busy) and simply carries on.
        logged_in = agent.state != "offline"
        agent.shift_over = False
        for queue in agent.queues:
            queue.staffed += 1
            queue.present += not logged_in
        if agent.state in ("offline", "available"):
            self.free(agent, t)

    def break_due(self, t: int, agent: Agent, length: int) -> None:
        agent.break_due += length
        if agent.state == "available":
            self.free(agent, t)

    def break_end(self, t: int, agent: Agent, _: object = None) -> None:
        self.free(agent, t)

    def shift_end(self, t: int, agent: Agent, _: int) -> None:
        agent.shift_over = True
        agent.break_due = 0
        for queue in agent.queues:
            queue.staffed -= 1
        if agent.state == "available":
            self.free(agent, t)

    def work_done(self, t: int, agent: Agent, _: object = None) -> None:
        """After-contact work (or a dial without answer) is over."""
        agent.contact = None
        self.free(agent, t)

    # ---------------------------------------------------------------- routing

    def free(self, agent: Agent, t: int) -> None:
        """An agent who can move on: leaves, takes a due break, takes work, or waits."""
        if agent.shift_over and self._can_leave(agent):
            self.set_state(agent, "offline", t)
            for queue in agent.queues:
                queue.present -= 1
            return
        if agent.break_due and not agent.shift_over:
            t = self.set_state(agent, "break", t)
            self.at(t + agent.break_due, self.break_end, agent)
            agent.break_due = 0
            return
        for queue in agent.queues:
            line = queue.line
            while line:
                c = line.popleft()
                if c.state == WAITING:
                    self.take(agent, c, t)
                    return
        if agent.state != "available":
            agent.idle_since = self.set_state(agent, "available", t)
        if agent.shift_over:  # overtime: look again soon whether the work has gone
            self.at(t + MINUTE, self._recheck, agent)

    def _recheck(self, t: int, agent: Agent, _: object = None) -> None:
        if agent.state == "available":
            self.free(agent, t)

    def _can_leave(self, agent: Agent) -> bool:
        """Whether nobody would be left for work that is waiting or on its way."""
        return not any(
            (queue.waiting or queue.incoming) and not queue.staffed for queue in agent.queues
        )

    @staticmethod
    def longest_idle(queue: Queue) -> Agent | None:
        best = None
        for agent in queue.agents:
            if agent.state == "available" and (best is None or agent.idle_since < best.idle_since):
                best = agent
        return best

    def route(self, c: Contact, queue: Queue, t: int) -> None:
        """A contact just queued: to the longest idle skilled agent, else in line."""
        queue.waiting += 1
        agent = self.longest_idle(queue)
        if agent is None:
            queue.line.append(c)
        else:
            self.take(agent, c, t)

    def take(self, agent: Agent, c: Contact, t: int) -> None:
        c.queue.waiting -= 1
        self.reserve(agent, c, t)
        self.on_take(agent, c, t)

    def reserve(self, agent: Agent, c: Contact, t: int) -> None:
        c.state = HANDLING
        agent.contact = c
        self.set_state(agent, "busy", t)
