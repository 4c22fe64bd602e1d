"""What a store is, whatever keeps it: the typed operations callers use, and the small records
that cross its edge. No SQL passes this boundary, so SQLite and PostgreSQL are interchangeable.

Contracts every implementation keeps:
- a write returns once it is committed; ticket changes commit with their history rows and the
  outbox messages their `also` callback makes, in one transaction;
- `queue_event` and `seat_event` never block: they are durable once the next batch commits, and
  `close()` commits them all;
- outbox ids grow in commit order of one store; `outbox_pending` returns undelivered messages
  by id, and a store shared by several nodes returns them to one node at a time (the sender);
  every `outbox_listeners` callback is called after outbox rows were committed, on every node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ivr.records import (
    AnsweredCall,
    Appeal,
    CallRecord,
    Followup,
    KnowledgeVersion,
    QueueEvent,
    Review,
    Sample,
    SeatEvent,
    SeatFigures,
    SeatRow,
    Team,
    Ticket,
    TicketChange,
    TicketQuery,
    Unit,
    UnitStaff,
)
from ivr.store.figures import EventCounts


class StoreError(ValueError):
    """A request the store refuses (unknown ticket, field or status, a malformed store URL)."""


URL_SCHEMES = ("postgresql", "postgres")
SESSION_IDLE_SECONDS = 12 * 3600.0  # a console session unused for a long shift ends


def is_store_url(where: str) -> bool:
    """True for a database URL, False for a SQLite file path."""
    return "://" in where


def check_store_url(url: str) -> None:
    """Raise StoreError unless `url` is postgresql://[user[:password]@]host[:port]/database, or
    postgresql://[user@]/database?host=/socket/folder for a unix socket."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise StoreError(f"store URL {redact_store_url(url)!r}: {exc}") from exc
    example = "postgresql://user:password@host:5432/database"
    if parts.scheme not in URL_SCHEMES:
        raise StoreError(f"store URL must start with postgresql:// (e.g. {example}), not {parts.scheme}://")
    if not parts.hostname and not parse_qs(parts.query).get("host"):
        raise StoreError(f"store URL {redact_store_url(url)!r} names no host (e.g. {example})")
    if not parts.path.strip("/") or "/" in parts.path.strip("/"):
        raise StoreError(f"store URL {redact_store_url(url)!r} names no database (e.g. {example})")
    if port == 0:
        raise StoreError(f"store URL {redact_store_url(url)!r}: port 0")


def redact_store_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and reports."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<malformed URL>"


@dataclass(frozen=True)
class Outgoing:
    """An MQTT message to queue in the outbox, committed with the change it announces."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True)
class OutboxItem:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float


@dataclass(frozen=True)
class TicketTally:
    """Counts over all tickets, for end-of-run reports."""

    total: int
    categories: Mapping[str, int]  # "category1/category2/category3" -> tickets, most first
    surveys: Mapping[str, int]  # answer to the survey question asked for -> tickets


@dataclass(frozen=True)
class SessionRecord:
    """A console sign-in as the store keeps it: a hash of the token, never the token itself."""

    token_hash: str
    role: str
    seat_id: str  # "" for supervisors and units
    created_at: float
    last_seen: float
    unit_id: str = ""  # the unit of a unit staff session
    login: str = ""  # the person (a supervisor's or unit staff's login); one supervisor session each


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail: `actor` ("seat:1001", "supervisor:zhang", "unit:li",
    "housekeeping") did `action` ("signin", "ticket.read", "recording.delete"...) to `subject`."""

    at: float
    actor: str
    action: str
    subject: str = ""
    address: str = ""  # the client's IP address, for actions over the console
    detail: str = ""


@dataclass(frozen=True)
class AuditQuery:
    since: float = 0.0
    until: float = float("inf")
    actor: str = ""  # prefixes: "seat:" is every seat
    action: str = ""
    subject: str = ""
    limit: int = 500


@dataclass(frozen=True)
class FailureCount:
    """Failed sign-ins under one key ("account:seat:1001", "address:10.0.0.7") since the count
    was last forgotten."""

    key: str
    failures: int
    last_failure: float


# the messages a ticket change announces, made from the ticket as it will be committed
Also = Callable[[Ticket], Sequence[Outgoing]]


class TicketBook(Protocol):
    """Tickets (工单) with their full change history."""

    async def create(
        self,
        caller: str,
        *,
        actor: str = "ivr",
        channel: str = "phone",
        ticket_id: str | None = None,
        also: Also | None = None,
        **values: Any,
    ) -> Ticket:
        """Insert a ticket (a draft unless `status` says otherwise) with an id readable over the
        phone (local date + daily sequence, unique however many processes share the store)."""
        ...

    async def update(
        self,
        ticket_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        also: Also | None = None,
        event: str = "",
        note: str = "",
        followup_at: float | None = None,
    ) -> Ticket:
        """Apply field changes and log them with `event` and `note`; a no-op change that names
        no event writes nothing (and `also` is not called), one that names an event (a progress
        note) writes its history entry. With `followup_at`, a follow-up task for the ticket's
        caller due then is added in the same transaction (unless the ticket has an open one).
        Raises StoreError for unknown tickets, fields, statuses, urgencies or events. Status
        transitions are not checked here (agents.tickets is)."""
        ...

    async def set_survey(self, ticket_id: str, answers: Mapping[str, Any], *, actor: str = "ivr") -> Ticket:
        """Merge survey answers into the ticket's survey."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def by_caller(self, caller: str, limit: int = 5, exclude: str = "") -> list[Ticket]:
        """The caller's latest tickets, newest first (drafts of abandoned calls left out)."""
        ...

    async def since(self, at: float, limit: int = 5000) -> list[Ticket]:
        """Tickets created at or after `at`, oldest first (at most `limit`, the newest kept)."""
        ...

    async def history(self, ticket_id: str) -> list[TicketChange]: ...

    async def events(self, since: float, until: float) -> list[TicketChange]:
        """History entries that name an event (dispatch, reply, followup...) in [since, until),
        in the order they were written (for the figures)."""
        ...

    async def events_after(self, last_id: int, limit: int = 100) -> list[tuple[int, TicketChange]]:
        """History entries that name an event, with their row ids, after `last_id` in id order
        (what an outgoing webhook delivers), at most `limit`."""
        ...

    async def cursor(self, name: str) -> int:
        """The last history id delivered to `name` (a webhook URL); 0 at first."""
        ...

    async def set_cursor(self, name: str, last_id: int) -> None: ...

    async def search(self, query: TicketQuery) -> list[Ticket]:
        """Tickets matching every criterion of `query`, newest first, drafts left out."""
        ...

    async def tally(self, survey_question: str = "satisfaction") -> TicketTally: ...

    async def event_counts(self, since: float, until: float, group: str = "unit") -> list[EventCounts]:
        """The events of [since, until) counted per unit (the one the ticket was with), category
        (first level) or district (the unit's), in one aggregate query; ValueError for another
        group."""
        ...

    async def survey_counts(self, since: float, until: float) -> dict[str, dict[str, int]]:
        """Operator -> post-call survey answer (满意度) -> tickets created in [since, until)."""
        ...


class SessionBook(Protocol):
    """Console sessions, so a restarted node keeps operators signed in and any node serves any."""

    async def put(self, record: SessionRecord) -> None:
        """Add a session; for a seat, its earlier sessions go in the same transaction (one seat,
        one session, on every node)."""
        ...

    async def get(self, token_hash: str) -> SessionRecord | None: ...

    async def touch(self, token_hash: str, at: float) -> None:
        """Record activity (`last_seen`)."""
        ...

    async def delete(self, token_hash: str) -> None: ...

    async def by_login(self, role: str, login: str) -> list[SessionRecord]:
        """The sessions of one person (a supervisor's, before a new sign-in ends them)."""
        ...

    async def prune(self, idle_before: float) -> int:
        """Drop sessions last seen before `idle_before`; returns how many went."""
        ...


class AuditBook(Protocol):
    """The append-only audit trail (ivr/store/audit.py)."""

    def add(self, entry: AuditEntry) -> None:
        """Queue the entry; it is committed with the next batch (`flush` waits for it)."""
        ...

    async def flush(self) -> None: ...

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first, at most `query.limit`."""
        ...

    async def prune(self, before: float) -> None: ...


class SigninBook(Protocol):
    """Failed sign-ins per key, shared by the nodes (ivr/store/signins.py)."""

    async def get(self, key: str) -> FailureCount | None: ...

    async def fail(self, key: str, at: float, stale_before: float) -> FailureCount:
        """Count one failure (the count restarts when the last was before `stale_before`)."""
        ...

    async def clear(self, key: str) -> None: ...

    async def prune(self, stale_before: float) -> None: ...


class PersonalData(Protocol):
    """Forgetting personal fields past the retention period (ivr/store/retention.py)."""

    async def forget(self, closed_before: float, at: float, limit: int = 500) -> list[str]: ...

    async def forget_calls(self, before: float) -> int: ...


class UnitBook(Protocol):
    """Units tickets are dispatched to and the staff who sign in for them."""

    async def put_unit(self, unit: Unit) -> None:
        """Add or change a unit (by id); StoreError for an unknown kind or a name taken."""
        ...

    async def put_staff(self, staff: UnitStaff) -> None:
        """Add or change a sign-in (by login); StoreError for an unknown unit or no hash."""
        ...

    async def units(self) -> list[Unit]: ...

    async def unit(self, unit_id: str) -> Unit | None: ...

    async def staff(self, login: str) -> UnitStaff | None: ...


class FollowupBook(Protocol):
    """Follow-up (回访) tasks; at most one open (not done) task per ticket."""

    async def add(self, ticket_id: str, caller: str, due_at: float) -> Followup:
        """A new task, due at `due_at`; the open task if the ticket has one already."""
        ...

    async def get(self, task_id: str) -> Followup | None: ...

    async def for_ticket(self, ticket_id: str) -> list[Followup]:
        """Oldest first."""
        ...

    async def in_state(self, state: str, *, due_before: float = 0.0, limit: int = 100) -> list[Followup]:
        """Tasks in `state` (with `due_before`: due by then), the earliest due first."""
        ...

    async def claim(
        self, task_id: str, from_state: str, to_state: str, operator: str = ""
    ) -> Followup | None:
        """Move a task from one state to another unless someone else moved it first (None)."""
        ...

    async def save(self, task: Followup) -> None:
        """Write the task's state, due time, attempts, outcome, answer and operator."""
        ...


class KnowledgeBook(Protocol):
    """The knowledge base's articles, every version kept (append-only)."""

    async def versions(self) -> list[KnowledgeVersion]:
        """Every version, by article then version."""
        ...

    async def add(self, versions: list[KnowledgeVersion]) -> None:
        """Append versions in one transaction; StoreError if an (article, version) is taken."""
        ...


class ReviewBook(Protocol):
    """Quality checks (质检): the review queue, reviews (append-only) and one appeal per call."""

    async def answered(self, since: float, until: float, limit: int) -> list[AnsweredCall]:
        """Calls an operator answered that ended in [since, until), oldest first (at most
        `limit`), with their tickets' first level, the caller's menu choice and survey answer."""
        ...

    async def add_samples(self, samples: Sequence[Sample]) -> int:
        """Queue calls for review; one queued before stays as it was. Returns how many were new."""
        ...

    async def sample(self, call_id: str) -> Sample | None: ...

    async def queue(self, state: str = "queued", limit: int = 200) -> list[Sample]: ...

    async def add_review(self, review: Review) -> Review:
        """Keep a review as a new row (with its id); its call leaves the queue."""
        ...

    async def reviews(self, call_id: str) -> list[Review]:
        """Every review of a call, oldest first: the last is the call's score."""
        ...

    async def scores(self, seat_id: str, since: float, until: float, limit: int = 500) -> list[Review]:
        """Each call's score (its newest review) for calls ended in [since, until), of one seat
        ("" for all), newest first."""
        ...

    async def appeal(self, call_id: str) -> Appeal | None: ...

    async def appeals(self, pending: bool = True, limit: int = 200) -> list[Appeal]: ...

    async def appeals_for(self, call_ids: Sequence[str]) -> list[Appeal]:
        """The appeals of these calls (those that have one)."""
        ...

    async def add_appeal(self, appeal: Appeal) -> bool:
        """False when the call was appealed before: an appeal is once only, on every node."""
        ...

    async def decide(
        self, call_id: str, decision: str, by: str, note: str, review: Review | None
    ) -> Appeal | None:
        """Decide an undecided appeal, adding `review` (new scores) in the same transaction;
        None when there is nothing to decide."""
        ...

    async def figures(self, since: float, until: float, pass_score: float) -> list[SeatFigures]:
        """Sums per seat over the scores of calls that ended in [since, until) (SQL aggregates)."""
        ...


class RosterBook(Protocol):
    """Teams (班组) with their leader, and seats with team, shift and skills (ivr.roster merges
    them with config.toml's seats)."""

    async def put_team(self, team: Team) -> None:
        """Add or change a team (by id); StoreError when another team has the name."""
        ...

    async def delete_team(self, team_id: str) -> None:
        """StoreError while seats are still in the team."""
        ...

    async def teams(self) -> list[Team]: ...

    async def put_seats(
        self, seats: Sequence[SeatRow], *, teams: Sequence[Team] = (), keep_passwords: bool = False
    ) -> None:
        """Add or change seats (by id), and `teams` with them, in one transaction; with
        `keep_passwords`, a row without a hash keeps the seat's current one."""
        ...

    async def set_password(self, seat_id: str, password_hash: str) -> None: ...

    async def delete_seat(self, seat_id: str) -> None:
        """A store seat goes (config.toml's stay); a team it led has no leader."""
        ...

    async def sync_config(self, seats: Sequence[SeatRow]) -> None:
        """Replace the copies of config.toml's seats with `seats`, in one transaction."""
        ...

    async def seats(self) -> list[SeatRow]: ...

    async def seat(self, seat_id: str) -> SeatRow | None: ...

    async def seat_teams(self) -> dict[str, str]: ...


class Store(Protocol):
    """Open one with `ivr.store.open_store(path_or_url)`; close it with `await store.close()`."""

    outbox_listeners: list[Callable[[], None]]  # the bus wakes its sender here

    @property
    def tickets(self) -> TicketBook: ...

    @property
    def sessions(self) -> SessionBook: ...

    @property
    def units(self) -> UnitBook: ...

    @property
    def audit(self) -> AuditBook: ...

    @property
    def signins(self) -> SigninBook: ...

    @property
    def personal(self) -> PersonalData: ...

    @property
    def followups(self) -> FollowupBook: ...

    @property
    def knowledge(self) -> KnowledgeBook: ...

    @property
    def reviews(self) -> ReviewBook: ...

    @property
    def roster(self) -> RosterBook: ...

    async def seat_teams(self) -> dict[str, str]:
        """Seat id -> team name (seats in no team left out), for figures grouped by team."""
        ...

    @property
    def location(self) -> str:
        """Where the records are: a file path or a URL without its password (for reports)."""
        ...

    @property
    def batches(self) -> int:
        """Committed write transactions (for tests and benchmarks)."""
        ...

    async def close(self) -> None:
        """Commit everything queued, then release the connection(s)."""
        ...

    async def flush(self) -> None:
        """Wait until every write queued before this call is committed."""
        ...

    def queue_event(self, event: QueueEvent) -> None: ...

    def seat_event(self, event: SeatEvent) -> None: ...

    async def queue_events(self, since: float = 0.0, queue: str | None = None) -> list[QueueEvent]: ...

    async def seat_events(self, since: float = 0.0) -> list[SeatEvent]: ...

    async def last_seat_events(self) -> list[SeatEvent]:
        """Each seat's latest event (its state as the store last saw it)."""
        ...

    async def save_call(self, call: CallRecord) -> None: ...

    async def get_call(self, call_id: str) -> CallRecord | None: ...

    async def open_calls(self, node: str) -> list[CallRecord]:
        """Calls of line `node` not ended (after a crash: the ones it cut off)."""
        ...

    async def queue_events_of(self, call_id: str) -> list[QueueEvent]:
        """One call's queue events, oldest first."""
        ...

    async def outbox_put(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None: ...

    async def outbox_put_many(self, messages: Sequence[Outgoing]) -> None:
        """Queue several messages in one transaction (ids in the order given)."""
        ...

    async def outbox_latest(self, topic: str) -> OutboxItem | None:
        """The newest message ever queued on `topic`, delivered or not (until pruned)."""
        ...

    async def outbox_pending(self, limit: int = 100, after: int = 0) -> list[OutboxItem]:
        """Undelivered messages by id for this node's sender to deliver (none while another node
        of a shared store is the sender)."""
        ...

    async def outbox_delivered(self, ids: Sequence[int]) -> None: ...

    async def outbox_prune(self, older_than: float) -> None:
        """Drop delivered messages delivered before `older_than` (epoch seconds)."""
        ...
