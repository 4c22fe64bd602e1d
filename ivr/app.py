"""Composition root: builds the store, the bus, the queue, the flows, speech and SIP, and runs
each call through its flow."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Literal

from agents.acd import Acd
from agents.console import Console
from agents.controls import SeatControls
from agents.eventlog import EventLog
from agents.followups import FollowupCaller
from agents.leaders import LeaderLog
from agents.shared import AnyAcd, SharedAcd
from agents.shared.leader import Job, Leadership, Solo
from agents.tickets import ScreenPopper, TicketDesk
from agents.web.centre import NodeFigures
from agents.web.server import ConsoleServer
from ivr.accounts import SeatAccounts
from ivr.broker import LocalBroker
from ivr.bus import Bus
from ivr.cdr import CallRows
from ivr.config import Settings
from ivr.control import CallerHangup
from ivr.duty import duty_leader
from ivr.flow import FlowLibrary, FlowServices, Interpreter, Rejected
from ivr.flow.calendar import TimeRange
from ivr.flow.services import surveys
from ivr.housekeeping import Housekeeping
from ivr.instance import InstanceLock
from ivr.privacy import make_private
from ivr.records import Offer, QueueRequest, QueueResult
from ivr.recovery import recover
from ivr.roster import load as load_roster
from ivr.sip.call import Call
from ivr.sip.callcontrol import CallControls
from ivr.sip.engine import EngineConfig, SipEngine, registrar_host
from ivr.sip.events import Registration
from ivr.sip.leader import LeaderLine
from ivr.sip.leg import Leg, Recognizer, Voice
from ivr.sip.outcall import OutboundFlows
from ivr.sip.seatline import SipSeatLine
from ivr.store import open_store
from ivr.store.cli import check_taxonomy_units
from ivr.understanding import HotSpot, HotSpots
from ivr.welcome import welcome_menu

log = logging.getLogger(__name__)

SURVEY_KEYS = ("satisfaction", "unhappy_reason")  # variables the survey flows set


def engine_config(settings: Settings, sip_port: int | None = None) -> EngineConfig:
    s, t = settings.sip, settings.trunk
    allow: tuple[str, ...] = tuple(t.allow)
    if t.mode == "register" and t.registrar:
        allow = (*allow, registrar_host(t.registrar))
    return EngineConfig(
        bind=s.bind,
        port=s.port if sip_port is None else sip_port,
        transports=s.transports,
        tls_port=s.tls_port,
        tls_cert=str(settings.resolve(s.tls_cert)) if s.tls_cert else "",
        tls_key=str(settings.resolve(s.tls_key)) if s.tls_key else "",
        rtp_port=s.rtp_port,
        rtp_port_range=s.rtp_port_range,
        max_calls=s.max_calls,
        overload_ms=s.overload_ms,
        retry_after=s.retry_after,
        media_timeout=s.media_timeout,
        session_expires=s.session_expires,
        clock_rate=s.clock_rate,
        user=s.public_name,
        allow=allow,
        registrar=t.registrar if t.mode == "register" else "",
        username=t.username,
        password=t.password,
        realm=t.realm,
        reg_expires=t.expires,
    )


class WaitingCaller:
    """The queue's view of a waiting caller: the leg, with the callback offer in announcements."""

    def __init__(self, leg: Leg, callback_key: str):
        self.leg = leg
        spoken = "星号" if callback_key == "*" else "井号" if callback_key == "#" else callback_key
        self.hint = f"如需挂机等候回电，请按{spoken}键，我们会为您保留排队位置。" if callback_key else ""

    async def start_hold_music(self) -> None:
        await self.leg.start_hold_music()

    async def stop_hold_music(self) -> None:
        await self.leg.stop_hold_music()

    async def announce(self, text: str) -> None:
        await self.leg.announce(text + self.hint)


class AcdQueueState:
    """The flows' QueueState (branching on waiting callers, free seats, estimated wait)."""

    def __init__(self, acd: AnyAcd):
        self.acd = acd

    def waiting(self, queue: str) -> int:
        return self.acd.status(queue).waiting if queue in self.acd.queues else 0

    def free_seats(self, queue: str) -> int:
        return self.acd.status(queue).ready if queue in self.acd.queues else 0

    def estimated_wait(self, queue: str) -> float:
        return self.acd.status(queue).estimated_wait if queue in self.acd.queues else 0.0


@dataclass
class LineStats:
    answered: int = 0
    completed: int = 0
    caller_hangups: int = 0
    failed: int = 0
    active: int = 0
    registration: str = "n/a"
    paths: list[list[str]] = field(default_factory=list)


class Hotline:
    def __init__(
        self,
        settings: Settings,
        *,
        voice: Voice,
        recognizer: Recognizer | None = None,
        sip_port: int | None = None,
    ):
        self.settings = settings
        self.voice = voice
        self.recognizer = recognizer
        self.engine = SipEngine(
            engine_config(settings, sip_port), on_incoming=self._incoming, on_registration=self._registration
        )
        self.stats = LineStats()
        self.legs: dict[str, Leg] = {}  # by call id (the SIP Call-ID, also the queue's call_id)
        self._tasks: set[asyncio.Task[None]] = set()
        self.audio_dir = settings.resolve(settings.audio_dir)
        self._reg_backoff = 0.0
        self._reg_retry: asyncio.Future[None] | None = None
        self.broker: LocalBroker | None = None
        # one line per database (ivr.instance); the lock file sits beside [store] path
        db = settings.resolve(settings.store.path)
        self.lock = InstanceLock(db.with_name(db.name + ".lock"))
        self.leader: Leadership | Solo = Solo(())  # replaced in start() once the store is known
        self._board_follow: asyncio.Future[None] | None = None

    # -- lifecycle --
    async def start(self) -> None:
        s = self.settings
        self.lock.acquire()
        where = s.store.url or s.resolve(s.store.path)
        # a centre's node keeps its writes through a store outage next to where SQLite would be
        spool = s.resolve(s.store.path).with_suffix(".spool") if s.store.url else None
        self.store = await open_store(where, batch_max=s.store.batch_max, spool=spool)
        self.rows = CallRows(self.store, s.mqtt.client_id)
        if not s.store.url:  # what an earlier run under a looser umask left readable
            db = s.resolve(s.store.path)
            wal = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]
            make_private(db, *wal)
        make_private(s.resolve(s.store.recordings))
        await check_taxonomy_units(s, self.store)
        host, port, account = s.mqtt.host or None, None, None
        if not s.mqtt.host:
            # beside the database, not in a temp folder: a restart after a crash stops the broker
            # the killed run left (pid file) and keeps its port and its queued screen pops
            data = self.lock.path.with_name(f"{s.resolve(s.store.path).stem}-mosquitto")
            self.broker = LocalBroker(
                LocalBroker.previous_port(data),
                data_dir=data,
                lines=(s.mqtt.client_id,),
                topic_prefix=s.mqtt.topic_prefix,
            )
            await self.broker.start()
            host, port = "127.0.0.1", self.broker.port
            account = (s.mqtt.client_id, self.broker.password(s.mqtt.client_id))
            log.info("no [mqtt] host configured: started a local mosquitto on 127.0.0.1:%d", port)
        self.bus = Bus(s.mqtt, self.store, host=host, port=port, account=account, resolve=s.resolve)
        self.accounts = SeatAccounts(self.bus) if s.mqtt.seat_accounts else None
        if self.accounts is not None:
            self.accounts.attach()
        self.events = EventLog(self.store)
        self.seatline = SipSeatLine(
            self.engine,
            self.legs.get,
            self._bridge_ended,
            s.resolve(s.store.recordings),
            on_connected=lambda offer, recording: self.rows.connected(offer, recording),
        )
        u = s.understanding
        self.hotspots = HotSpots(u.hot_spot_window_minutes * 60, u.hot_spot_threshold, self._hot_spot)
        self.popper = ScreenPopper(self.store, self.bus.topics, hotspots=self.hotspots)
        since = time.time() - self.hotspots.window
        await recover(self.store, s.mqtt.client_id, self.popper.link_recording, seats=not s.store.url)
        joined = await self.popper.rejoin_hot_spots(since)
        log.info("hot spots: %d tickets of the last %.0f min rejoined", joined, u.hot_spot_window_minutes)
        # config.toml's seats merged with the store's (ivr.roster.seats says how)
        seats = tuple((await load_roster(self.store, s.seats)).seats.values())
        self.acd: AnyAcd
        if s.store.url:  # a centre's node: one queue with the other nodes, in the shared store
            # a restarted process is a new node: the calls it held died with the old one
            node = f"{socket.gethostname()}-{os.getpid()}"
            self.acd = SharedAcd(
                s.store.url,
                node,
                s.queues,
                seats,
                self.seatline,
                events=self.events,
                screen_pop=self.popper,
                tickets=self.store.tickets,
            )
        else:
            self.acd = Acd(s.queues, seats, self.seatline, events=self.events, screen_pop=self.popper)
        self.leaders = LeaderLine(
            self.engine, self.seatline, LeaderLog(self.events, self.store, self.acd, self.popper)
        )
        # centre-wide jobs: on one node they just run; in a centre only the leader runs them (a
        # node leads only once its lease is taken, so nothing centre-wide runs before start below)
        self.leader = (
            Leadership(s.store.url, self.acd.node, []) if isinstance(self.acd, SharedAcd) else Solo([])
        )
        self.console = Console(self.acd, self.store, self.bus)
        self.console.attach()
        # the board shows every node of the centre by its broker client id (one per node)
        self.node_figures = NodeFigures(
            self.bus,
            s.mqtt.client_id,
            lambda: {"calls_now": self.stats.active, "calls_handled": self.stats.answered},
        )
        self.node_figures.attach()
        await self.acd.start()
        await self.bus.start()
        self.node_figures.start()
        try:  # consoles' commands need our subscriptions; a down broker must not stop the line
            await self.bus.wait_connected(5)
        except TimeoutError:
            log.error(
                "MQTT broker %s:%s not reachable; screen pops wait in the outbox",
                self.bus.host,
                self.bus.port,
            )
        self.desk = TicketDesk(self.store)
        vocabulary = getattr(self.recognizer, "vocabulary", None)
        self.flows = FlowLibrary.from_settings(s, vocabulary=vocabulary, on_rejected=self._flows_rejected)
        for problem in self.flows.load():
            log.warning("flows: %s", problem)
        self.services = FlowServices(
            queues=AcdQueueState(self.acd),
            tickets=self.desk,
            lookup=self.desk,
            recordings=s.resolve(s.store.recordings) / "messages",
            surveys=surveys(s),
            hotspots=self.hotspots,  # tells _hot_spot itself
        )
        self._watcher = asyncio.ensure_future(self.flows.watch())
        keeper = Housekeeping(
            self.store,
            s.resolve(s.store.recordings),
            s.store.recording_retention_days,
            s.retention.every_hours * 3600,
            retention=s.retention,
            idle_seconds=s.signin.idle_minutes * 60,
            leads=lambda: self.leader.held,
        )
        self._housekeeping = asyncio.ensure_future(keeper.run())
        self.seatline.on_recorded = self._recorded
        self.call_controls = CallControls(
            self.seatline,
            self.audio_dir / s.controls.hold_music,
            s.followup.trunk,  # outside numbers go out the way follow-up calls do
            answer_timeout=s.controls.answer_seconds,
        )
        self.controls = SeatControls(
            self.acd,
            self.store,
            self.call_controls,
            leader=lambda seat_id: duty_leader(s.controls, self._team_leader(seat_id), seat_id),
            screen_pop=self.popper,
        )
        self.web = ConsoleServer(
            s,
            self.acd,
            self.store,
            self.bus,
            self.events,
            self.console,
            hotspots=self.hotspots,
            accounts=self.accounts,
            leaders=self.leaders,
            controls=self.controls,
            led=bool(s.store.url),
        )
        self.web.watch.reminds = lambda: self.leader.held
        self.web.board.nodes = self.node_figures.nodes
        try:
            await self.web.start()
        except OSError as exc:
            raise RuntimeError(f"console on {s.web.bind}:{s.web.port}: {exc.strerror or exc}") from exc
        if isinstance(self.acd, SharedAcd):  # the board counts the other nodes' calls too
            self._board_follow = asyncio.ensure_future(self.web.board.follow())
        try:
            await self.engine.start()
        except RuntimeError as exc:
            raise RuntimeError(f"SIP on {s.sip.bind}:{self.engine.config.port}: {exc}") from exc
        self.followup_caller = self._followup_caller()
        jobs: list[Job] = [j for j in (self.web.webhook, self.followup_caller) if j is not None]
        self.leader.jobs.extend(jobs)
        await self.leader.start()
        gc.freeze()  # start-up objects never die: keep them out of collections (fewer loop stalls)

    def _followup_caller(self) -> FollowupCaller | None:
        """The line's follow-up calls (回访), when [followup] names a trunk to call through."""
        f = self.settings.followup
        if not f.enabled or not f.trunk:
            log.info("follow-up calls off ([followup] trunk not set): tasks go to the worklist by hand")
            return None

        def make_leg(call: Call) -> Leg:
            return Leg(
                self.engine, call, voice=self.voice, recognizer=self.recognizer, audio_dir=self.audio_dir
            )

        line = OutboundFlows(
            self.engine,
            make_leg,
            lambda: self.flows.snapshot,
            self.services,
            f.trunk,
            answer_timeout=f.answer_seconds,
        )
        # operators' calls from the console (the call bar's and the follow-up worklist's): the seat
        # phone rings first, then the number; the seat is busy meanwhile
        self.controls.outbound.dialer = line.connect
        self.web.followup_pages.dialer = self.controls.outbound.place
        hours = tuple(TimeRange.parse(h) for h in f.hours)
        return FollowupCaller(self.web.followups, line, hours=hours, flow=f.flow, every=f.every_seconds)

    async def stop(self) -> None:
        leader: Leadership | Solo | None = getattr(self, "leader", None)
        if leader is not None:
            await leader.stop()  # the centre-wide jobs, and the lease to the next node
        if self._reg_retry is not None:
            self._reg_retry.cancel()
        await self.engine.stop()  # hangs up every call first
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if hasattr(self, "_watcher"):
            self._watcher.cancel()
            self._housekeeping.cancel()
        if self._board_follow is not None:
            self._board_follow.cancel()
        if hasattr(self, "web"):
            await self.web.stop()
        # each part only if start got that far (a failed start is stopped the same way)
        if hasattr(self, "controls"):
            await self.controls.close()
            await self.call_controls.close()
        if hasattr(self, "acd"):
            await self.leaders.close()
            await self.seatline.close()
            await self.acd.stop()
        if hasattr(self, "node_figures"):
            await self.node_figures.stop()
        if hasattr(self, "bus"):
            with contextlib.suppress(TimeoutError):
                await self.bus.drain(2)
            await self.bus.stop()
        if hasattr(self, "store"):
            await self.store.close()  # its thread would keep the process alive
        if self.broker is not None:
            await self.broker.close()
        self.lock.release()

    # -- events --
    async def _flows_rejected(self, rejected: Rejected) -> None:
        await self.bus.publish(
            f"{self.settings.mqtt.topic_prefix}/flows/rejected", "flows_rejected", rejected.as_dict()
        )

    def _hot_spot(self, spot: HotSpot) -> None:
        """A cluster at or over the threshold gained a call or a ticket: supervisors see it on
        MQTT (retained: the latest per place and problem); the board reads the clusters itself."""
        topic = self.bus.topics.hot_spot(spot.place, spot.category)
        task = asyncio.ensure_future(self.bus.publish(topic, "hot_spot", spot.as_dict(), retain=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _registration(self, ev: Registration) -> None:
        if 200 <= ev.code < 300 and ev.expires > 0:
            self.stats.registration = f"registered ({ev.expires} s)"
            self._reg_backoff = 0.0
            log.info("trunk registration: %d %s, expires in %d s", ev.code, ev.reason, ev.expires)
            return
        self.stats.registration = f"failed: {ev.code} {ev.reason}"
        # pjsua gives up on some codes (403 among them); a trunk must keep trying, backing off
        self._reg_backoff = min(300.0, self._reg_backoff * 2 or 2.0)
        hint = "; check [trunk] username and password" if ev.code in (401, 403, 407) else ""
        log.error(
            "trunk registration failed: %d %s%s; retrying in %.0f s",
            ev.code,
            ev.reason,
            hint,
            self._reg_backoff,
        )
        if self._reg_retry is None or self._reg_retry.done():
            self._reg_retry = asyncio.ensure_future(self._retry_registration(self._reg_backoff))

    async def _retry_registration(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.engine.renew_registration()

    def _incoming(self, call: Call) -> None:
        leg = Leg(
            self.engine,
            call,
            voice=self.voice,
            recognizer=self.recognizer,
            audio_dir=self.audio_dir,
            enqueue=self._enqueue,
        )
        self.legs[leg.id] = leg
        self.stats.answered += 1
        self.stats.active += 1
        log.info("call %s from %s to %s (%s)", call.id, call.caller, call.dialled, call.source)
        task = asyncio.ensure_future(self._run(leg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enqueue(self, leg: Leg, request: QueueRequest) -> QueueResult:
        key = (
            self.settings.queues[request.queue].callback_key if request.queue in self.settings.queues else ""
        )
        keys = asyncio.ensure_future(self._callback_key(leg, key)) if key else None
        try:
            return await self.acd.enqueue(WaitingCaller(leg, key), request)
        finally:
            if keys is not None:
                keys.cancel()

    async def _callback_key(self, leg: Leg, key: str) -> None:
        """While the caller waits, the callback key books a callback that keeps their place."""
        while True:
            if await leg.digits.get() == key and self.acd.request_callback(leg.call_id):
                log.info("call %s: callback requested from the queue", leg.id)
                return

    def _bridge_ended(self, offer: Offer, by: Literal["caller", "operator"], recording: str) -> None:
        self.acd.call_ended(offer.call_id, by)
        self._recorded(offer, recording)

    def _team_leader(self, seat_id: str) -> str:
        """The leader of the seat's team (班组) as the console's roster has it now ("": none)."""
        web = getattr(self, "web", None)
        team = web.roster.current.team_of(seat_id) if web is not None else None
        return team.leader if team is not None else ""

    def _recorded(self, offer: Offer, recording: str) -> None:
        if offer.ticket_id and recording:
            task = asyncio.ensure_future(
                self.popper.link_recording(offer.ticket_id, recording, offer.seat_id)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- one call --
    async def _run(self, leg: Leg) -> None:
        started_wall, started = time.time(), time.monotonic()
        self.rows.open(leg.call_id, leg.caller, leg.dialled, started_wall)  # open until it ends
        path: list[str] = []
        outcome = "error"
        queue_result: QueueResult | None = None
        queue_name = ""
        try:
            snapshot, entry = self.flows.flow_for(leg.dialled)
            if entry not in snapshot.flows:
                log.error("call %s: no flow %r for %s: built-in welcome menu", leg.id, entry, leg.dialled)
                leg.flow = "welcome"
                try:
                    await welcome_menu(leg, path)
                    outcome = "hangup"
                except CallerHangup:
                    outcome = "caller_hangup"
            else:
                leg.flow = entry
                result = await Interpreter(snapshot, leg, self.services).run(entry)
                path, outcome, queue_result = result.route, result.outcome, result.queue
                queue_name = str(result.variables.get("queue", "") or "")
                answers = {k: result.variables[k] for k in SURVEY_KEYS if k in result.variables}
                if answers and queue_result is not None and queue_result.ticket_id:
                    await self.desk.save_survey(queue_result.ticket_id, answers)
            if outcome == "caller_hangup":
                self.stats.caller_hangups += 1
            elif outcome == "error":
                self.stats.failed += 1
            else:
                self.stats.completed += 1
        except Exception:
            self.stats.failed += 1
            log.exception("call %s: handler failed", leg.id)
        finally:
            self.stats.active -= 1
            self.legs.pop(leg.id, None)
            self.stats.paths.append(path)
            del self.stats.paths[:-100]
            with contextlib.suppress(Exception):
                await leg.hangup()
            log.info(
                "call %s ended after %.1f s (%s): %s",
                leg.id,
                time.monotonic() - started,
                outcome,
                " > ".join(path),
            )
            served = queue_result or QueueResult("error")
            with contextlib.suppress(Exception):
                await self.rows.close(
                    leg.call_id,
                    flow=leg.flow,
                    path=tuple(path),
                    outcome=outcome,
                    queue=queue_name,
                    seat_id=served.seat_id or "",
                    ticket_id=served.ticket_id or "",
                )
