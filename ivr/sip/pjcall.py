"""pj-thread side of one call leg: the pjsua2 Call, its players, recorders and capture taps.

Everything here runs on the engine's pj thread (callbacks, or functions passed to `submit`).
Callbacks copy fields into events and post them; they never block or raise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from ivr.sip.capture import Capture
from ivr.sip.events import CallState, Digit, Event, MediaReady

if TYPE_CHECKING:
    from ivr.sip.engine import SipEngine

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
_USER = re.compile(r"sips?:([^@;>]+)@")


def uri_user(uri: str) -> str:
    """'"Zhang" <sip:13800138000@host>;tag=x' -> '13800138000'."""
    m = _USER.search(uri)
    return m.group(1) if m else uri


class PjCall(pj.Call):  # type: ignore[misc]
    def __init__(self, engine: SipEngine, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.engine = engine
        self.audio: pj.AudioMedia | None = None
        self.players: dict[int, pj.AudioMediaPlayer] = {}
        self.recorders: dict[int, pj.AudioMediaRecorder] = {}
        self.captures: dict[int, Capture] = {}
        self.peers: set[int] = set()  # call ids whose audio we transmit to (bridges)
        self.ended = False
        self.silent = False  # a call we reject before anyone owns its id posts nothing

    def _post(self, event: Event) -> None:
        if not self.silent:
            self.engine.post(event)

    # -- callbacks (pj thread) --
    def onCallState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            state = _STATES.get(ci.state, str(ci.state))
            self._post(CallState(ci.id, state, int(ci.lastStatusCode), str(ci.lastReason)))
            if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.ended = True
                self.release_media()
                self.engine.forget(ci.id)
        except Exception:
            log.exception("onCallState failed")

    def onCallMediaState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            for i, mi in enumerate(ci.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    first = self.audio is None
                    self.audio = self.getAudioMedia(i)
                    if first:
                        self._post(MediaReady(ci.id))
        except Exception:
            log.exception("onCallMediaState failed")

    def onDtmfDigit(self, prm: Any) -> None:
        try:
            method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
            self._post(Digit(self.getId(), str(prm.digit), method))
        except Exception:
            log.exception("onDtmfDigit failed")

    # -- media operations (pj thread, through engine.submit) --
    def play(self, token: int, path: Path, loop: bool = False) -> None:
        if self.audio is None:
            raise RuntimeError("no active audio")
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(path), 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(self.audio)
        self.players[token] = player

    def stop(self, token: int) -> None:
        player = self.players.pop(token, None)
        if player is not None and self.audio is not None and not self.ended:
            try:
                player.stopTransmit(self.audio)
            except pj.Error:
                pass
        # the player is destroyed here, on the pj thread, when its last reference goes

    def record(self, token: int, path: Path, sources: list[pj.AudioMedia]) -> None:
        rec = pj.AudioMediaRecorder()
        rec.createRecorder(str(path))
        for src in sources:
            src.startTransmit(rec)
        self.recorders[token] = rec

    def stop_record(self, token: int) -> None:
        self.recorders.pop(token, None)

    def listen(self, token: int, clock_rate: int, sink: Callable[[bytes], None]) -> None:
        if self.audio is None:
            raise RuntimeError("no active audio")
        self.captures[token] = Capture(self.audio.getPortId(), clock_rate, sink)

    def stop_listen(self, token: int) -> None:
        cap = self.captures.pop(token, None)
        if cap is not None:
            cap.close()

    def release_media(self) -> None:
        for cap in self.captures.values():
            cap.close()
        self.captures.clear()
        self.players.clear()
        self.recorders.clear()
        self.audio = None
