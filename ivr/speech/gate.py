"""The voice gate in front of the recogniser: decode only while the caller speaks.

A Vosk grammar stream costs about 1/31 of a core (Korean model, 8 kHz), so a node whose callers
all sit at a listening step would spend its cores decoding line noise. Most of a listening turn
is silence: the prompt plays, the caller thinks. The gate classifies each 20 ms frame with
WebRTC's voice activity detector (webrtcvad-wheels: a Gaussian-mixture model over six frequency
bands, written for telephone audio, about 1 µs of CPU per frame, rates 8/16/32/48 kHz) and lets
audio through only from the onset of voice to the end of its hangover:

- onset: `onset` voiced frames among the last `onset_window` (a click or a single loud frame
  does not open it);
- pre-roll: the `pre_roll` seconds before the onset go to the decoder first, so the first
  syllable, whose soft start the detector may not call voice yet, is decoded with the rest;
- hangover: after `hangover` seconds without voice the gate closes and says the speech ended,
  so the caller's turn is decided then instead of after Vosk's own 0.5 s trailing-silence rule.

Owned by one thread at a time (the session's drain job); holds no locks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import webrtcvad

RATES = (8000, 16000, 32000, 48000)  # what the detector accepts; ivr.config allows only these


@dataclass(frozen=True)
class Gating:
    """When the gate opens and closes. Defaults measured with espeak-ng phrases on 8 kHz lines."""

    aggressiveness: int = 2  # webrtcvad mode 0 (lets most through) .. 3 (strictest)
    frame: float = 0.02  # detector frame: 0.01, 0.02 or 0.03 s
    # voiced frames among the last onset_window that open the gate: the detector keeps calling
    # voice for ~80 ms after any loud frame, so a 20 ms click yields five (mode 2, 8 kHz)
    onset: int = 6
    onset_window: int = 8
    pre_roll: float = 0.3  # seconds before the onset that are decoded too
    hangover: float = 0.2  # seconds without voice that end the speech (the detector adds ~0.1 s)


@dataclass(frozen=True)
class Gated:
    """What one pushed chunk yields: audio for the decoder (maybe empty), and whether the
    speech ended within it (the audio then includes the hangover)."""

    audio: bytes
    ended: bool = False


class VoiceGate:
    def __init__(self, sample_rate: int, gating: Gating | None = None) -> None:
        g = gating or Gating()
        if sample_rate not in RATES:
            raise ValueError(f"voice gate: sample rate {sample_rate} not one of {RATES}")
        if g.frame not in (0.01, 0.02, 0.03):
            raise ValueError(f"voice gate: frame {g.frame} s is not 0.01, 0.02 or 0.03")
        self._vad = webrtcvad.Vad(g.aggressiveness)
        self._rate = sample_rate
        self._frame_bytes = round(g.frame * sample_rate) * 2
        self._onset = g.onset
        self._recent: deque[bool] = deque(maxlen=g.onset_window)
        self._pre_roll: deque[bytes] = deque(maxlen=max(1, round(g.pre_roll / g.frame)))
        self._hangover = max(1, round(g.hangover / g.frame))
        self._rest = b""  # a partial frame carried to the next chunk
        self._quiet = 0  # frames without voice since the last voiced one, while open
        self.open = False
        self.frames = 0  # frames classified
        self.passed = 0  # frames let through to the decoder

    def push(self, chunk: bytes) -> Gated:
        data = self._rest + chunk
        size = self._frame_bytes
        whole = len(data) - len(data) % size
        self._rest = data[whole:]
        out: list[bytes] = []
        for i in range(0, whole, size):
            frame = data[i : i + size]
            voiced = self._vad.is_speech(frame, self._rate)
            self.frames += 1
            if not self.open:
                self._pre_roll.append(frame)
                self._recent.append(voiced)
                if sum(self._recent) >= self._onset:
                    self.open = True
                    self._quiet = 0
                    out.extend(self._pre_roll)
                    self.passed += len(self._pre_roll)
                    self._pre_roll.clear()
                continue
            out.append(frame)
            self.passed += 1
            self._quiet = 0 if voiced else self._quiet + 1
            if self._quiet >= self._hangover:
                self.open = False
                self._recent.clear()
                # the rest of this chunk is silence before any next speech: it starts the pre-roll
                for j in range(i + size, whole, size):
                    self._pre_roll.append(data[j : j + size])
                    self._recent.append(self._vad.is_speech(data[j : j + size], self._rate))
                    self.frames += 1
                return Gated(b"".join(out), ended=True)
        return Gated(b"".join(out))
