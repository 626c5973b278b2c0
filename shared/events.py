"""Integration events: one envelope, past-tense types, explicit versions, shared by producer and consumers.

Every event travels as a JSON :class:`EventEnvelope` whose ``payload`` validates against the model
registered for its ``(type, version)``. The models live here, once, so a producer and its consumers
cannot drift; a change that would break a consumer is a new version, registered beside the old one.

The events on the bus are **internal** to the city's systems: they carry personal data (names,
resident IDs) and are never exposed to other agencies directly; agencies use the HTTP APIs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.money import MoneyStr

# The topic names are re-exported (``X as X``): the consumers and the tests import them from here.
from shared.services import EMPLOYMENT_TOPIC as EMPLOYMENT_TOPIC
from shared.services import GRANTS_TOPIC as GRANTS_TOPIC
from shared.services import HOUSEHOLDS_TOPIC as HOUSEHOLDS_TOPIC
from shared.services import NOTICES_TOPIC as NOTICES_TOPIC
from shared.services import PROCEDURE_TOPIC as PROCEDURE_TOPIC
from shared.services import TOPICS

# ---- topics -------------------------------------------------------------------------------------

# Named once, with the services (shared.services): the scripts create the topics from there too.
ALL_TOPICS = TOPICS


def dlq_topic(group: str, topic: str) -> str:
    """``<group>.<topic>.dlq``: the dead-letter topic of a consumer group and the topic it reads."""

    return f"{group}.{topic}.dlq"


# ---- vocabulary shared by the contract ---------------------------------------------------------

Heating = Literal["central", "non_central"]
HouseholdStatus = Literal["active", "exited"]  # in dibao on a day, or no longer
Relation = Literal["head", "spouse", "child", "parent", "other"]
EmploymentStatus = Literal["employed", "unemployed", "retired", "student", "none"]
SchoolStage = Literal["none", "preschool", "primary", "junior", "senior", "vocational", "college"]
Sex = Literal["male", "female"]
# The bureaus of shared.services (written out for the type checker; a test keeps the two the same).
Bureau = Literal["civil_affairs", "medical", "education", "housing", "employment", "utilities", "legal"]
EmploymentKind = Literal["job", "self_employed", "public_welfare_post"]


# ---- payloads -----------------------------------------------------------------------------------


class IntegrationEvent(BaseModel):
    """Base of every payload. Unknown fields are ignored so that adding one is not a breaking change."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]

    household_id: str

    @property
    def key(self) -> str:
        return self.household_id


class MemberSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    resident_id: str
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    able_to_work: bool
    employment_status: EmploymentStatus
    unemployed_since: date | None = None
    disabled: bool = False
    school_stage: SchoolStage = "none"
    boarding: bool = False


class AllowanceStep(BaseModel):
    """From ``effective_from`` on (until the next step), the household's monthly dibao is ``amount``."""

    model_config = ConfigDict(frozen=True)

    effective_from: date
    amount: MoneyStr


class ExtensionSpell(BaseModel):
    """延发三个月: a member found work in ``first_period``; dibao goes on through ``last_period`` at no less
    than ``monthly_amount`` (the allowance before the job), whatever else happens to the household."""

    model_config = ConfigDict(frozen=True)

    resident_id: str
    first_period: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    last_period: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    monthly_amount: MoneyStr

    def covers(self, month_label: str) -> bool:
        return self.first_period <= month_label <= self.last_period


class HouseholdFacts(IntegrationEvent):
    """What every version of the household snapshot carries: the facts the bureaus and the office decide on."""

    TOPIC: ClassVar[str] = HOUSEHOLDS_TOPIC

    division_code: str
    heating: Heating
    housing_area_m2: Decimal
    enrolled_on: date
    # Every known change of the allowance from enrolment on (income, members, a new standard),
    # so a bureau can tell any month's allowance without asking the registry.
    allowance_schedule: list[AllowanceStep]
    members: list[MemberSnapshot]
    # Added 2026-12 (optional, so older consumers and older events still read): the employment extensions
    # running or past, and an exit already decided for a later date (the household stays in dibao until then).
    extensions: list[ExtensionSpell] = Field(default_factory=list)
    exit_on: date | None = Field(default=None, description="first day out of dibao, when an exit is set ahead")


class HouseholdSnapshot(HouseholdFacts):
    """Version 1: the facts, the address, the income and the day's allowance (what the registry published until
    2026-12; still read, from older events on the topic and a replay of them)."""

    address: str
    monthly_income: MoneyStr
    monthly_allowance: MoneyStr = Field(description="the allowance on the event's effective date")


class HouseholdEnrolled(HouseholdSnapshot):
    TYPE: ClassVar[str] = "HouseholdEnrolled"


class HouseholdChanged(HouseholdSnapshot):
    """The household's full state after a change; ``changed`` names what changed."""

    TYPE: ClassVar[str] = "HouseholdChanged"

    effective_on: date
    changed: list[str]


# Version 2 of the household events (2026-12): less personal data on the shared topic. Every consumer of
# registry.households keeps only the fields it reads (docs/architecture.md, "What each service keeps"). A field
# no consumer reads is not published: the monthly income (the allowance schedule carries what it decides) and
# the day's allowance (the schedule tells it for any day). A field only one consumer reads travels sealed for
# it (shared.sealing): the address, for the office. Still one event per household and change.


class _SealedHouseholdFacts(HouseholdFacts):
    VERSION: ClassVar[int] = 2

    sealed: dict[str, str] = Field(
        default_factory=dict,
        description="facts only one reader needs, sealed for it (reader → Fernet token; shared.sealing): "
        "the address, for the office",
    )


class HouseholdEnrolledFacts(_SealedHouseholdFacts):
    """``HouseholdEnrolled`` version 2."""

    TYPE: ClassVar[str] = "HouseholdEnrolled"


class HouseholdChangedFacts(_SealedHouseholdFacts):
    """``HouseholdChanged`` version 2: the household's state after a change; ``changed`` names what changed."""

    TYPE: ClassVar[str] = "HouseholdChanged"

    effective_on: date
    changed: list[str]


class HouseholdExited(IntegrationEvent):
    TYPE: ClassVar[str] = "HouseholdExited"
    TOPIC: ClassVar[str] = HOUSEHOLDS_TOPIC

    division_code: str
    exited_on: date = Field(description="first day the household is no longer in dibao")
    reason: str


class MemberEmployed(IntegrationEvent):
    TYPE: ClassVar[str] = "MemberEmployed"
    TOPIC: ClassVar[str] = EMPLOYMENT_TOPIC

    resident_id: str
    employed_on: date
    kind: EmploymentKind
    employer: str | None = None


class CertificateIssued(IntegrationEvent):
    TYPE: ClassVar[str] = "CertificateIssued"
    TOPIC: ClassVar[str] = EMPLOYMENT_TOPIC

    resident_id: str
    number: str
    valid_from: date
    valid_until: date


class _AssistanceEvent(IntegrationEvent):
    TOPIC: ClassVar[str] = GRANTS_TOPIC

    division_code: str
    bureau: Bureau
    programme: str
    resident_id: str | None = Field(default=None, description="set when the programme serves one person")


class AssistanceGranted(_AssistanceEvent):
    TYPE: ClassVar[str] = "AssistanceGranted"

    granted_on: date
    monthly_amount: MoneyStr | None = None
    detail: str | None = None

    @property
    def lines(self) -> list[AssistanceGranted]:
        """A version-1 event is its own one line (version 2 carries several)."""

        return [self]


class AssistanceRevoked(_AssistanceEvent):
    TYPE: ClassVar[str] = "AssistanceRevoked"

    revoked_on: date
    reason: str

    @property
    def lines(self) -> list[AssistanceRevoked]:
        return [self]


class AssistancePaid(_AssistanceEvent):
    TYPE: ClassVar[str] = "AssistancePaid"

    period: str
    amount: MoneyStr
    paid_on: date
    reference: str = Field(description="the paying bureau's own id for this payment (unique per bureau)")


# Version 2 of the grant events (2026-12): one event per bureau, household and change, carrying all its
# lines, instead of one per person and programme. A household's enrolment reaches the office as one
# event from each bureau that serves it, not one per member and programme: half the grant events of a
# fan-out, each with its inbox row, Kafka record and span. Version 1 stays readable (older events on the
# topic, a replay of them). Lines are in the order the bureau made them; a change that revokes and then
# grants is two events, in that order, so the office never applies a grant before the revocation it follows.


class GrantedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    programme: str
    resident_id: str | None = Field(default=None, description="set when the programme serves one person")
    granted_on: date
    monthly_amount: MoneyStr | None = None
    detail: str | None = None


class RevokedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    programme: str
    resident_id: str | None = Field(default=None, description="set when the programme serves one person")
    revoked_on: date
    reason: str


class _AssistanceLines(IntegrationEvent):
    TOPIC: ClassVar[str] = GRANTS_TOPIC
    VERSION: ClassVar[int] = 2

    division_code: str
    bureau: Bureau


class AssistanceGrantedLines(_AssistanceLines):
    """``AssistanceGranted`` version 2: what one bureau granted one household in one change."""

    TYPE: ClassVar[str] = "AssistanceGranted"

    lines: list[GrantedLine] = Field(min_length=1)


class AssistanceRevokedLines(_AssistanceLines):
    """``AssistanceRevoked`` version 2: what one bureau stopped for one household in one change."""

    TYPE: ClassVar[str] = "AssistanceRevoked"

    lines: list[RevokedLine] = Field(min_length=1)


NoticeKind = Literal["approval", "refusal", "amount_changed", "exit", "appeal_outcome"]


class NoticeIssued(IntegrationEvent):
    """Civil Affairs issued a written notice (书面通知) to a household: for a postal or SMS service to deliver.
    The PDF is the registry's ``GET /notices/{notice_id}``. For a refused application ``household_id`` is the
    id the household would have had (the application's)."""

    TYPE: ClassVar[str] = "NoticeIssued"
    # Not registry.households: every bureau reads that, and none needs a notice's addressee or address.
    TOPIC: ClassVar[str] = NOTICES_TOPIC

    notice_id: str
    kind: NoticeKind
    division_code: str
    issued_on: date
    addressee: str = Field(description="the head of household the notice is written to")
    resident_id: str = Field(description="the addressee's resident ID")
    address: str
    title: str


# ---- the dibao procedure's progress (registry.procedure), for the office's assessment ------------------------

ApplicationStatus = Literal["submitted", "investigated", "noticed", "approved", "refused"]
ApplicationStep = Literal["investigation", "public_notice", "decision"]
AppealSubject = Literal["refusal", "amount", "exit"]
AppealStatus = Literal["lodged", "upheld", "dismissed"]


class _ProcedureEvent(IntegrationEvent):
    TOPIC: ClassVar[str] = PROCEDURE_TOPIC

    division_code: str


class ApplicationProgressed(_ProcedureEvent):
    """An application (低保申请) as it stands after a step: submitted, investigated, noticed, an objection recorded or
    decided, approved or refused. ``household_id`` is the application's id (an approved application's household
    has it). The latest one says where the application is; ``due_on`` is the awaited step's time limit as it was
    computed then."""

    TYPE: ClassVar[str] = "ApplicationProgressed"

    status: ApplicationStatus
    applied_on: date
    decided_on: date | None = None
    awaiting: ApplicationStep | None = Field(default=None, description="the next step, while the application is open")
    due_on: date | None = Field(default=None, description="the awaited step's time limit")


class AppealProgressed(_ProcedureEvent):
    """An appeal (申诉) lodged or decided. ``household_id`` is the case: the household contesting an amount or an
    exit, the application contesting a refusal."""

    TYPE: ClassVar[str] = "AppealProgressed"

    appeal_id: str
    subject: AppealSubject
    status: AppealStatus
    lodged_on: date
    decide_by: date
    decided_on: date | None = None


class ReviewScheduled(_ProcedureEvent):
    """When a household's next periodic review (定期复核) falls due: announced at every enrolment (an approved
    application, a migrated household, a reinstatement on appeal), when the household is flagged for an early
    review, after each review, and for every household in dibao when the review interval changes."""

    TYPE: ClassVar[str] = "ReviewScheduled"

    due_on: date
    last_reviewed_on: date | None = None


CATALOG: dict[tuple[str, int], type[IntegrationEvent]] = {
    (cls.TYPE, cls.VERSION): cls
    for cls in (
        HouseholdEnrolled,
        HouseholdChanged,
        HouseholdExited,
        MemberEmployed,
        CertificateIssued,
        AssistanceGranted,
        AssistanceRevoked,
        AssistancePaid,
        NoticeIssued,
        AssistanceGrantedLines,
        AssistanceRevokedLines,
        ApplicationProgressed,
        AppealProgressed,
        ReviewScheduled,
        HouseholdEnrolledFacts,
        HouseholdChangedFacts,
    )
}
KNOWN_TYPES = frozenset(event_type for event_type, _ in CATALOG)


# ---- the envelope -------------------------------------------------------------------------------


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: str
    version: int
    occurred_at: AwareDatetime
    producer: str
    key: str
    payload: dict[str, Any]


def envelope_for(event: IntegrationEvent, producer: str, occurred_at: datetime | None = None) -> EventEnvelope:
    # Built from a validated event, so not validated again: the outbox builds one per grant.
    return EventEnvelope.model_construct(
        event_id=uuid.uuid4(),
        type=event.TYPE,
        version=event.VERSION,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        key=event.key,
        payload=event.model_dump(mode="json"),
    )


def encode(envelope: EventEnvelope) -> bytes:
    return envelope.model_dump_json().encode()


def encode_event(
    event: IntegrationEvent, producer: str, event_id: uuid.UUID, occurred_at: datetime | None = None
) -> str:
    """``encode(envelope_for(event, producer))`` as text, in one pass: the payload serialised by its own
    model straight to JSON, not to a dict that the envelope then serialises again (the outbox encodes
    every event a fan-out publishes)."""

    head = EventEnvelope.model_construct(
        event_id=event_id,
        type=event.TYPE,
        version=event.VERSION,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        key=event.key,
        payload={},
    ).model_dump_json()
    assert head.endswith(_EMPTY_PAYLOAD)  # the payload is the envelope's last field
    return f"{head[:-3]}{event.model_dump_json()}}}"  # '{}}' off, the payload and the envelope's '}' on


_EMPTY_PAYLOAD = '"payload":{}}'


class PoisonMessage(Exception):
    """A message no retry can fix: undecodable, invalid, or of a version this code does not know."""


def decode_envelope(raw: bytes | None) -> EventEnvelope:
    if raw is None:
        raise PoisonMessage("empty message (tombstone)")
    try:
        return EventEnvelope.model_validate_json(raw)
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"not an event envelope: {_short(exc)}") from None


def parse_payload(envelope: EventEnvelope) -> IntegrationEvent:
    model = CATALOG.get((envelope.type, envelope.version))
    if model is None:
        raise PoisonMessage(f"unknown event {envelope.type} version {envelope.version}")
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise PoisonMessage(f"{envelope.type} v{envelope.version} payload invalid: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text[:300]


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """An event as a consumer sees it: envelope, typed payload and where it came from."""

    envelope: EventEnvelope
    payload: Any
    topic: str
    partition: int
    offset: int

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at
