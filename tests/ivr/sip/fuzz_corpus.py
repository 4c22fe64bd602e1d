"""A deterministic corpus of malformed SIP messages for the fuzz run (tests/ivr/sip/test_sip_fuzz.py).

Built from a valid INVITE and OPTIONS by one mutation each: truncated, bad Content-Length,
huge headers, binary junk, missing mandatory headers, bad URIs, wrong methods, invalid SDP,
non-UTF-8 bytes, broken line endings, stray responses. Seeded, so a failure names a message
that the next run sends again.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 39000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)
BAD_SDP = (
    "",
    "v=0\r\n",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 39000 RTP/AVP 8\r\n",  # no c=
    SDP.replace("m=audio 39000", "m=audio -1"),
    SDP.replace("m=audio 39000", "m=audio 99999999999"),
    SDP.replace("RTP/AVP 8 101", "RTP/AVP " + " ".join(str(i) for i in range(128))),
    SDP.replace("IN IP4 127.0.0.1", "IN IP4 999.999.1.1"),
    SDP.replace("PCMA/8000", "PCMA/0"),
    SDP.replace("\r\n", "\n"),
    SDP + "a=" + "x" * 3000 + "\r\n",
    "m=video 0 RTP/AVP 0\r\n" * 40,
    "\x00\x01\x02 not sdp at all",
)
BAD_URIS = (
    "sip:",
    "sip:@",
    "<sip:12345@>",
    "sip:12345@[::1",
    "sip:12345@127.0.0.1:99999",
    "tel:",
    "sip:%00@x",
    "\x7f",
)
METHODS = (
    "invite",
    "INV ITE",
    "12345",
    "OPTIONS2",
    "X" * 300,
    "ÄCK",
    "",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "INFO",
)


def _message(method: str, port: int, call_id: str, body: str = "", extra: str = "") -> str:
    return (
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{call_id};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:13800000000@127.0.0.1:5999>;tag={call_id[:8]}\r\n"
        f"To: <sip:12345@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:13800000000@127.0.0.1:5999>\r\n"
        f"{extra}"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body.encode('utf-8', 'surrogateescape'))}\r\n\r\n{body}"
    )


def corpus(port: int, size: int = 300, seed: int = 12345) -> list[bytes]:
    """`size` malformed messages aimed at a line on 127.0.0.1:`port`."""
    rng = random.Random(seed)

    def cid() -> str:
        return f"fuzz{rng.getrandbits(48):012x}"

    def invite(body: str = SDP, extra: str = "") -> str:
        return _message("INVITE", port, cid(), body, extra)

    def drop_header(name: str) -> Callable[[], bytes]:
        def make() -> bytes:
            text = invite() if rng.random() < 0.5 else _message("OPTIONS", port, cid())
            return "\r\n".join(x for x in text.split("\r\n") if not x.startswith(name + ":")).encode()

        return make

    def truncated() -> bytes:
        text = invite().encode()
        return text[: rng.randrange(1, len(text))]

    def bad_length() -> bytes:
        value = rng.choice(("-1", "99999", "abc", "", "4294967296", "0", "10 20", "3.5"))
        text = invite()
        return text.replace(f"Content-Length: {len(SDP)}", f"Content-Length: {value}").encode()

    def huge_header() -> bytes:
        size = rng.choice((1000, 3000, 3900, 8000, 60000))
        return invite(extra=f"X-Junk: {'a' * size}\r\n").encode()

    def many_headers() -> bytes:
        return _message(
            "OPTIONS", port, cid(), extra="Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n" * 200
        ).encode()

    def junk() -> bytes:
        return rng.randbytes(rng.randrange(1, 1400))

    def junk_after_request_line() -> bytes:
        return f"INVITE sip:12345@127.0.0.1:{port} SIP/2.0\r\n".encode() + rng.randbytes(
            rng.randrange(1, 600)
        )

    def bad_uri() -> bytes:
        uri = rng.choice(BAD_URIS)
        text = invite()
        where = rng.choice(("request", "from", "to", "contact"))
        if where == "request":
            return text.replace(f"sip:12345@127.0.0.1:{port} SIP/2.0", f"{uri} SIP/2.0", 1).encode()
        if where == "from":
            return text.replace("<sip:13800000000@127.0.0.1:5999>;tag", f"<{uri}>;tag", 1).encode()
        if where == "to":
            return text.replace(f"To: <sip:12345@127.0.0.1:{port}>", f"To: <{uri}>", 1).encode()
        return text.replace("Contact: <sip:13800000000@127.0.0.1:5999>", f"Contact: {uri}", 1).encode()

    def wrong_method() -> bytes:
        return _message(rng.choice(METHODS), port, cid()).encode()

    def cseq_mismatch() -> bytes:
        return (
            invite()
            .replace(
                "CSeq: 1 INVITE",
                rng.choice(("CSeq: 1 BYE", "CSeq: x INVITE", "CSeq: 4294967296 INVITE", "CSeq:")),
            )
            .encode()
        )

    def bad_sdp() -> bytes:
        return invite(rng.choice(BAD_SDP)).encode()

    def non_utf8() -> bytes:
        text = invite().encode()
        at = rng.randrange(0, len(text))
        return (
            text[:at] + bytes([rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 20))]) + text[at:]
        )

    def line_endings() -> bytes:
        text = invite()
        return rng.choice(
            (text.replace("\r\n", "\n"), text.replace("\r\n", "\r"), text.replace("\r\n\r\n", "\r\n"))
        ).encode()

    def stray_response() -> bytes:
        code = rng.choice(("200 OK", "180 Ringing", "487 Request Terminated", "999 What", "2000 OK"))
        return (
            _message("INVITE", port, cid())
            .replace(f"INVITE sip:12345@127.0.0.1:{port} SIP/2.0", f"SIP/2.0 {code}", 1)
            .encode()
        )

    def bad_via() -> bytes:
        via = rng.choice(
            ("SIP/2.0/UDP", "SIP/2.0/XYZ 127.0.0.1", "SIP/2.0/UDP 127.0.0.1:0", "SIP/2.0/UDP [::1", "garbage")
        )
        return invite().replace("Via: SIP/2.0/UDP 127.0.0.1:5999", f"Via: {via}", 1).encode()

    def zero_forwards() -> bytes:
        return (
            invite()
            .replace(
                "Max-Forwards: 70", rng.choice(("Max-Forwards: 0", "Max-Forwards: -5", "Max-Forwards: x"))
            )
            .encode()
        )

    def folded() -> bytes:
        return invite().replace("Call-ID: ", "Call-ID:\r\n ", 1).encode()

    makers: list[Callable[[], bytes]] = [
        truncated,
        bad_length,
        huge_header,
        many_headers,
        junk,
        junk_after_request_line,
        drop_header("Via"),
        drop_header("Call-ID"),
        drop_header("CSeq"),
        drop_header("From"),
        drop_header("To"),
        bad_uri,
        wrong_method,
        cseq_mismatch,
        bad_sdp,
        non_utf8,
        line_endings,
        stray_response,
        bad_via,
        zero_forwards,
        folded,
    ]
    out = [maker() for maker in makers]  # each kind at least once
    while len(out) < size:
        out.append(rng.choice(makers)())
    return out[:size]
