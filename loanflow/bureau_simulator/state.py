"""The simulator's memory: the seeded people, the inquiries made, the faults in force, the calls counted.

In memory only, on purpose (see the package's docstring): one :class:`SimulatorState` per app,
every access under its lock, gone at restart.
"""

from __future__ import annotations

import json
import random
import threading
import unicodedata
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loanflow.bureau_simulator.validation import failure_rate, latency_ms, seed

#: The seeded fictional people.
RECORDS_PATH = Path(__file__).with_name("records.json")
_JITTER = 0.2

PersonKey = tuple[str, str]


class ReferenceConflictError(Exception):
    """A ``reference`` reused for a different person (409): idempotency keys identify one inquiry."""


def normalise_name(full_name: str) -> str:
    """Case-, accent- and whitespace-insensitive form: ``" hélène  ÉCHÉANCE"`` → ``"helene echeance"``."""
    decomposed = unicodedata.normalize("NFKD", full_name)
    unaccented = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unaccented.casefold().split())


@dataclass
class Faults:
    """The injected faults currently in force."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "failure_rate": self.failure_rate, "seed": self.seed}


@dataclass
class _Inquiry:
    inquiry_id: str
    reference: str
    person: PersonKey
    record: Mapping[str, Any] | None
    status: str = "active"

    def as_dict(self) -> dict[str, Any]:
        record = self.record or {}
        return {
            "inquiry_id": self.inquiry_id,
            "reference": self.reference,
            "status": self.status,
            "found": self.record is not None,
            "payment_incidents": list(record.get("payment_incidents", [])),
            "open_credits": list(record.get("open_credits", [])),
        }


def load_records(path: Path = RECORDS_PATH) -> dict[PersonKey, Mapping[str, Any]]:
    """The seeded people, indexed by normalised name and birth date."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {(normalise_name(r["full_name"]), r["birth_date"]): r for r in document["records"]}


class SimulatorState:
    """Inquiries, fault settings and the random generator of one app; every access holds the lock."""

    def __init__(self, records: Mapping[PersonKey, Mapping[str, Any]], faults: Faults) -> None:
        self._records = dict(records)
        self._inquiries: dict[str, _Inquiry] = {}
        self._by_reference: dict[str, str] = {}
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._received: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()

    @property
    def record_count(self) -> int:
        return len(self._records)

    def inquire(self, reference: str, full_name: str, birth_date: str) -> tuple[dict[str, Any], bool]:
        """The inquiry for ``reference`` and whether it was created now (False: a replay)."""
        person = (normalise_name(full_name), birth_date)
        with self._lock:
            existing_id = self._by_reference.get(reference)
            if existing_id is not None:
                return self._replay(existing_id, person), False
            inquiry = _Inquiry(f"inq_{uuid.uuid4().hex}", reference, person, self._records.get(person))
            self._inquiries[inquiry.inquiry_id] = inquiry
            self._by_reference[reference] = inquiry.inquiry_id
            return inquiry.as_dict(), True

    def _replay(self, inquiry_id: str, person: PersonKey) -> dict[str, Any]:
        inquiry = self._inquiries[inquiry_id]
        if inquiry.person != person:
            raise ReferenceConflictError("reference already used for another person")
        return inquiry.as_dict()

    def get(self, inquiry_id: str) -> dict[str, Any] | None:
        with self._lock:
            inquiry = self._inquiries.get(inquiry_id)
            return inquiry.as_dict() if inquiry else None

    def cancel(self, inquiry_id: str) -> dict[str, Any] | None:
        """Mark the inquiry cancelled (again, harmlessly, if it already was); ``None`` if unknown."""
        with self._lock:
            inquiry = self._inquiries.get(inquiry_id)
            if inquiry is None:
                return None
            inquiry.status = "cancelled"
            return inquiry.as_dict()

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.as_dict()

    def arrived(self, reference: str) -> None:
        """An inquiry request for ``reference`` came in (counted before any injected delay)."""
        with self._lock:
            self._received[reference] += 1
            self._in_flight[reference] += 1

    def answered(self, reference: str) -> None:
        """The request for ``reference`` is over, answered or not (the client may be gone)."""
        with self._lock:
            self._in_flight[reference] -= 1
            if self._in_flight[reference] <= 0:
                del self._in_flight[reference]

    def requests(self, references: list[str]) -> dict[str, Any]:
        """The references in flight now, and how many requests each of ``references`` made."""
        with self._lock:
            return {"in_flight": sorted(self._in_flight),
                    "received": {r: self._received.get(r, 0) for r in references},
                    "total": sum(self._received.values())}

    def update_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate every change first, then apply them all; a new ``seed`` re-seeds the generator."""
        latency = latency_ms(changes["latency_ms"]) if "latency_ms" in changes else None
        rate = failure_rate(changes["failure_rate"]) if "failure_rate" in changes else None
        new_seed = seed(changes["seed"]) if "seed" in changes else None
        with self._lock:
            if latency is not None:
                self._faults.latency_ms = latency
            if rate is not None:
                self._faults.failure_rate = rate
            if "seed" in changes:
                self._faults.seed = new_seed
                self._rng.seed(new_seed)
            return self._faults.as_dict()

    def draw_fault(self) -> tuple[float, bool]:
        """The delay (seconds) and whether to fail, for one request."""
        with self._lock:
            latency, rate = self._faults.latency_ms, self._faults.failure_rate
            delay = latency / 1000 * self._rng.uniform(1 - _JITTER, 1 + _JITTER) if latency else 0.0
            fail = rate > 0 and self._rng.random() < rate
        return delay, fail
