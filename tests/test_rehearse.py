"""Spoken answers: delivery figures from known word timestamps, refused recordings, and the CLI on real speech.

The speech is generated in the test with espeak-ng (Debian package) and transcribed by the real Whisper base
model from its PyPI packages; those tests are skipped only when espeak-ng is absent.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from rehearse.transcribe import (FILLER_RULE, LONG_PAUSE_SECONDS, MAX_SECONDS, SAMPLE_RATE, RecordingError, Word,
                                 count_fillers, decode, delivery)

ROOT = Path(__file__).resolve().parent.parent
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng (Debian package) is needed to speak the test answers")


def wav_bytes(samples: list[float] | None = None, seconds: float = 1.0, rate: int = SAMPLE_RATE,
              tone_hz: float | None = None) -> bytes:
    """A mono 16-bit WAV: silence, a tone, or the given samples."""
    n = int(seconds * rate) if samples is None else len(samples)
    if samples is None:
        samples = [0.3 * math.sin(2 * math.pi * tone_hz * i / rate) if tone_hz else 0.0 for i in range(n)]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32767)) for s in samples))
    return out.getvalue()


def speak(text: str, path: Path, voice: str = "en-us", speed: int = 160) -> Path:
    """Speak `text` into the WAV file `path` with espeak-ng."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                   capture_output=True, timeout=60)
    return path


# -- delivery figures ------------------------------------------------------------------------------------------

def words_at(spec: list[tuple[str, float, float]]) -> list[Word]:
    return [Word(t, s, e) for t, s, e in spec]


def test_pace_is_words_over_the_speaking_time_and_long_pauses_come_from_the_gaps():
    # 20 words of 0.2 s from 0.5 s on, a gap of 2.5 s after "gap" and one of 1.5 s (not long): 8 s of speech
    spec, t = [], 0.5
    for i in range(20):
        word = "gap" if i == 9 else "slow" if i == 14 else f"w{i}"
        spec.append((word, t, t + 0.2))
        t += 0.2 + (2.5 if i == 9 else 1.5 if i == 14 else 0.0)
    end = spec[-1][2]
    d = delivery(words_at(spec), duration_s=12.0)
    assert d.words == 20 and d.duration_s == 12.0
    assert d.speaking_s == pytest.approx(end - 0.5)
    assert d.words_per_minute == pytest.approx(20 / (end - 0.5) * 60)
    assert [(p.after, round(p.seconds, 2)) for p in d.pauses] == [("gap", 2.5)]
    assert d.pauses[0].start == pytest.approx(spec[9][2])
    assert LONG_PAUSE_SECONDS == 2.0
    assert d.speaking_s == pytest.approx(8.0) and d.words_per_minute == pytest.approx(150.0)
    assert d.pace == "in the band" and not d.over_budget
    payload = d.to_json()
    assert payload["fillers"]["lower_bound"] is True and payload["words_per_minute_band"] == [130, 160]


def test_pace_bands_and_budget():
    slow = delivery(words_at([(f"w{i}", i * 1.0, i * 1.0 + 0.5) for i in range(11)]), duration_s=130.0)
    assert slow.words_per_minute == pytest.approx(11 / 10.5 * 60) and slow.pace == "slow"  # 63 wpm
    assert slow.over_budget
    band = delivery(words_at([(f"w{i}", i * 0.4, i * 0.4 + 0.3) for i in range(41)]), duration_s=17.0)
    assert band.words_per_minute == pytest.approx(41 / 16.3 * 60) and band.pace == "in the band"  # 151 wpm
    assert any("over" in line for line in slow.summary()) and not any("over" in line for line in band.summary())


def test_fillers_are_counted_by_the_stated_rule_and_left_out_of_the_pace():
    text = ("Um, so, overfitting is, like, when the model memorizes. You know, it is like a lookup table. "
            "Uh, I mean, the gap is so large. So the fix is regularization, you know.")
    assert count_fillers(text) == {"um": 1, "uh": 1, "so": 1, "like": 1, "you know": 2, "I mean": 1}
    # "like a lookup", "so large" and "So the fix" are words, not fillers
    assert count_fillers("I like it. It is so big. So the model fits. Do you know why?") == {}
    words = words_at([("Um,", 0.0, 0.3), ("the", 0.4, 0.5), ("model", 0.5, 0.8), ("uh", 0.9, 1.0),
                      ("fits.", 1.0, 1.2)])
    d = delivery(words, duration_s=2.0)
    assert d.words == 3 and d.fillers == {"um": 1, "uh": 1} and d.filler_count == 2
    assert "lower bound" in FILLER_RULE and any("lower bound" in line or "At least" in line for line in d.summary())


def test_no_words_gives_zero_pace_not_an_error():
    d = delivery([], duration_s=3.0)
    assert d.words == 0 and d.words_per_minute == 0.0 and d.pauses == ()


# -- refused recordings ----------------------------------------------------------------------------------------

def test_a_wav_is_decoded_to_16_khz_mono():
    samples = decode(wav_bytes(seconds=1.5, rate=44_100, tone_hz=440))
    assert samples.dtype.name == "float32" and abs(len(samples) - 24_000) < 200


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is plain text, not a recording\n" * 20, "not audio"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt garbage", "not audio"),
    (wav_bytes(seconds=3.0), "silent"),
])
def test_unusable_recordings_are_refused_with_one_line(data, message):
    with pytest.raises(RecordingError, match=message) as caught:
        decode(data)
    assert "\n" not in str(caught.value)


def test_a_recording_over_the_limit_is_refused():
    data = wav_bytes(seconds=MAX_SECONDS + 2, rate=8000, tone_hz=200)
    with pytest.raises(RecordingError, match=r"5:02 long, more than the 5 minutes"):
        decode(data)


# -- the command line on real speech ---------------------------------------------------------------------------

def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "index", "grade", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})


SPOKEN = ("Overfitting is when a model learns the training data too well, including its noise, and performs "
          "poorly on new data. You detect it by comparing training and validation accuracy. You prevent it with "
          "regularization, dropout, more data or a simpler model.")


@needs_espeak
@pytest.mark.model
def test_cli_grades_a_spoken_answer_and_reports_its_delivery(real_index, tmp_path):
    wav = speak(SPOKEN, tmp_path / "answer.wav")
    out = run_cli("--json", "--index", str(real_index), "--audio", str(wav), "overfitting")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"question_id", "score", "points", "verdict", "rating", "transcript", "duration_s", "words_per_minute",
            "pauses", "fillers"} <= payload.keys()
    said = payload["transcript"].lower()
    for word in ("overfitting", "training data", "validation", "regularization", "dropout"):
        assert word in said
    assert payload["duration_s"] == pytest.approx(wave.open(str(wav)).getnframes() / 22050, abs=0.1)
    assert 100 < payload["words_per_minute"] < 220
    assert payload["pauses"] == [] and payload["fillers"]["lower_bound"] is True
    covered = [p for p in payload["points"] if p["covered"]]
    assert len(covered) >= 3 and payload["score"] > 0.3
    readable = run_cli("--index", str(real_index), "--audio", str(wav), "overfitting")
    assert readable.returncode == 0 and readable.stdout.startswith("Transcript: ")
    assert "words a minute" in readable.stdout and "covered" in readable.stdout


@pytest.mark.model
@pytest.mark.parametrize("kind, message", [("text", "not audio"), ("silence", "silent"), ("long", "5 minutes"),
                                           ("missing", "cannot read")])
def test_cli_refuses_bad_recordings_with_one_line_and_exit_1(real_index, tmp_path, kind, message):
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("hello, this is not a recording\n")
    elif kind == "silence":
        path.write_bytes(wav_bytes(seconds=2.0))
    elif kind == "long":
        path.write_bytes(wav_bytes(seconds=MAX_SECONDS + 5, rate=8000, tone_hz=300))
    out = run_cli("--json", "--index", str(real_index), "--audio", str(path), "overfitting")
    assert out.returncode == 1 and out.stdout == ""
    lines = [line for line in out.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


@pytest.mark.model
def test_bench_rescore_grades_stored_transcripts_again(real_index):
    from bench.rehearse import references, rescore, summarise
    from bench.grading import PAIRS, auc
    from index import open_index
    from progress.grade import Grader

    typed = references("answers")
    rows = [{"set": "answers", "n": n, "question_id": "attention-mechanism", "kind": kind, "split": "dev",
             "condition": "us-140-clean", "audio_s": 10.0, "transcribe_s": 1.0, "cpu_s": 1.0, "load": 1.0,
             "wer": 0.0, "typed_score": -1.0, "spoken_score": -1.0,
             "transcript": typed[n - 1].lower().replace(",", "").replace(".", "")}  # what a transcript loses
            for n, kind in ((1, "strong"), (5, "partial"))]
    again = rescore(rows, str(real_index))
    grader = Grader(open_index(real_index))
    assert again[0]["typed_score"] == round(grader.grade("attention-mechanism", typed[0]).score, 4)
    assert again[0]["spoken_score"] == round(grader.grade("attention-mechanism", rows[0]["transcript"]).score, 4)
    assert again[0]["spoken_score"] > again[1]["spoken_score"] and rows[0]["spoken_score"] == -1.0  # rows untouched
    assert summarise(again, PAIRS, auc)["auc"]["answers"]["spoken"]["auc_strong_vs_partial"] == 1.0


@needs_espeak
@pytest.mark.model
def test_bench_speed_times_transcription_per_second_of_audio(tmp_path):
    from bench.rehearse import ANSWER_SETS, speed

    got = speed(ANSWER_SETS[0], 1, tmp_path)
    assert got["answers"] == 1 and got["audio_s"] > 5  # one spoken answer, tens of seconds long
    assert 0 < got["wall_per_audio_s"] == got["worst_wall_per_audio_s"] and got["cpu_per_audio_s"] > 0
    assert not list(tmp_path.glob("*.wav")), "the spoken audio is deleted after each transcription"
