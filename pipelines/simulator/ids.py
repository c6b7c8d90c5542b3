"""The ids a simulated run emits, unique across runs, so that several runs feed one deployment.

A real source never reuses a contact, event, message or ticket id, while its business keys are
stable: a CRM's customer id, an agent's login. The simulator does the same. Its population, the
agents and customers of one seed, keeps its ids in every run of that seed, so a customer's
journey can span runs. Everything a run creates carries the run's name, its seed and first day,
so no other run can reuse it. docs/simulator.md states the rule.
"""

from __future__ import annotations

import hashlib
from datetime import date

# The tenant-local customer number is spread over the tenants (at most 8) so that the number of
# a customer is unique within a seed's population: number * 8 + tenant index.
_TENANT_SLOTS = 8
_MOBILE_DIGITS = 100_000_000  # the 8 digits after +336
_MOBILE_STEP = 7_654_321  # coprime with 10**8: number -> digits is a bijection


class RunIds:
    """Id factory of one run (seed and first day) and of its seed's population."""

    __slots__ = ("_phone_offset", "run", "seed")

    def __init__(self, seed: int, start: date) -> None:
        self.seed = seed
        self.run = f"{seed}-{start:%Y%m%d}"
        # Another seed is another population: its mobiles start elsewhere in the number space.
        digest = hashlib.blake2b(f"mobiles/{seed}".encode(), digest_size=8).digest()
        self._phone_offset = int.from_bytes(digest, "big") % _MOBILE_DIGITS

    # -- created by the run: never reused by another run ---------------------------------------

    def event(self, n: int) -> str:
        return f"ev-{self.run}-{n:09d}"

    def contact(self, n: int) -> str:
        return f"ct-{self.run}-{n:08d}"

    def message(self, n: int) -> str:
        return f"msg-{self.run}-{n:09d}"

    def ticket(self, n: int) -> str:
        return f"TCK-{self.run}-{n:07d}"

    def malformed(self, n: int) -> str:
        return f"bad-{self.run}-{n:07d}"

    # -- the seed's population: the same in every run of the seed -------------------------------

    def agent(self, n: int) -> str:
        return f"ag-{self.seed}-{n:04d}"

    def customer_number(self, tenant_idx: int, n: int) -> int:
        """The population-wide number of the tenant's ``n``-th customer."""
        return n * _TENANT_SLOTS + tenant_idx

    def customer(self, tenant_short: str, n: int) -> str:
        return f"C-{self.seed}-{tenant_short}-{n:06d}"

    def mobile(self, number: int) -> str:
        """A French mobile, unique within the seed's population."""
        digits = (number * _MOBILE_STEP + self._phone_offset) % _MOBILE_DIGITS
        return f"+336{digits:08d}"

    def email(self, first: str, last: str, number: int, domain: str) -> str:
        return f"{first}.{last}.{self.seed}.{number}@{domain}"

    def social_handle(self, first: str, last: str, number: int) -> str:
        return f"@{first.title()}{last.title()}_{self.seed}_{number}"

    def visitor(self, number: int) -> str:
        return f"vis-{self.seed}-{number:07d}"

    def switchboards(self, tenant_idx: int) -> list[str]:
        """Company switchboards shared by colleagues: the tenant's three, in this population."""
        line = self._phone_offset % 10_000
        return [
            f"+33 1 4{tenant_idx} {j:02d} {line // 100:02d} {line % 100:02d}" for j in (1, 2, 3)
        ]

    def household_email(self, family: str) -> str:
        return f"family.{family}.{self.seed}@home.example"
