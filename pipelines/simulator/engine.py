"""The discrete-event simulation: arrivals, IVR, queues, handling, transfers, wrap-up,
surveys, returns and outbound campaigns, on one heap of timed steps.

``Engine.run()`` yields ``(time_ms, event)`` in event-time order while it simulates; when it is
exhausted, the engine's state (``contacts``, ``desk.occupancy``, customers ...) is the ground
truth of what happened. One ``random.Random(seed)`` drives every decision, and ties on the heap
are broken by insertion order, so a seed and a config always give the same run.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from pipelines.simulator import behaviour as draw
from pipelines.simulator.catalog import (
    CANCELLATION,
    CHANNELS,
    CLOSE_HOUR,
    OPEN_HOUR,
    OUTAGE_REASON,
    PROFILES,
    REASONS,
    Reason,
)
from pipelines.simulator.centre import (
    BREAK_DUE,
    CHANNEL_SKILL,
    SHIFT_END,
    SHIFT_START,
    build_tenants,
    plan_shifts,
)
from pipelines.simulator.clock import DAY, HOUR, MINUTE, SECOND, epoch_ms
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.customers import CustomerBook
from pipelines.simulator.desk import Desk
from pipelines.simulator.emitter import Emitter
from pipelines.simulator.ids import RunIds
from pipelines.simulator.model import (
    DONE,
    ROUTING,
    WAITING,
    Agent,
    Contact,
    Customer,
    Queue,
    Tenant,
)
from pipelines.simulator.texts import (
    AGENT_GREETINGS,
    AGENT_TEXTS,
    BOT_GREETING,
    EMAIL_ACKNOWLEDGEMENT,
    EMAIL_ANSWERS,
    FOLLOW_UP_TEXTS,
    SURVEY_COMMENTS,
    opening_text,
)
from pipelines.simulator.truth import CHURN_LOOKBACK_DAYS
from schemas.settings import Settings

OUTAGE_START = 10 * HOUR  # front-end outage message: 10:00-11:30 UTC, one tenant, weekly
OUTAGE_LENGTH = 90 * MINUTE
OUTAGE_DEFLECTION = 0.4  # callers who hang up after the outage message
DIAL_RATE_PER_AGENT = 12 / HOUR  # outbound attempts per outbound agent, 10:00-18:00 weekdays
DIAL_RESULTS = ("connected", "no_answer", "busy", "voicemail", "failed")
DIAL_WEIGHTS = (0.35, 0.3, 0.1, 0.2, 0.05)
RECENT_CUSTOMERS = 12
MAX_ATTEMPTS = 5  # contacts about one issue, returns included
CAMPAIGN_TOPIC = Reason("campaign", 0.0, 0.0, 1.0, True)
_RECODED_REASONS = [r.name for r in REASONS if r.resolvable]


class ArrivalStream:
    """Poisson arrivals of one tenant and channel, with an hourly rate (piecewise constant)."""

    __slots__ = ("channel", "extra", "profile", "tenant")

    def __init__(self, tenant: Tenant, channel: str, extra: tuple[int, int, float] | None) -> None:
        self.tenant = tenant
        self.channel = channel
        total = sum(PROFILES[channel])
        self.profile = [w / total / HOUR for w in PROFILES[channel]]
        self.extra = extra  # (start, end, rate per ms) of an outage surge instead of the profile


class Engine:
    def __init__(self, config: SimulationConfig, settings: Settings) -> None:
        self.config = config
        self.kpis = settings.kpis
        self.rng = random.Random(config.seed)
        self.start = epoch_ms(config.start)
        self.end = self.start + config.days * DAY
        # Planted incomplete contacts must be closable by the stream's event-time watermark.
        stream = settings.stream
        self.incomplete_before = self.end - (
            (stream.idle_timeout_seconds + stream.lateness_seconds) * SECOND + 4 * HOUR
        )
        # The days of the run the centre stays closed (config.closed_weekdays, closed_dates).
        self.closed = [
            config.is_closed(config.start + timedelta(days=n)) for n in range(config.days)
        ]
        self.ids = RunIds(config.seed, config.start)
        self.emit = Emitter(self.ids)
        self.heap: list[tuple[int, int, Callable[..., None], Any, Any]] = []
        self.steps = 0
        self.desk = Desk(self.at, self.emit, self._answer)
        self.book = CustomerBook(self.rng, self.ids)
        self.tenants = build_tenants(config, self.ids, settings)
        self.contacts: list[Contact] = []
        self.tickets = 0
        self.outages: list[tuple[Tenant, int, int]] = []
        self.violations: list[dict[str, Any]] = []
        self._schedule_shifts()
        self._schedule_arrivals()
        self._schedule_dialers()

    # ---------------------------------------------------------------- the loop

    def at(self, t: int, step: Callable[..., None], a: Any = None, b: Any = None) -> None:
        self.steps += 1
        heapq.heappush(self.heap, (t, self.steps, step, a, b))

    def run(self) -> Iterator[tuple[int, dict[str, Any]]]:
        heap, pop, release = self.heap, heapq.heappop, self.emit.release
        while heap:
            t, _, step, a, b = pop(heap)
            # Everything emitted from now on is at or after t: earlier events are final.
            yield from release(t)
            step(t, a, b)
        yield from release(math.inf)

    # ---------------------------------------------------------------- set-up

    def _schedule_shifts(self) -> None:
        steps = {
            SHIFT_START: self.desk.shift_start,
            BREAK_DUE: self.desk.break_due,
            SHIFT_END: self.desk.shift_end,
        }
        for t, kind, agent, length in plan_shifts(self.config, self.tenants, self.rng):
            self.at(t, steps[kind], agent, length)

    def _schedule_arrivals(self) -> None:
        for tenant in self.tenants:
            for channel in CHANNELS:
                self._next_arrival(ArrivalStream(tenant, channel, None), self.start)
        if not self.config.outages:
            return
        for day in range(0, self.config.days, 7):
            if self.closed[day]:
                continue  # nobody calls a closed centre: its outage goes unnoticed
            tenant = self.tenants[(day // 7) % len(self.tenants)]
            begin = self.start + day * DAY + OUTAGE_START
            hour = (OUTAGE_START // HOUR) - OPEN_HOUR
            base = tenant.volumes[day]["voice"] * ArrivalStream(tenant, "voice", None).profile[hour]
            self.outages.append((tenant, begin, begin + OUTAGE_LENGTH))
            surge = ArrivalStream(tenant, "voice", (begin, begin + OUTAGE_LENGTH, base))
            self._next_arrival(surge, begin)

    def _rate(self, stream: ArrivalStream, t: int) -> float:
        if stream.extra is not None:
            begin, end, rate = stream.extra
            return rate if begin <= t < end else 0.0
        hour = (t % DAY) // HOUR - OPEN_HOUR
        if not 0 <= hour < CLOSE_HOUR - OPEN_HOUR:
            return 0.0
        return stream.tenant.volumes[(t - self.start) // DAY][stream.channel] * stream.profile[hour]

    def _next_arrival(self, stream: ArrivalStream, t: int) -> None:
        """Schedule the stream's next arrival after ``t`` (exact for piecewise-constant rates:
        a gap that crosses an hour is drawn again from the boundary, arrivals being memoryless)."""
        limit = self.end if stream.extra is None else stream.extra[1]
        while t < limit:
            boundary = min(t - t % HOUR + HOUR, limit)
            rate = self._rate(stream, t)
            if rate > 0.0:
                arrival = t + int(self.rng.expovariate(rate))
                if arrival < boundary:
                    self.at(arrival, self._arrival, stream)
                    return
            t = boundary

    def _schedule_dialers(self) -> None:
        for tenant in self.tenants:
            if tenant.outbound.agents:
                self._next_dial(tenant, self.start)

    # ---------------------------------------------------------------- inbound contacts

    def _arrival(self, t: int, stream: ArrivalStream, _: object) -> None:
        self._next_arrival(stream, t)
        customer = self.book.pick(stream.tenant)
        if (
            not customer.contacts
            and t >= self.end - CHURN_LOOKBACK_DAYS * DAY  # so that the score sees it
            and self.rng.random() < self.config.churn_share
        ):
            customer.planted = True
        if customer.planted:
            topic = CANCELLATION
        elif stream.extra is not None:
            topic = OUTAGE_REASON
        else:
            topic = draw.reason(self.rng)
        self._inbound(t, customer, stream.channel, topic, 1)

    def _new_contact(self, t: int, customer: Customer, channel: str, direction: str) -> Contact:
        contact_id = self.ids.contact(len(self.contacts) + 1)
        c = Contact(contact_id, customer.tenant, channel, direction, customer, t)
        self.contacts.append(c)
        customer.contacts.append(c)
        return c

    def _inbound(
        self, t: int, customer: Customer, channel: str, topic: Reason, attempt: int
    ) -> None:
        rng = self.rng
        c = self._new_contact(t, customer, channel, "inbound")
        c.attempt = attempt
        c.topic = topic
        c.intent = customer.planted
        c.needs_tier2 = channel == "voice" and rng.random() < topic.tier2
        c.started_reason = self._started_reason(c, topic)
        c.reason = c.started_reason
        c.customer_obj = self.book.inbound_object(customer, channel)
        self.book.note(customer, c.customer_obj)
        attributes = {"entry_point": _entry_point(rng, c), "language": draw.language(rng)}
        if c.started_reason is not None:
            attributes["reason"] = c.started_reason
        self.emit.started(t, c, attributes)
        if customer.planted and "all" not in customer.opt_outs:
            self._opt_out(t + draw.between(rng, 1, 3), c, "all")
        queue = c.tenant.queues[CHANNEL_SKILL[channel]]
        if channel == "voice":
            self._ivr(t, c, queue)
            return
        if channel == "chat":
            self.emit.message(t + SECOND, c, False, "bot", BOT_GREETING)
            t += draw.between(rng, 3, 15)
            link = self.book.chat_link(customer)
            if link is not None:
                self.emit.identity_linked(t, c, link)
                self.book.note(customer, link)
            t += draw.between(rng, 2, 10)
        self.emit.message(t, c, True, "customer", opening_text(rng, topic.name, c.intent))
        self._to_queue(t + draw.between(rng, 0.5, 3), c, queue)

    def _started_reason(self, c: Contact, topic: Reason) -> str | None:
        """The reason the source knows at the start: the IVR menu for voice, a form or a mail
        classifier sometimes, nothing for SMS and social. Planted customers on text channels
        show their intent only in their messages."""
        draw_ = self.rng.random()
        if c.channel == "voice":
            return topic.name
        if c.intent:
            return topic.name if c.channel == "email" and draw_ < 0.5 else None
        if c.channel == "email":
            return topic.name if draw_ < 0.6 else None
        if c.channel == "chat":
            return topic.name if draw_ < 0.7 else None
        return None

    def _ivr(self, t: int, c: Contact, queue: Queue) -> None:
        rng = self.rng
        self.emit.contact(
            t + 500, "ivr.message_played", c, {"message_id": "greeting", "kind": "greeting"}
        )
        outage = self._outage(c.tenant, t)
        if outage is not None:
            c.outage_heard = True
            heard = t + draw.between(rng, 4, 8)
            message = {"message_id": f"outage-{c.tenant.name}", "kind": "outage"}
            self.emit.contact(heard, "ivr.message_played", c, message)
            if rng.random() < OUTAGE_DEFLECTION:
                self._deflect(heard + draw.between(rng, 10, 30), c, "front_end_message")
                self._come_back(c, outage, "outage")
                return
            self._to_queue(heard + draw.between(rng, 5, 15), c, queue)
            return
        choice = rng.random()
        if choice < 0.06:
            self._deflect(t + draw.between(rng, 40, 150), c, "self_service")
            self._come_back(c, t, "self_service")
        elif choice < 0.08:
            self._deflect(t + draw.between(rng, 15, 40), c, "ivr_menu")
        else:
            self._to_queue(t + draw.between(rng, 15, 45), c, queue)

    def _outage(self, tenant: Tenant, t: int) -> int | None:
        """The end of the outage the tenant is in at ``t``, if any."""
        for affected, begin, end in self.outages:
            if affected is tenant and begin <= t < end:
                return end
        return None

    def _deflect(self, t: int, c: Contact, cause: str) -> None:
        c.deflection = cause
        c.state = DONE
        self.emit.contact(t, "contact.deflected", c, {"cause": cause})

    def _to_queue(self, t: int, c: Contact, queue: Queue) -> None:
        queue.incoming += 1
        self.at(t, self._enqueue, c, queue)

    def _enqueue(self, t: int, c: Contact, queue: Queue) -> None:
        queue.incoming -= 1
        attributes = {"skill": queue.skill, "priority": queue.priority}
        self.emit.contact(t, "contact.queued", c, attributes, queue=queue.name)
        if c.first_queued is None:
            c.first_queued = t
            patience = draw.patience(self.rng, c.channel)
            if patience is not None:
                self.at(t + patience, self._abandon, c, queue)
                if c.channel == "voice" and patience > MINUTE:
                    self.at(t + MINUTE, self._advice, c, queue)
        if queue.name not in c.queues:
            c.queues.append(queue.name)
        c.queue = queue
        c.state = WAITING
        self.desk.route(c, queue, t)

    def _advice(self, t: int, c: Contact, queue: Queue) -> None:
        if c.state == WAITING and c.queue is queue:
            message = {"message_id": "hold-advice", "kind": "advice"}
            self.emit.contact(t, "ivr.message_played", c, message)

    def _abandon(self, t: int, c: Contact, queue: Queue) -> None:
        if c.state != WAITING or c.queue is not queue:
            return
        c.state = DONE
        queue.waiting -= 1
        c.abandoned_at = t
        self.emit.contact(t, "contact.abandoned", c)
        short = t - c.first_queued < self.kpis.short_abandon_seconds * SECOND
        self._come_back(c, t, "short_abandon" if short else "abandoned")

    # ---------------------------------------------------------------- handling

    def _answer(self, agent: Agent, c: Contact, t: int) -> None:
        """An agent took a queued contact at ``t``: it is answered after the ring or first reply."""
        answered = t + draw.answer_delay(self.rng, c.channel)
        self.emit.contact(answered, "contact.answered", c, agent_id=agent.id)
        if c.answered is None:
            c.answered = answered
        if agent.id not in c.agents:
            c.agents.append(agent.id)
        self._handle(agent, c, answered, 2 if c.queue.skill == "voice_t2" else 1)

    def _handle(self, agent: Agent, c: Contact, t: int, tier: int) -> None:
        """Plan one agent's part of a contact from its answer at ``t`` to its end or transfer."""
        rng, emit = self.rng, self.emit
        channel = c.channel
        if channel == "voice":
            transfer = tier == 1 and c.needs_tier2
            talk = draw.talk(rng, 110 if transfer else 200 if tier == 1 else 260)
            holds = draw.holds(rng)
            pieces = [talk // (holds + 1)] * holds + [talk - holds * (talk // (holds + 1))]
            for piece in pieces[:-1]:
                t += piece
                emit.contact(t, "contact.hold_started", c)
                length = draw.between(rng, 15, 120)
                t += length
                emit.contact(t, "contact.hold_ended", c)
                c.hold_ms += length
            self.at(t + pieces[-1], self._part_done, agent, transfer)
            return
        if channel == "email":
            emit.message(t, c, False, "agent", EMAIL_ACKNOWLEDGEMENT)
            t += draw.between(rng, 120, 420)
            emit.message(t, c, False, "agent", rng.choice(EMAIL_ANSWERS))
            self.at(t + SECOND, self._part_done, agent, False)
            return
        emit.message(t, c, False, "agent", rng.choice(AGENT_GREETINGS))
        chat = channel == "chat"
        for _ in range(rng.randint(2, 6) if chat else rng.randint(1, 3)):
            t += draw.between(rng, 15, 90) if chat else draw.between(rng, 30, 240)
            emit.message(t, c, True, "customer", rng.choice(FOLLOW_UP_TEXTS))
            t += draw.between(rng, 8, 45) if chat else draw.between(rng, 15, 60)
            emit.message(t, c, False, "agent", rng.choice(AGENT_TEXTS))
        self.at(t + draw.between(rng, 5, 30), self._part_done, agent, False)

    def _part_done(self, t: int, agent: Agent, transfer: bool) -> None:
        c = agent.contact
        if transfer:
            self._transfer(t, agent, c)
        else:
            self._end(t, agent, c, self._disposition(c))

    def _transfer(self, t: int, agent: Agent, c: Contact) -> None:
        """The first agent cannot solve it: warm to a free tier-2 agent, else cold to the
        tier-2 queue, else (nobody on tier 2) the call ends escalated."""
        rng, desk = self.rng, self.desk
        tier2 = c.tenant.queues["voice_t2"]
        partner = desk.longest_idle(tier2) if rng.random() < 0.55 else None
        if partner is None and not tier2.present:
            self._end(t, agent, c, "escalated")
            return
        c.transfers += 1
        c.max_tier = 2
        acw = draw.after_contact_work(rng, "voice") // 2
        if partner is not None:
            c.warm += 1
            attributes = {"mode": "warm", "to_agent_id": partner.id, "tier": 2}
            self.emit.contact(t, "contact.transferred", c, attributes)
            desk.reserve(partner, c, t)
            answered = t + draw.between(rng, 10, 40)  # the consultation, then the hand-over
            self.emit.contact(answered, "contact.answered", c, agent_id=partner.id)
            if partner.id not in c.agents:
                c.agents.append(partner.id)
            done = desk.set_state(agent, "after_contact_work", answered)
            self.at(done + acw, desk.work_done, agent)
            self._handle(partner, c, answered, 2)
            return
        c.cold += 1
        attributes = {"mode": "cold", "to_queue": tier2.name, "tier": 2}
        self.emit.contact(t, "contact.transferred", c, attributes)
        c.state = ROUTING
        done = desk.set_state(agent, "after_contact_work", t)
        self.at(done + acw, desk.work_done, agent)
        self._to_queue(t + draw.between(rng, 1, 3), c, tier2)

    def _disposition(self, c: Contact) -> str:
        return draw.disposition(self.rng, c, c.max_tier, c.topic)

    def _end(self, t: int, agent: Agent, c: Contact, disposition: str) -> None:
        """The conversation ends; after-contact work; the wrap-up closes the contact."""
        rng = self.rng
        c.ended = t
        ended_by = "customer" if rng.random() < 0.55 else "agent"
        self.emit.contact(t, "contact.ended", c, {"ended_by": ended_by})
        t = self.desk.set_state(agent, "after_contact_work", t)
        wrapped = t + draw.after_contact_work(rng, c.channel)
        self.at(wrapped, self.desk.work_done, agent)
        c.state = DONE
        if (
            c.direction == "inbound"
            and c.started <= self.incomplete_before
            and rng.random() < self.config.incomplete_share
        ):
            c.incomplete = True  # the system loses the wrap-up: no disposition, no survey
            return
        self._wrap_up(wrapped, c, disposition, agent)
        if c.direction == "inbound":
            self._survey(c)
            if disposition != "resolved":
                self._come_back(c, wrapped, disposition)

    def _wrap_up(self, t: int, c: Contact, disposition: str, agent: Agent | None) -> None:
        rng = self.rng
        topic = c.topic
        resolvable = topic.resolvable
        if c.direction == "outbound":
            reason = c.started_reason
        elif c.intent:
            reason = c.started_reason or "account_change"
        elif resolvable and rng.random() < 0.1:  # the agent corrects the IVR's or form's reason
            reason = rng.choice(_RECODED_REASONS)
        else:
            reason = topic.name
        attributes: dict[str, Any] = {"disposition": disposition, "reason": reason}
        if not resolvable or rng.random() < 0.5:  # some desktops omit the default (true)
            attributes["resolvable_in_one_contact"] = resolvable
        if disposition in ("follow_up", "escalated") or not resolvable:
            self.tickets += 1
            c.ticket = attributes["ticket_id"] = self.ids.ticket(self.tickets)
        c.wrapped = t
        c.disposition = disposition
        c.reason = reason
        c.resolvable = resolvable
        agent_id = agent.id if agent is not None else None
        self.emit.contact(t, "contact.wrapped_up", c, attributes, agent_id=agent_id)

    def _survey(self, c: Contact) -> None:
        rng = self.rng
        rate = 0.6 if c.customer.planted else draw.SURVEY_RESPONSE[c.channel]
        if rng.random() >= rate:
            return
        at = c.wrapped + MINUTE + int(rng.lognormvariate(math.log(30 * MINUTE), 1.0))
        # The survey platform closes with the centre: no answer is collected on a closed day
        # (a closed day has no event at all), nor after the end of the run.
        if at >= self.end or self._closed_on(at - at % DAY):
            return
        target = self.kpis.service_level_seconds(c.channel) * SECOND
        latent = draw.satisfaction(c, c.answered - c.first_queued, target)
        scores = draw.survey_scores(rng, latent)
        c.nps, c.csat, c.ces = scores.get("nps"), scores.get("csat"), scores.get("ces")
        attributes: dict[str, Any] = dict(scores)
        if rng.random() < 0.3:
            attributes["comment"] = rng.choice(SURVEY_COMMENTS["good" if latent > 0.6 else "bad"])
        self.emit.contact(at, "survey.completed", c, attributes)

    def _come_back(self, c: Contact, t: int, why: str) -> None:
        """Schedule the customer's return about the same issue, often on another channel."""
        rng = self.rng
        if c.attempt >= MAX_ATTEMPTS:
            return
        delay = draw.return_delay(rng, why)
        if delay is None:
            return
        when = self._open_time(t + delay)
        if when is None:
            return
        channel = c.channel if rng.random() < 0.5 else rng.choice(CHANNELS)
        self.at(when, self._return, c, channel)

    def _return(self, t: int, previous: Contact, channel: str) -> None:
        self._inbound(t, previous.customer, channel, previous.topic, previous.attempt + 1)

    def _open_time(self, t: int) -> int | None:
        """``t`` if the centre is open then, else a time in the next opening (the next open day
        when ``t`` falls on a closed day); None after the end."""
        hour = (t % DAY) // HOUR
        midnight = t - t % DAY
        if not OPEN_HOUR <= hour < CLOSE_HOUR or self._closed_on(midnight):
            day = midnight + (DAY if hour >= OPEN_HOUR else 0)
            while self._closed_on(day):
                day += DAY
            t = day + OPEN_HOUR * HOUR + self.rng.randrange(3 * HOUR)
        return t if t < self.end else None

    def _closed_on(self, midnight: int) -> bool:
        """Whether the centre is closed on the day starting at ``midnight`` (after the end of
        the run: open, the return is dropped there anyway)."""
        day = (midnight - self.start) // DAY
        return 0 <= day < self.config.days and self.closed[day]

    def _opt_out(self, t: int, c: Contact, scope: str) -> None:
        c.customer.opt_outs.setdefault(scope, t)
        self.emit.opted_out(t, c, scope)

    # ---------------------------------------------------------------- outbound campaigns

    def _next_dial(self, tenant: Tenant, t: int) -> None:
        rate = DIAL_RATE_PER_AGENT * len(tenant.outbound.agents)
        while t < self.end:
            day_start = t - t % DAY
            weekday = (self.config.start.weekday() + (day_start - self.start) // DAY) % 7
            begin, finish = day_start + 10 * HOUR, day_start + 18 * HOUR
            if weekday < 5 and t < finish and not self._closed_on(day_start):
                dial = max(t, begin) + int(self.rng.expovariate(rate))
                if dial < finish:
                    self.at(dial, self._dial, tenant)
                    return
            t = day_start + DAY

    def _dial(self, t: int, tenant: Tenant, _: object) -> None:
        rng = self.rng
        self._next_dial(tenant, t)
        agent = self.desk.longest_idle(tenant.outbound)
        if agent is None:
            return  # the predictive dialer only dials for a free agent
        campaign, dialer, reason = rng.choice(tenant.campaigns)
        target = self._dial_target(tenant, campaign, t)
        if target is None:
            return
        customer, violation = target
        c = self._new_contact(t, customer, "voice", "outbound")
        c.topic = CAMPAIGN_TOPIC
        c.customer_obj = self.book.outbound_object(customer)
        self.book.note(customer, c.customer_obj)
        c.started_reason = c.reason = reason
        self.emit.started(t, c, {"entry_point": campaign, "reason": reason})
        if violation:
            opted_out = min(at for s, at in customer.opt_outs.items() if s in ("all", campaign))
            self.violations.append(
                {
                    "contact_id": c.id,
                    "customer_id": customer.customer_id,
                    "campaign": campaign,
                    "opted_out_at": opted_out,
                }
            )
        self.desk.reserve(agent, c, t)
        rung = t + draw.between(rng, 8, 30)
        result = rng.choices(DIAL_RESULTS, DIAL_WEIGHTS)[0]
        attributes = {"campaign": campaign, "dialer": dialer, "result": result}
        self.emit.contact(rung, "outbound.attempted", c, attributes)
        if result != "connected":
            c.ended = rung + 500
            self.emit.contact(c.ended, "contact.ended", c, {"ended_by": "system"})
            c.state = DONE
            done = c.ended + draw.between(rng, 1, 3)
            self._wrap_up(done, c, "follow_up", None)
            self.at(done, self.desk.work_done, agent)
            return
        c.answered = rung
        c.agents.append(agent.id)
        self.emit.contact(rung, "contact.answered", c, agent_id=agent.id)
        talk = draw.talk(rng, 150)
        if rng.random() < 0.06:
            self._opt_out(rung + talk // 2, c, campaign if rng.random() < 0.5 else "all")
        outcome = rng.random()
        disposition = (
            "resolved" if outcome < 0.6 else "follow_up" if outcome < 0.9 else "unresolved"
        )
        self.at(rung + talk, self._end_outbound, agent, disposition)

    def _end_outbound(self, t: int, agent: Agent, disposition: str) -> None:
        self._end(t, agent, agent.contact, disposition)

    def _dial_target(self, tenant: Tenant, campaign: str, t: int) -> tuple[Customer, bool] | None:
        """A customer of the campaign list. The dialer's do-not-call list is synced nightly:
        it skips customers who opted out before today, and calls those who opted out today (a
        violation the ground truth lists)."""
        rng = self.rng
        today = t - t % DAY
        # A satisfaction callback calls someone who contacted the centre lately; the other
        # campaigns call anyone on file or a prospect.
        recent = campaign.endswith("satisfaction-callback")
        for _ in range(3):
            if recent and tenant.customers:
                customer = rng.choice(tenant.customers[-RECENT_CUSTOMERS:])
            elif tenant.customers and rng.random() < 0.7:
                customer = rng.choice(tenant.customers)
            else:
                customer = self.book.new(tenant)
            opted = [at for scope, at in customer.opt_outs.items() if scope in ("all", campaign)]
            if not opted:
                return customer, False
            if min(opted) >= today:
                return customer, True
        return None


def _entry_point(rng: random.Random, c: Contact) -> str:
    idx = c.tenant.idx
    if c.channel == "voice":
        return f"+33 1 70 00 0{idx} 00"
    if c.channel == "email":
        return f"support@{c.tenant.name}.example"
    if c.channel == "chat":
        return "web-widget" if rng.random() < 0.7 else "mobile-app"
    if c.channel == "sms":
        return f"short-code-3{idx}{idx}0"
    return rng.choice(("facebook", "instagram", "x"))
