"""The message catalogue: every command and event loanflow services exchange, declared once.

Each message names who consumes it and which payload keys it must carry. The outbox writes one
row per consumer, and the relay turns each row into a Dramatiq message for the actor
``"<consumer>.<snake_case_name>"`` on the consumer's queue. So a producer never imports a
consumer's code, and adding a consumer is one line here plus a handler in that service.

Commands are imperative (``CheckCredit``) and have exactly one consumer; events are past tense
(``CreditChecked``) and may have several. ``docs/events.md`` describes each one in prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MessageSpec:
    """One kind of message: its name, whether it is a command, its consumers, its payload keys."""

    name: str
    kind: str  # "command" | "event"
    consumers: tuple[str, ...]
    required: tuple[str, ...]
    #: A queue of its own beside the service's main one, for slow work that must not hold up
    #: the messages queued behind it (e.g. building PDFs must not delay live notifications).
    lane: str = ""

    def actor_name(self, consumer: str) -> str:
        """The Dramatiq actor that handles this message in ``consumer``."""
        return f"{consumer}.{snake_case(self.name)}"

    def queue(self, consumer: str) -> str:
        """The RabbitMQ queue this message waits in for ``consumer``."""
        return f"{consumer}.{self.lane}" if self.lane else consumer


def snake_case(name: str) -> str:
    """``CreditChecked`` → ``credit_checked``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _command(name: str, consumer: str, *required: str) -> MessageSpec:
    return MessageSpec(name, "command", (consumer,), required)


def _event(name: str, consumers: tuple[str, ...], *required: str) -> MessageSpec:
    return MessageSpec(name, "event", consumers, required)


CATALOGUE: dict[str, MessageSpec] = {
    spec.name: spec
    for spec in (
        # loan_app → notify: a new application was accepted (202 answered); its evaluation
        # started in the same commit, so loan_app does not consume it.
        _event("ApplicationSubmitted", ("notify",), "summary", "contact"),
        # loan_app (saga orchestrator) → step services.
        _command("CheckCredit", "credit", "applicant", "round"),
        _command("ValueProperty", "property", "property", "loan_amount", "round"),
        _command("MakeDecision", "decision", "loan", "applicant", "credit", "valuation", "information", "round"),
        _command("CancelCreditInquiry", "credit", "reason"),
        # credit → itself: undo a bureau inquiry made by a check that a cancellation overtook.
        _command("CancelBureauInquiry", "credit", "inquiry_id"),
        # step services → loan_app.
        _event("CreditChecked", ("loan",), "inquiry_id", "assessment", "round"),
        _event("CreditCheckFailed", ("loan",), "code", "message", "round"),
        _event("CreditInquiryCancelled", ("loan",), "inquiry_id", "reason"),
        _event("PropertyValued", ("loan",), "valuation", "round"),
        _event("PropertyValuationFailed", ("loan",), "code", "message", "round"),
        _event("DecisionMade", ("loan",), "decision", "round"),
        _event("DecisionFailed", ("loan",), "code", "message", "round"),
        # loan_app → notify: every transition of the state machine, in order (``seq``).
        _event(
            "ApplicationStatusChanged",
            ("notify",),
            "seq", "status", "previous_status", "cause", "at", "reasons", "offer", "requested_information",
        ),
        # loan_app → notify: the applicant tokens of an application were re-issued or revoked
        # (notify checks tokens with these facts), and a re-issued token to e-mail.
        _event("ApplicantAccessChanged", ("notify",), "generation", "valid_from", "cause"),
        MessageSpec("SendAccessToken", "command", ("notify",), ("generation",), lane="documents"),
        # notify → itself: background work that follows a logged status change. SendEmail builds
        # and stores an approval's documents itself; GenerateDocuments only when it could not.
        MessageSpec("GenerateDocuments", "command", ("notify",), ("seq",), lane="documents"),
        MessageSpec("SendEmail", "command", ("notify",), ("seq",), lane="documents"),
        # loan_app (an admin's erasure request, or its retention job) → every other service:
        # erase what you hold about this ended application; each answers once it has.
        _event("PersonalDataErasureRequested", ("credit", "property", "decision", "notify"),
               "reason", "requested_at"),
        _event("PersonalDataErased", ("loan",), "service", "erased_at"),
    )
}


class UnknownMessage(LookupError):
    """A message name that is not in the catalogue (a programming error, never user input)."""


class InvalidPayload(ValueError):
    """A payload missing keys its message declares (a programming error, caught in tests)."""


def spec_for(name: str) -> MessageSpec:
    """The declared spec of ``name``; raises :class:`UnknownMessage` otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownMessage(name) from None


def validate_payload(spec: MessageSpec, payload: dict) -> None:
    """Refuse a payload that lacks a declared key, before it is written to the outbox."""
    missing = [key for key in spec.required if key not in payload]
    if missing:
        raise InvalidPayload(f"{spec.name} payload lacks {', '.join(missing)}")


def consumed_by(service: str) -> list[MessageSpec]:
    """Every message ``service`` must register a handler for."""
    return [spec for spec in CATALOGUE.values() if service in spec.consumers]


def queues_of(service: str) -> list[str]:
    """Every queue ``service``'s workers consume (its main queue first)."""
    return sorted({spec.queue(service) for spec in consumed_by(service)} | {service}, key=lambda q: (q != service, q))
