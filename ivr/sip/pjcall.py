"""pj-thread side of one call leg: the pjsua2 Call, its players, recorders and capture taps.

Everything here runs on the engine's pj thread (callbacks, or the engine's commands); only
ivr.sip.engine creates, holds and drops these objects. Callbacks copy fields into events named by
the call's SIP Call-ID and post them; they never block or raise. This module does not know the
engine: it is given a `post` for events and a `forget` for when the call has ended.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pjsua2 as pj

from ivr.logflood import Throttle
from ivr.sip.capture import Capture
from ivr.sip.events import CallGone, CallState, Digit, Event, MediaReady

log = logging.getLogger(__name__)

_STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}
WATCH_SLICE = 20  # calls whose RTP counter MediaWatch reads per pj loop
_USER = re.compile(r"sips?:([^@;>]+)@")
_throttle = Throttle(log)  # pj thread only, like every PjCall


def uri_user(uri: str) -> str:
    """'"Zhang" <sip:13800138000@host>;tag=x' -> '13800138000'."""
    m = _USER.search(uri)
    return m.group(1) if m else uri


class PjCall(pj.Call):  # type: ignore[misc]
    def __init__(
        self,
        acc: pj.Account,
        post: Callable[[Event], None],
        forget: Callable[[PjCall], None],
        pj_id: int = pj.PJSUA_INVALID_ID,
    ):
        super().__init__(acc, pj_id)
        self._post_event = post
        self._forget = forget
        self.key = ""  # the SIP Call-ID: the call's id on the asyncio side
        self.audio: pj.AudioMedia | None = None
        self.players: dict[int, pj.AudioMediaPlayer] = {}
        self.recorders: dict[int, pj.AudioMediaRecorder] = {}
        self.captures: dict[int, Capture] = {}
        self.ended = False
        self.audio_index = -1  # the audio stream's media index, for its RTP statistics
        self.rx_packets = 0  # RTP packets received when last looked (ivr.sip.engine's media watch)
        self.rx_at = 0.0  # monotonic time the count last grew (or media began)
        self.receiving = True  # the peer sends us audio (not holding the call)
        self.answered_at = 0.0  # monotonic time we sent 200 OK to an incoming call
        self.prompted = False  # its first prompt has started
        self.confirmed = False  # the dialog was confirmed (the caller ACKed our 200 OK)
        self.silent = False  # a call we reject before anyone owns its id posts nothing

    def info(self) -> Any:
        """getInfo(), learning the Call-ID on first use (a dial's first state comes inside makeCall)."""
        ci = self.getInfo()
        if not self.key:
            self.key = str(ci.callIdString)
        return ci

    def _post(self, event: Event) -> None:
        if not self.silent:
            self._post_event(event)

    # -- callbacks (pj thread) --
    def onCallState(self, prm: Any) -> None:
        try:
            ci = self.info()
            state = _STATES.get(ci.state, str(ci.state))
            self._post(CallState(self.key, state, int(ci.lastStatusCode), str(ci.lastReason)))
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.confirmed = True
            if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                if self.answered_at and not self.confirmed:  # an ordinary event, not an error
                    _throttle.log(
                        logging.INFO,
                        "no-ack",
                        "call %s: the caller never ACKed our 200 OK; call ended",
                        self.key,
                    )
                self.ended = True
                self.release_media()
                self._forget(self)
        except Exception:
            log.exception("onCallState failed")

    def onCallMediaState(self, prm: Any) -> None:
        try:
            ci = self.info()
            for i, mi in enumerate(ci.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                    # a peer that holds the call (sendonly, inactive) stops its RTP on purpose
                    self.receiving = mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE and bool(
                        mi.dir & pj.PJMEDIA_DIR_DECODING
                    )
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    first = self.audio is None
                    self.audio = self.getAudioMedia(i)
                    self.audio_index = i
                    if first:
                        self.rx_at = time.monotonic()
                        self._post(MediaReady(self.key))
        except Exception:
            log.exception("onCallMediaState failed")

    def onDtmfDigit(self, prm: Any) -> None:
        try:
            method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
            self._post(Digit(self.key, str(prm.digit), method))
        except Exception:
            log.exception("onDtmfDigit failed")

    # -- media operations (pj thread, called by the engine's commands) --
    def media(self) -> pj.AudioMedia:
        """The call's audio, or CallGone once it has ended."""
        if self.ended:
            raise CallGone(self.key)
        if self.audio is None:
            raise RuntimeError(f"call {self.key}: no active audio yet")
        return self.audio

    def play(self, token: int, path: Path, loop: bool = False) -> None:
        audio = self.media()
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(path), 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(audio)
        self.players[token] = player

    def stop(self, token: int) -> None:
        player = self.players.pop(token, None)
        if player is not None and self.audio is not None and not self.ended:
            try:
                player.stopTransmit(self.audio)
            except pj.Error:
                pass
        # the player is destroyed here, on the pj thread, when its last reference goes

    def record(self, token: int, path: Path, also: list[PjCall]) -> None:
        """Record what this call (and the `also` calls) send; the recorder belongs to this call."""
        sources = [c.media() for c in (self, *also)]
        rec = pj.AudioMediaRecorder()
        rec.createRecorder(str(path))
        for src in sources:
            src.startTransmit(rec)
        self.recorders[token] = rec

    def stop_record(self, token: int) -> None:
        self.recorders.pop(token, None)

    def listen(self, token: int, clock_rate: int, sink: Callable[[bytes], None]) -> None:
        """sink(pcm) is called inside the bridge's tick (pj thread): it must copy and return."""
        self.captures[token] = Capture(self.media().getPortId(), clock_rate, sink)

    def stop_listen(self, token: int) -> None:
        cap = self.captures.pop(token, None)
        if cap is not None:
            cap.close()

    def bridge(self, other: PjCall) -> None:
        mine, theirs = self.media(), other.media()
        mine.startTransmit(theirs)
        theirs.startTransmit(mine)

    def unbridge(self, other: PjCall) -> None:
        if self.audio is None or other.audio is None:
            return
        for src, dst in ((self.audio, other.audio), (other.audio, self.audio)):
            try:
                src.stopTransmit(dst)
            except pj.Error:
                pass

    def transmit(self, other: PjCall) -> None:
        self.media().startTransmit(other.media())

    def stop_transmit(self, other: PjCall) -> None:
        if self.audio is None or other.audio is None:  # either has ended: its port is gone
            return
        try:
            self.audio.stopTransmit(other.audio)
        except pj.Error:
            pass

    def send_dtmf(self, digits: str, method: str) -> None:
        if self.ended:
            raise CallGone(self.key)
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        self.sendDtmf(prm)

    def rtp_silent_for(self, now: float) -> float:
        """Seconds since this call's RTP packet count last grew (0 before media, or on hold)."""
        if self.audio is None or self.ended or self.audio_index < 0 or not self.receiving:
            self.rx_at = now
            return 0.0
        if not self.hasMedia():
            # the stream is gone while the call ends (or not made yet): pjsua's stream statistics
            # would assert on the missing stream and abort the process (seen in a 300 calls/s burst)
            self.rx_at = now
            return 0.0
        packets = int(self.getStreamStat(self.audio_index).rtcp.rxStat.pkt)
        if packets != self.rx_packets:
            self.rx_packets, self.rx_at = packets, now
        return now - self.rx_at

    def release_media(self) -> None:
        for cap in self.captures.values():
            cap.close()
        self.captures.clear()
        self.players.clear()
        self.recorders.clear()
        self.audio = None


class MediaWatch:
    """Hangs up calls whose RTP stopped for `timeout` seconds: a BYE lost in the network or at a
    proxy would otherwise leave the call (its pjsua slot, ports and flow) up until the trunk's
    own timers, if ever. Reads a few calls' RTP counters per pj loop (WATCH_SLICE), so a sweep of
    1,000 calls never holds SIP up; each call is looked at every min(5 s, timeout / 4)."""

    def __init__(self, timeout: float):
        self.timeout = timeout  # 0: off
        self._pending: list[str] = []  # call ids still to look at in this round
        self._next_round = 0.0

    def sweep(self, calls: Mapping[str, PjCall], hangup: Callable[[str, int], None]) -> None:
        now = time.monotonic()
        if not self.timeout or (not self._pending and now < self._next_round):
            return
        if not self._pending:
            self._pending = list(calls)
            self._next_round = now + min(5.0, self.timeout / 4)
        for _ in range(min(WATCH_SLICE, len(self._pending))):
            call = calls.get(self._pending.pop())
            if call is None or call.ended:
                continue
            try:
                silent = call.rtp_silent_for(now)
            except pj.Error:
                continue
            if silent >= self.timeout:
                log.warning("call %s: no RTP for %.0f s: hanging up (its BYE was lost?)", call.key, silent)
                hangup(call.key, 0)
