"""Rehearsal on synthetic speech: word error rate, transcription speed, and the answer check on transcripts.

    python -m bench.rehearse --index build/index                     # every condition (long: about an hour here)
    python -m bench.rehearse --index build/index --sample 5          # the side conditions on every 5th answer
    python -m bench.rehearse --index build/index --summarise --rescore   # the last run's transcripts, graded again

The labelled answers of bench/grading/ (answers.yaml, answers-b.yaml) are spoken with espeak-ng at run time into
bench/out/rehearse/ (never committed), converted to 16 kHz mono with sox, and transcribed by the app's own
Transcriber (rehearse/transcribe.py: Whisper base, int8, two threads, beam 5, voice activity filter).
Conditions: the main one (American voice, 140 words a minute, clean) on every answer; the side ones (British
voice; a faster 170 words a minute; the main voice with pink noise mixed in at 10 dB SNR by sox synth) on every
`--sample`-th answer. Figures:
  WER: word error rate against the typed text, both normalised (case, punctuation, hyphens, digits as words);
  speed: seconds of transcription (wall clock, and CPU) per second of audio, with the load average beside it;
  AUCs: bench.grading's three AUCs of the answer check's score (its own key points, as the app and the CLI use)
      on the transcripts against the same AUCs on the typed text, per answer set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "rehearse"
ANSWER_SETS = (ROOT / "bench" / "grading" / "answers.yaml", ROOT / "bench" / "grading" / "answers-b.yaml")


@dataclass(frozen=True)
class Condition:
    name: str
    voice: str  # espeak-ng voice
    wpm: int  # espeak-ng speed
    snr_db: float | None = None  # pink noise mixed in at this signal-to-noise ratio
    main: bool = False  # spoken for every answer (the others for every --sample-th)


CONDITIONS = (Condition("us-140-clean", "en-us", 140, main=True), Condition("gb-140-clean", "en-gb", 140),
              Condition("us-170-clean", "en-us", 170), Condition("us-140-noise10db", "en-us", 140, snr_db=10.0))

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """An integer below a million in words: 2017 -> "two thousand seventeen"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    if n < 1_000_000:
        return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))
    return " ".join(_ONES[int(d)] for d in str(n))


_CONTRACTIONS = {"n't": " not", "'re": " are", "'m": " am", "'ve": " have", "'ll": " will", "'d": " would"}
_SPELLING = re.compile(r"\b(colo|flavo|neighbo|behavio|favo|hono|labo|rumo|humo)ur(s|ed|ing|ite|ites)?\b")


def normalise(text: str) -> list[str]:
    """Words for WER, the usual way (as Whisper's English normaliser does it): lower case, contractions spelled out
    ("they're" is "they are"), British -our spelled -or, digits as words (commas in numbers dropped, letters and
    digits split), percent as a word, apostrophes dropped, every other punctuation mark (hyphens too) a space.
    `wer` then joins two words that the other side writes as one ("multi-head" and "multihead")."""
    text = text.lower().replace("’", "'").replace("can't", "can not").replace("won't", "will not")
    text = re.sub(r"(?<=\w)(n't|'re|'m|'ve|'ll|'d)\b", lambda m: _CONTRACTIONS[m.group(1)], text)
    text = re.sub(r"\b(it|that|there|what|he|she|here|who)'s\b", r"\1 is", text)
    text = _SPELLING.sub(lambda m: m.group(1) + "r" + (m.group(2) or ""), text)
    text = text.replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: " point ".join(
        number_words(int(p)) if len(p) < 7 else " ".join(_ONES[int(d)] for d in p) for p in m.group().split(".")),
        text)
    text = re.sub(r"[^a-z0-9 ]+", " ", text.replace("’", "").replace("'", ""))  # let's and lets alike
    return text.split()


def _join_compounds(words: list[str], vocabulary: set[str]) -> list[str]:
    """Two adjacent words that the other side writes as one ("data set" and "dataset") become that one word."""
    out: list[str] = []
    for word in words:
        if out and out[-1] + word in vocabulary:
            out[-1] += word
        else:
            out.append(word)
    return out


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions turning `reference` into `hypothesis` (Levenshtein over words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference`, both normalised, compounds joined either way."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    hyp = _join_compounds(hyp, set(ref))
    ref = _join_compounds(ref, set(hyp))
    return word_errors(ref, hyp) / max(1, len(ref))


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
        return data, w.getframerate()


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def speak(text: str, condition: Condition, path: Path) -> Path:
    """Speak `text` into `path` (16 kHz mono WAV): espeak-ng, sox to 16 kHz, sox synth pink noise mixed in."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", condition.voice, "-s", str(condition.wpm), "-w", str(raw), text], check=True,
                   capture_output=True, timeout=120)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True,
                   capture_output=True, timeout=120)
    raw.unlink()
    if condition.snr_db is not None:
        clean, rate = _read_wav(path)
        noise_path = path.with_suffix(".noise.wav")
        subprocess.run(["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(noise_path), "synth",
                        f"{len(clean) / rate:.3f}", "pinknoise", "vol", "0.5"], check=True, capture_output=True,
                       timeout=120)
        noise, _ = _read_wav(noise_path)
        noise_path.unlink()
        noise = np.resize(noise, len(clean))
        speech = clean[np.abs(clean) > 1e-3]  # the level of the speech, not of its silences
        gain = np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2)) / (10 ** (condition.snr_db / 20))
        _write_wav(path, clean + gain * noise, rate)
    return path


def run(index_dir: str, sample: int, answer_sets: list[Path], conditions: tuple[Condition, ...],
        out: Path = OUT) -> dict:
    from bench.grading import PAIRS, auc, load_answers
    from index import open_index
    from progress.grade import Grader
    from rehearse.transcribe import Transcriber

    index = open_index(index_dir)
    grader = Grader(index)
    transcriber = Transcriber()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    log = open(out / "rows.jsonl", "w", encoding="utf-8")  # one line per transcription: a partial run summarises
    for answers_path in answer_sets:
        labelled = load_answers(index, answers_path)
        n = 0
        for lq in labelled:
            for a in lq.answers:
                n += 1
                typed_score = grader.grade(lq.id, a.text).score
                for c in conditions:
                    if not c.main and (n - 1) % sample:
                        continue
                    wav = speak(a.text, c, out / f"{answers_path.stem}-{n:03d}-{c.name}.wav")
                    data = wav.read_bytes()
                    seconds = len(_read_wav(wav)[0]) / 16000
                    cpu0, load = time.process_time(), os.getloadavg()[0]
                    spoken = transcriber.transcribe(data)
                    cpu = time.process_time() - cpu0
                    wav.unlink()
                    rows.append({"set": answers_path.stem, "n": n, "question_id": lq.id, "kind": a.kind,
                                 "split": a.split, "condition": c.name, "audio_s": round(seconds, 2),
                                 "transcribe_s": round(spoken.transcribe_s, 3), "cpu_s": round(cpu, 3),
                                 "load": round(load, 2), "wer": round(wer(a.text, spoken.text), 4),
                                 "typed_score": round(typed_score, 4),
                                 "spoken_score": round(grader.grade(lq.id, spoken.text).score, 4),
                                 "transcript": spoken.text})
                    log.write(json.dumps(rows[-1]) + "\n")
                    log.flush()
                    print(json.dumps({k: rows[-1][k] for k in ("set", "n", "condition", "wer", "audio_s",
                                                                "transcribe_s", "load")}), flush=True)
    log.close()
    return summarise(rows, PAIRS, auc)


def rescore(rows: list[dict], index_dir: str) -> list[dict]:
    """The rows with `typed_score` and `spoken_score` graded again by the current check on `index_dir`: a change
    to the check is measured on the same transcripts, without speaking and transcribing again."""
    from index import open_index
    from progress.grade import Grader

    grader = Grader(open_index(index_dir))
    texts = {name: references(name) for name in {r["set"] for r in rows}}
    return [{**r, "typed_score": round(grader.grade(r["question_id"], texts[r["set"]][r["n"] - 1]).score, 4),
             "spoken_score": round(grader.grade(r["question_id"], r["transcript"]).score, 4)} for r in rows]


def references(answer_set: str | Path) -> list[str]:
    """The typed text of every answer of bench/grading/<answer_set>.yaml (or of the file `answer_set` when it is a
    Path), in the order `run` numbers them."""
    import yaml

    path = answer_set if isinstance(answer_set, Path) else ROOT / "bench" / "grading" / f"{answer_set}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [" ".join(a["text"].split()) for item in raw["questions"].values() for a in item["answers"]]


def summarise(rows: list[dict], pairs, auc) -> dict:
    """The figures of a run's rows; WER is recomputed from the typed text, so every row uses this normaliser."""
    texts = {name: references(name) for name in {r["set"] for r in rows}}
    rows = [{**r, "wer": wer(texts[r["set"]][r["n"] - 1], r["transcript"])} for r in rows]
    out: dict = {"conditions": {}, "auc": {}}
    for name in dict.fromkeys(r["condition"] for r in rows):
        rs = [r for r in rows if r["condition"] == name]
        audio = sum(r["audio_s"] for r in rs)
        out["conditions"][name] = {
            "answers": len(rs), "audio_min": round(audio / 60, 1),
            "mean_wer": round(float(np.mean([r["wer"] for r in rs])), 4),
            "median_wer": round(float(np.median([r["wer"] for r in rs])), 4),
            "wall_s_per_audio_s": round(sum(r["transcribe_s"] for r in rs) / audio, 3),
            "cpu_s_per_audio_s": round(sum(r["cpu_s"] for r in rs) / audio, 3),
            "mean_load": round(float(np.mean([r["load"] for r in rs])), 1)}
    main = [c.name for c in CONDITIONS if c.main]
    for answer_set in dict.fromkeys(r["set"] for r in rows):
        rs = [r for r in rows if r["set"] == answer_set and r["condition"] in main]
        result = {}
        for source in ("typed_score", "spoken_score"):
            by = {}
            for r in rs:
                by.setdefault(r["kind"], []).append(r[source])
            result[source.split("_")[0]] = {f"auc_{a}_vs_{b}": round(auc(by.get(a, []), by.get(b, [])), 4)
                                            for a, b in pairs}
        result["answers"] = len(rs)
        out["auc"][answer_set] = result
    return out


def report(summary: dict) -> str:
    lines = [f"{'condition':20}{'answers':>8}{'audio':>9}{'mean WER':>10}{'median':>8}{'wall s/s':>10}{'CPU s/s':>9}"
             f"{'load':>6}"]
    for name, c in summary["conditions"].items():
        lines.append(f"{name:20}{c['answers']:8d}{c['audio_min']:7.1f} m{c['mean_wer']:10.3f}{c['median_wer']:8.3f}"
                     f"{c['wall_s_per_audio_s']:10.3f}{c['cpu_s_per_audio_s']:9.3f}{c['mean_load']:6.1f}")
    for answer_set, r in summary["auc"].items():
        lines.append(f"{answer_set} ({r['answers']} answers, main condition): AUC typed -> spoken")
        for key in r["typed"]:
            lines.append(f"  {key:30}{r['typed'][key]:.3f} -> {r['spoken'][key]:.3f} "
                         f"({r['spoken'][key] - r['typed'][key]:+.3f})")
    return "\n".join(lines)


def speed(answers_path: Path, count: int, out: Path = OUT) -> dict:
    """Wall and CPU seconds of transcription per second of audio, on `count` answers of a labelled set spread over
    it (every len/count-th), spoken in the main condition; the model is loaded and run once before timing. Run it
    on an otherwise idle machine: the wall figure is what issue 22's target (<= 0.3 s per s) is about."""
    import statistics

    from rehearse.transcribe import Transcriber

    texts = references(answers_path)
    picked = texts[::max(1, len(texts) // count)][:count]
    main_condition = next(c for c in CONDITIONS if c.main)
    out.mkdir(parents=True, exist_ok=True)
    transcriber = Transcriber()
    warm = speak(picked[0], main_condition, out / "speed-warm.wav")
    transcriber.transcribe(warm.read_bytes())
    warm.unlink()
    rows = []
    for i, text in enumerate(picked):
        wav = speak(text, main_condition, out / f"speed-{i:03d}.wav")
        seconds = len(_read_wav(wav)[0]) / 16000
        load = os.getloadavg()[0]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        transcriber.transcribe(wav.read_bytes())
        rows.append((seconds, time.perf_counter() - wall0, time.process_time() - cpu0, load))
        wav.unlink()
    audio, wall, cpu = (sum(r[i] for r in rows) for i in range(3))
    return {"answers": len(rows), "audio_s": round(audio, 1), "wall_s": round(wall, 2),
            "wall_per_audio_s": round(wall / audio, 3), "cpu_per_audio_s": round(cpu / audio, 3),
            "median_wall_per_audio_s": round(statistics.median(r[1] / r[0] for r in rows), 3),
            "worst_wall_per_audio_s": round(max(r[1] / r[0] for r in rows), 3),
            "load_average": [min(r[3] for r in rows), max(r[3] for r in rows)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rehearse", description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="index folder (default: %(default)s)")
    parser.add_argument("--sample", type=int, default=1, help="side conditions on every N-th answer (default: all)")
    parser.add_argument("--answers", nargs="*", type=Path, default=list(ANSWER_SETS), help="labelled answer sets")
    parser.add_argument("--conditions", nargs="*", default=[c.name for c in CONDITIONS],
                        choices=[c.name for c in CONDITIONS])
    parser.add_argument("--out", type=Path, default=OUT, help="working folder (default: %(default)s)")
    parser.add_argument("--summarise", nargs="*", type=Path, metavar="FOLDER",
                        help="only summarise the rows of earlier runs (their rows.jsonl; default: --out)")
    parser.add_argument("--rescore", action="store_true",
                        help="with --summarise: grade the stored transcripts and typed answers again with the "
                             "current check and --index, instead of reading the scores the run stored")
    parser.add_argument("--speed", type=int, metavar="N",
                        help="only time transcription on N answers of the first --answers set (idle machine)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.speed:
        print(json.dumps(speed(args.answers[0], args.speed, args.out), indent=1))
        return 0
    from bench.grading import PAIRS, auc

    if args.rescore and args.summarise is None:
        parser.error("--rescore grades the transcripts of an earlier run again: use it with --summarise")
    if args.summarise is not None:
        rows = [json.loads(line) for folder in (args.summarise or [args.out])
                for line in (folder / "rows.jsonl").read_text(encoding="utf-8").splitlines() if line]
        if args.rescore:
            rows = rescore(rows, args.index)
        summary = summarise(rows, PAIRS, auc)
    else:
        missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
        if missing:
            print(f"error: {' and '.join(missing)} not found: apt-get install -y espeak-ng sox", file=sys.stderr)
            return 1
        conditions = tuple(c for c in CONDITIONS if c.name in args.conditions)
        summary = run(args.index, max(1, args.sample), args.answers, conditions, args.out)
    print(json.dumps(summary, indent=1) if args.json else report(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
