"""Streaming speech recognition with Vosk: one `Recognizer` per process, one `ListenSession` per ask.

Threads: the engine's capture port fills a 100 ms chunk inside the conference bridge's tick on
the pj thread (ivr.sip.clock) and hands it to the event loop, which calls `ListenSession.feed`.
`feed` (safe from any thread) must never block: it only appends to a bounded deque (dropping the
oldest chunk when full) and schedules a drain job on the recognizer's pool. At most one drain job
per session runs at a time, so a session's voice gate and Kaldi stream are only ever touched by
one thread; Vosk's C calls release the GIL, so sessions decode in parallel across cores. Neither
the pj thread nor the loop ever decodes. Results go back to the loop with `call_soon_threadsafe`.

The voice gate (ivr.speech.gate) sits in the drain job in front of Vosk: silence is classified
(about 1 µs a frame) and never decoded, the stream is made at the first voice, and the turn is
decided when the gate hears the speech end (its hangover) rather than at Vosk's own endpoint.

Timing counts audio, not wall time, so a test can feed a WAV faster than real time and get the
same answer as a live call; a wall-clock guard ends a session whose audio stopped arriving.

Model directories are checked before loading, because a Vosk model that lacks a file fails
deep inside Kaldi with a message about a stream; an admin needs to read "am/final.mdl is
missing" instead. The layout:

    am/final.mdl               acoustic model
    conf/mfcc.conf             feature extraction
    conf/model.conf            decoder options (beams, endpointing)
    graph/HCLr.fst + Gr.fst    lookahead graph: small models, runtime grammars work
      or graph/HCLG.fst        static graph: big models, grammars are ignored
    graph/phones/word_boundary.int   word alignment (needed for per-word confidences)
    ivector/                   speaker adaptation (optional)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.config import SpeechSettings
from ivr.control import SpeechSpec
from ivr.speech.gate import Gating
from ivr.speech.grammar import ModelVocabulary, grammar_phrases, segment_phrase
from ivr.speech.session import ListenSession, Voicing, parse_result

log = logging.getLogger(__name__)

__all__ = [
    "Gating",
    "ListenSession",
    "ModelError",
    "ModelInfo",
    "Recognizer",
    "Voicing",
    "check_model_dir",
    "parse_result",
]


REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/phones/word_boundary.int")
LOOKAHEAD_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst")
STATIC_GRAPH = "graph/HCLG.fst"
DEFAULT_GATING = Gating()


class ModelError(RuntimeError):
    """The model directory is absent or incomplete; the message names every missing part."""

    def __init__(self, path: Path, missing: tuple[str, ...]) -> None:
        self.path = path
        self.missing = missing
        super().__init__(f"Vosk model directory {path} is missing {', '.join(missing)}")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    supports_grammar: bool  # only lookahead graphs (HCLr + Gr) accept runtime grammars
    has_ivector: bool


def check_model_dir(path: str | Path) -> ModelInfo:
    """Check the files Vosk needs; raise ModelError listing every missing one."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ModelError(root, ("the directory itself",))
    missing = [rel for rel in REQUIRED if not (root / rel).is_file()]
    lookahead = all((root / rel).is_file() for rel in LOOKAHEAD_GRAPH)
    static = (root / STATIC_GRAPH).is_file()
    if not lookahead and not static:
        absent = [rel for rel in LOOKAHEAD_GRAPH if not (root / rel).is_file()]
        missing.append(f"{STATIC_GRAPH} (or {' + '.join(absent)})")
    if missing:
        raise ModelError(root, tuple(missing))
    return ModelInfo(path=root, supports_grammar=lookahead, has_ivector=(root / "ivector").is_dir())


def load_model(path: str | Path) -> tuple[Any, ModelInfo]:
    """Check and load a model directory; returns (vosk.Model, ModelInfo). Takes seconds."""
    info = check_model_dir(path)
    import vosk

    vosk.SetLogLevel(-1)  # Kaldi logs to stderr; our own checks say what matters
    started = time.monotonic()
    try:
        model = vosk.Model(str(info.path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(info.path, (f"a loadable model ({exc})",)) from exc
    log.info(
        "speech: loaded Vosk model %s in %.1f s (grammars %s)",
        info.path,
        time.monotonic() - started,
        "supported" if info.supports_grammar else "not supported: static graph",
    )
    return model, info


class Recognizer:
    """Holds the model (hundreds of MB: load once) and the decode pool."""

    def __init__(
        self,
        model: Any,
        info: ModelInfo | None = None,
        *,
        workers: int | None = None,
        queue_seconds: float = 3.0,
        voicing: Voicing | None = None,
        gating: Gating | None = DEFAULT_GATING,
    ) -> None:
        self.model = model
        self.info = info
        self.vocabulary = ModelVocabulary(model)
        self.queue_seconds = queue_seconds
        self.voicing = voicing or Voicing()
        self.gating = gating  # None: decode every chunk (no voice gate)
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2, thread_name_prefix="asr")
        self._grammars: dict[tuple[str, ...], str | None] = {}

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Recognizer:
        """Check and load a model directory; raises ModelError naming what is missing."""
        model, info = load_model(path)
        return cls(model, info, **kwargs)

    @classmethod
    def from_settings(
        cls, speech: SpeechSettings, resolve: Callable[[str], Path] = Path, **kwargs: Any
    ) -> Recognizer | None:
        """The configured recognizer, or None (one log line saying why) so the line runs on DTMF."""
        if not speech.model:
            log.warning("speech: [speech] model is not set; speech recognition off, callers use the keypad")
            return None
        kwargs.setdefault("gating", Gating(hangover=speech.end_silence) if speech.voice_gate else None)
        try:
            return cls.load(resolve(speech.model), **kwargs)
        except ModelError as exc:
            log.error("speech: %s; speech recognition off, callers use the keypad", exc)
            return None

    def grammar_for(self, phrases: tuple[str, ...] | None) -> str | None:
        """The grammar JSON for `phrases` (None: free-form). Unknown words are dropped by Vosk,
        so phrases containing them are left out here, with one warning per phrase set."""
        if phrases is None:
            return None
        if phrases in self._grammars:
            return self._grammars[phrases]
        usable: list[str] = []
        for phrase in phrases:
            seg = segment_phrase(phrase, self.vocabulary)
            if seg.missing:
                log.warning(
                    "speech: grammar phrase %r left out: model lacks %s", phrase, ", ".join(seg.missing)
                )
            elif seg.words:
                usable.append(seg.phrase)
        grammar: str | None
        if self.info is not None and not self.info.supports_grammar:
            log.warning("speech: model %s has a static graph; grammar ignored, free-form", self.info.path)
            grammar = None
        elif not usable:
            log.warning("speech: no grammar phrase of %r is in the vocabulary; free-form", phrases)
            grammar = None
        else:
            # ensure_ascii=False: Vosk reads the JSON literally, "\uc0c1" is not a word it knows.
            grammar = json.dumps(grammar_phrases(usable, self.vocabulary), ensure_ascii=False)
        self._grammars[phrases] = grammar
        return grammar

    def listen(self, spec: SpeechSpec, sample_rate: int, *, armed: bool = True) -> ListenSession:
        """Start a session on the running loop; feed it 16-bit mono PCM at `sample_rate`.

        With armed=False the no-input timeout waits for `session.arm()` (call it when the
        prompt ends, so barge-in can listen during the prompt without eating the timeout).
        """
        import vosk

        grammar = self.grammar_for(spec.phrases)

        def make() -> Any:
            rec = (
                vosk.KaldiRecognizer(self.model, float(sample_rate), grammar)
                if grammar is not None
                else vosk.KaldiRecognizer(self.model, float(sample_rate))
            )
            rec.SetWords(True)
            return rec

        return ListenSession(
            spec,
            sample_rate,
            make_stream=make,
            submit=self._pool.submit,
            loop=asyncio.get_running_loop(),
            queue_chunks=max(4, round(self.queue_seconds * 10)),
            voicing=self.voicing,
            gating=self.gating,
            armed=armed,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
