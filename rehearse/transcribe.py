"""Spoken answers: decode a recording, transcribe it offline with Whisper base, and measure the delivery.

    from rehearse.transcribe import Transcriber
    spoken = Transcriber().transcribe(Path("answer.wav").read_bytes())
    spoken.text                      # what was said, as Whisper heard it
    spoken.delivery.words_per_minute # against the 130-160 band
    spoken.delivery.fillers          # a lower bound: Whisper tends to drop "um" and "uh"

The recording is decoded to 16 kHz mono (WAV, and whatever else the bundled FFmpeg of PyAV reads: WebM, Ogg,
MP3, M4A). It is refused, with one line that says what to do, when it is not audio, holds no sound or no speech,
or runs longer than `MAX_SECONDS`. Transcription runs faster-whisper on the CPU (int8, two threads) from the
verified model folder (rehearse/model.py), with its built-in voice activity filter and word timestamps; the
delivery figures come from those timestamps (`delivery`).
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import WHISPER_BASE, SplitFileModel, whisper_model_folder

SAMPLE_RATE = 16_000  # Hz: what Whisper takes, and what the app asks the browser to record
MAX_SECONDS = 300.0  # a recording longer than five minutes is more than one answer
MAX_BYTES = 64 * 2**20  # refused before decoding: five minutes of 48 kHz stereo WAV is 55 MiB
BUDGET_SECONDS = 120.0  # the length an interview answer should stay within, about two minutes
WPM_BAND = (130, 160)  # words per minute that speaking coaches call clear and unhurried
LONG_PAUSE_SECONDS = 2.0  # a gap this long between two words is a pause a listener notices
SILENCE_PEAK = 10 ** (-50 / 20)  # a recording whose loudest sample stays under -50 dBFS holds no sound
CPU_THREADS = 2
BEAM_SIZE = 5  # faster-whisper's default: fewer word errors than greedy decoding on the bench's speech

FILLER_RULE = ("Fillers counted: um, uh, er, erm, hmm anywhere; \"you know\" and \"I mean\" set off by a comma or "
               "at the edge of a clause; \"like\" set off by commas or opening a clause; \"so\" opening a clause and "
               "followed by a comma or a trailing off. The count is a lower bound: Whisper tends to leave "
               "hesitations out of its transcript.")


class RecordingError(ValueError):
    """A recording that cannot be checked: not audio, silent, without speech, or too long. Its message is one
    line that says what to do."""


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the recording
    end: float


@dataclass(frozen=True)
class Pause:
    after: str  # the word before the pause
    start: float  # seconds from the start of the recording
    seconds: float


@dataclass(frozen=True)
class Delivery:
    """How the answer was said: its length against the budget, its pace, its long pauses and its fillers."""

    duration_s: float  # the whole recording
    speaking_s: float  # from the first word's start to the last word's end
    words: int
    words_per_minute: float  # over the speaking time
    pauses: tuple[Pause, ...]  # gaps of LONG_PAUSE_SECONDS or more between two words
    fillers: dict[str, int] = field(default_factory=dict)  # filler -> count, a lower bound

    @property
    def filler_count(self) -> int:
        return sum(self.fillers.values())

    @property
    def over_budget(self) -> bool:
        return self.duration_s > BUDGET_SECONDS

    @property
    def pace(self) -> str:
        """"slow", "in the band" or "fast" against WPM_BAND."""
        low, high = WPM_BAND
        return "slow" if self.words_per_minute < low else "fast" if self.words_per_minute > high else "in the band"

    def summary(self) -> list[str]:
        """The figures as short plain sentences, for a front end beside the content check."""
        low, high = WPM_BAND
        minutes, seconds = divmod(round(self.duration_s), 60)
        length = f"{minutes}:{seconds:02d}" if minutes else f"{seconds} s"
        lines = [f"Length {length} of a {BUDGET_SECONDS / 60:.0f}-minute budget"
                 + (" (over: trim to the key points)." if self.over_budget else "."),
                 f"Pace {self.words_per_minute:.0f} words a minute ({self.pace}; {low}-{high} is clear and "
                 "unhurried).",
                 (f"{len(self.pauses)} long pause{'s' if len(self.pauses) != 1 else ''} (≥ {LONG_PAUSE_SECONDS:.0f} s): "
                  + ", ".join(f"{p.seconds:.1f} s after “{p.after}”" for p in self.pauses[:3])
                  + (" and more" if len(self.pauses) > 3 else "") + "." if self.pauses
                  else f"No pause of {LONG_PAUSE_SECONDS:.0f} s or more."),
                 (f"At least {self.filler_count} filler word{'s' if self.filler_count != 1 else ''}: "
                  + ", ".join(f"{k} × {v}" for k, v in sorted(self.fillers.items(), key=lambda kv: -kv[1])) + "."
                  if self.fillers else "No filler words heard (a lower bound: Whisper drops some).")]
        return lines

    def to_json(self) -> dict:
        return {"duration_s": round(self.duration_s, 2), "speaking_s": round(self.speaking_s, 2),
                "budget_s": BUDGET_SECONDS, "words": self.words,
                "words_per_minute": round(self.words_per_minute, 1), "words_per_minute_band": list(WPM_BAND),
                "pauses": [{"after": p.after, "start_s": round(p.start, 2), "seconds": round(p.seconds, 2)}
                           for p in self.pauses],
                "fillers": {"counts": dict(self.fillers), "total": self.filler_count, "lower_bound": True}}


@dataclass(frozen=True)
class Spoken:
    """A transcribed recording: the text, its words with times, and the delivery figures."""

    text: str
    words: tuple[Word, ...]
    delivery: Delivery
    transcribe_s: float  # wall-clock seconds the transcription took

    def to_json(self) -> dict:
        """The transcript and the delivery figures, the keys `python -m index grade --audio --json` adds."""
        return {"transcript": self.text, **self.delivery.to_json(), "transcribe_s": round(self.transcribe_s, 2)}


_FILLER_WORDS = ("um", "umm", "uh", "uhh", "er", "erm", "hmm", "mm")
_FILLERS = (
    # (label, pattern over the lower-cased transcript, where a clause edge is the start, or . , ; : ? ! -)
    ("um", re.compile(r"\b(?:um+|uhm+)\b")),
    ("uh", re.compile(r"\buh+\b")),
    ("er", re.compile(r"\b(?:er|erm)\b")),
    ("hmm", re.compile(r"\b(?:hmm+|mm+)\b")),
    ("you know", re.compile(r"(?:^|[.,;:?!-]\s*)you know(?=\s*(?:[.,;:?!-]|$))|,\s*you know\b")),
    ("I mean", re.compile(r"(?:^|[.,;:?!-]\s*)i mean(?=\s*[,-])")),
    ("like", re.compile(r"(?:^|[.,;:?!-]\s*)like(?=\s*,)|,\s*like\s*,")),
    ("so", re.compile(r"(?:^|[.,;:?!-]\s*)so(?=\s*(?:,|\.\.\.|…))")),
)


def count_fillers(text: str) -> dict[str, int]:
    """Filler words in a transcript by the rule in FILLER_RULE; only fillers found are listed."""
    lowered = " ".join(text.lower().split())
    counts = {label: len(pattern.findall(lowered)) for label, pattern in _FILLERS}
    return {label: n for label, n in counts.items() if n}


def delivery(words: list[Word] | tuple[Word, ...], duration_s: float, text: str | None = None) -> Delivery:
    """The delivery figures of an answer from its words' timestamps.

    Args:
        words: the transcript's words with start and end times, in order.
        duration_s: the recording's length.
        text: the transcript with its punctuation, for the fillers (default: the words joined).
    """
    words = [w for w in words if w.text.strip()]
    text = text if text is not None else " ".join(w.text.strip() for w in words)
    speaking = max(0.0, words[-1].end - words[0].start) if words else 0.0
    spoken_words = [w for w in words if _bare(w.text) not in _FILLER_WORDS]
    wpm = len(spoken_words) / speaking * 60.0 if speaking > 0 else 0.0
    pauses = tuple(Pause(a.text.strip(), a.end, b.start - a.end) for a, b in zip(words, words[1:])
                   if b.start - a.end >= LONG_PAUSE_SECONDS)
    return Delivery(duration_s, speaking, len(spoken_words), wpm, pauses, count_fillers(text))


def _bare(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def decode(data: bytes) -> np.ndarray:
    """A recording's samples at 16 kHz mono, float32 in [-1, 1]. Raises RecordingError when it cannot be used."""
    if not data:
        raise RecordingError("the recording is empty: record your answer again")
    if len(data) > MAX_BYTES:
        raise RecordingError(f"the file is {len(data) / 2**20:.0f} MiB, more than a {MAX_SECONDS / 60:.0f}-minute "
                             "answer takes: record one answer at a time")
    import av
    from faster_whisper.audio import decode_audio

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise RecordingError("the file holds no audio track: record your answer or give a WAV file")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                if float(stream.duration * stream.time_base) > MAX_SECONDS + 1:
                    raise _too_long(float(stream.duration * stream.time_base))
        samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except RecordingError:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        raise RecordingError(f"this is not audio that can be read ({type(exc).__name__}): give a WAV file, or "
                             "record again") from None
    seconds = len(samples) / SAMPLE_RATE
    if seconds > MAX_SECONDS:
        raise _too_long(seconds)
    if not len(samples) or float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise RecordingError("the recording is silent: check that the microphone is on and not muted, then record "
                             "again")
    return samples


def _too_long(seconds: float) -> RecordingError:
    minutes, rest = divmod(int(seconds), 60)
    return RecordingError(f"the recording is {minutes}:{rest:02d} long, more than the {MAX_SECONDS / 60:.0f} minutes "
                          "one answer may take: record one answer at a time")


class Transcriber:
    """Whisper base on the CPU, loaded once from the verified model folder. Thread-safe (one transcription at a
    time: the two threads it uses are the machine's)."""

    def __init__(self, spec: SplitFileModel = WHISPER_BASE, cache: Path | None = None,
                 cpu_threads: int = CPU_THREADS, beam_size: int = BEAM_SIZE):
        from faster_whisper import WhisperModel

        folder = whisper_model_folder(spec, cache)
        # a folder, never a size name: a name makes faster-whisper download; local_files_only forbids that too
        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                                  local_files_only=True)
        self.beam_size = beam_size
        self._lock = threading.Lock()

    def transcribe(self, data: bytes) -> Spoken:
        """Transcribe one recording (its file's bytes) and measure its delivery. No prompt is given to Whisper: the
        question's title as a prompt made it drop whole sentences of the bench's answers (BENCHMARKS.md).

        Args:
            data: the recording, WAV or another format PyAV reads.
        Raises:
            RecordingError: not audio, silent, no speech heard, or longer than MAX_SECONDS.
        """
        import time

        samples = decode(data)
        started = time.perf_counter()
        with self._lock:
            segments, _ = self.model.transcribe(samples, language="en", beam_size=self.beam_size, vad_filter=True,
                                                word_timestamps=True, condition_on_previous_text=False)
            segments = list(segments)
        took = time.perf_counter() - started
        words = tuple(Word(w.word.strip(), float(w.start), float(w.end))
                      for s in segments for w in (s.words or []) if w.word.strip())
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        if not words or not text:
            raise RecordingError("no speech was heard in the recording: speak closer to the microphone and record "
                                 "again")
        return Spoken(text, words, delivery(words, len(samples) / SAMPLE_RATE, text), took)
