"""A trunk's callers for the benchmarks: a small SIP UAC over UDP with paced G.711 A-law RTP.

All callers run on one asyncio loop in the bench's process (another process than the node):
one SIP socket for every call, as a trunk has, and one bound RTP socket per call. A caller sends
INVITE (PCMA) -> 200 OK -> ACK, then streams its audio at one 20 ms packet per tick, catching
up at once when the loop was late (so the audio keeps real time as a trunk's does), and answers
the line's BYE with 200 OK. sipp's rtp_stream paces its streams from a few threads, which on a
loaded 2-core host drifted by seconds and lost whole words at 60 calls (README, Performance);
here the lateness of every tick is measured and reported.

Times are this process's monotonic clock: when the packet holding the end of the spoken part
left (`spoken_end`) and when the line's BYE arrived (`bye_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import socket
import struct
import time
from dataclasses import dataclass, field

PACKET = 160  # 20 ms of 8 kHz A-law
PERIOD = 0.02


@dataclass
class Caller:
    number: str
    audio: bytes  # A-law, 8 kHz
    spoken_end: float  # seconds into `audio` where the speech ends
    call_id: str = ""
    status: int = 0  # final response to the INVITE
    rtp: socket.socket | None = None
    remote_rtp: tuple[str, int] | None = None
    sent: int = 0  # packets sent
    started_at: float = 0.0  # first packet
    spoken_end_at: float = 0.0
    bye_at: float = 0.0
    dialog: tuple[str, str, str] = ("", "", "")  # request URI, From, To (with both tags)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Trunk(asyncio.DatagramProtocol):
    def __init__(self, line: tuple[str, int], dialled: str = "12345") -> None:
        self.line = line
        self.dialled = dialled
        self.calls: dict[str, Caller] = {}
        self.max_late = 0.0  # the worst tick lateness of the RTP pacing, seconds
        self._transport: asyncio.DatagramTransport | None = None
        self._local = ("127.0.0.1", 0)
        self._streaming: list[Caller] = []
        self._ids = itertools.count(1)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self._transport = transport
        self._local = transport.get_extra_info("sockname")[:2]
        self._pacer = asyncio.ensure_future(self._pace())

    def close(self) -> None:
        self._pacer.cancel()
        for c in self.calls.values():
            if c.rtp is not None:
                c.rtp.close()
        if self._transport is not None:
            self._transport.close()

    # -- calls ---------------------------------------------------------------------------------

    def dial(self, caller: Caller) -> None:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        rtp.setblocking(False)
        caller.rtp = rtp
        caller.call_id = f"{next(self._ids)}-{random.getrandbits(48):x}@bench"
        self.calls[caller.call_id] = caller
        host, port = self._local
        sdp = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp.getsockname()[1]} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        )
        self._send(
            f"INVITE sip:{self.dialled}@{self.line[0]}:{self.line[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{random.getrandbits(64):x};rport\r\n"
            f"From: <sip:{caller.number}@{host}:{port}>;tag={random.getrandbits(32):x}\r\n"
            f"To: <sip:{self.dialled}@{self.line[0]}:{self.line[1]}>\r\n"
            f"Call-ID: {caller.call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:{caller.number}@{host}:{port}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
        )

    def _via(self) -> str:
        host, port = self._local
        return f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{random.getrandbits(64):x}\r\n"

    def _send(self, text: str) -> None:
        assert self._transport is not None
        self._transport.sendto(text.encode(), self.line)

    # -- SIP in ----------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | bytes | int, ...]) -> None:
        now = time.monotonic()
        text = data.decode(errors="replace")
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers: dict[str, list[str]] = {}
        for ln in lines[1:]:
            name, _, value = ln.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        call = self.calls.get((headers.get("call-id") or headers.get("i") or [""])[0])
        if lines[0].startswith("SIP/2.0"):
            if call is not None:
                self._response(call, int(lines[0].split()[1]), headers, body)
            return
        method = lines[0].split()[0]
        if method == "ACK":
            return
        reply = ["SIP/2.0 200 OK"]
        for name in ("via", "from", "to", "call-id", "cseq"):
            reply += [f"{name.title()}: {v}" for v in headers.get(name, [])]
        self._send("\r\n".join([*reply, "Content-Length: 0", "", ""]))
        if method == "BYE" and call is not None and not call.bye_at:
            call.bye_at = now
            self._hang_up(call)

    def _response(self, call: Caller, status: int, headers: dict[str, list[str]], body: str) -> None:
        if "INVITE" not in headers.get("cseq", [""])[0] or status < 200:
            return
        if status >= 300:
            call.status = status
            call.done.set()
            return
        to = headers["to"][0]
        contact = re.search(r"<([^>]+)>", headers.get("contact", [f"<sip:{self.dialled}@{self.line[0]}>"])[0])
        uri = contact.group(1) if contact else f"sip:{self.dialled}@{self.line[0]}:{self.line[1]}"
        self._send(
            f"ACK {uri} SIP/2.0\r\n{self._via()}"
            f"From: {headers['from'][0]}\r\nTo: {to}\r\nCall-ID: {call.call_id}\r\nCSeq: 1 ACK\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        if call.status:  # a retransmitted 200 OK: ACKed again, already streaming
            return
        call.status = status
        call.dialog = (uri, headers["from"][0], to)
        media = re.search(r"m=audio (\d+)", body)
        conn = re.search(r"c=IN IP4 (\S+)", body)
        if media and conn:
            call.remote_rtp = (conn.group(1), int(media.group(1)))
            self._streaming.append(call)

    def bye(self, call: Caller) -> None:
        """Our own hang-up, for a call the line did not end."""
        if call.done.is_set() or not call.dialog[0]:
            return
        uri, from_, to = call.dialog
        self._send(
            f"BYE {uri} SIP/2.0\r\n{self._via()}"
            f"From: {from_}\r\nTo: {to}\r\nCall-ID: {call.call_id}\r\nCSeq: 2 BYE\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        self._hang_up(call)

    def _hang_up(self, call: Caller) -> None:
        with contextlib.suppress(ValueError):
            self._streaming.remove(call)
        call.done.set()

    # -- RTP out ---------------------------------------------------------------------------------

    async def _pace(self) -> None:
        next_tick = time.monotonic()
        while True:
            now = time.monotonic()
            self.max_late = max(self.max_late, now - next_tick)
            while next_tick <= now:  # late: send the packets that were due, as a trunk buffers
                for call in list(self._streaming):
                    self._packet(call, time.monotonic())
                next_tick += PERIOD
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    def _packet(self, call: Caller, now: float) -> None:
        off = call.sent * PACKET
        if off >= len(call.audio):
            return  # the recording is over: the caller holds the line in silence
        if call.sent == 0:
            call.started_at = now
        header = struct.pack(
            "!BBHII",
            0x80,
            8 | (0x80 if call.sent == 0 else 0),
            call.sent & 0xFFFF,
            (call.sent * PACKET) & 0xFFFFFFFF,
            0x1234 + hash(call.call_id) % 10000,
        )
        assert call.rtp is not None and call.remote_rtp is not None
        with contextlib.suppress(OSError):
            call.rtp.sendto(header + call.audio[off : off + PACKET], call.remote_rtp)
        call.sent += 1
        if not call.spoken_end_at and call.sent * PERIOD >= call.spoken_end:
            call.spoken_end_at = now
