#!/usr/bin/env python3
"""rapporteur against faster-whisper, whole processes side by side: for each set and thread count,
the three commands below run in alternation (the order rotating each round), and the table gives
median wall times, the median of the per-round ratios to faster-whisper, peak memory (largest
ru_maxrss over the rounds) and pooled word error rate. Prints figures; asserts nothing.

    fw     bench/fw_transcribe.py: faster-whisper int8, beam 5, its defaults otherwise, model
           loading included (what a user would run instead)
    asr    rapporteur run --no-diarize --no-positions --format json (transcription alone)
    full   rapporteur run (every stage, every format: the default)

Sets: the shared English clips (jfk, the five LibriVox utterances, the LibriSpeech utterance),
samples/negotiation.opus (our own recording: not evidence), and a 10-minute meeting made from
all of them (each clip twice, in two orders, 8-40 s apart over quiet room noise, Opus 24 kbit/s).

    python3 bench/race.py --ct2-dir DIR [--threads 1 2] [--rounds 5] [--sets jfk,meeting]
                          [--extra "ARGS for both rapporteur commands"]
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import meeting  # noqa: E402  (the clips and the synthesis of meetings)

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "rapporteur"


def sample():
    text = " ".join(l.split(": ", 1)[-1] for l in (ROOT / "samples/negotiation.txt").read_text().splitlines())
    return {"name": "negotiation", "path": str(ROOT / "samples/negotiation.opus"), "lang": "en", "text": text}


def sets(tmp):
    """name -> (clips, reference text per clip, in the order of the files)."""
    lib = [meeting.librivox(n) for n in ("0870", "0880", "0890", "0920", "0930")]
    shared = {"jfk": [meeting.jfk()], "librivox": lib, "librispeech": [meeting.librispeech()]}
    own = {"sample (own)": [sample()]}
    clips = [c for cs in shared.values() for c in cs] + own["sample (own)"]
    rng = np.random.default_rng(21)
    order = meeting.long_order(clips, rng)
    for c in order:
        meeting.decode(str(BIN), c, tmp)
    audio, _ = meeting.synthesise(order, rng.uniform(8, 40, len(order) - 1), rng)
    path = meeting.write(audio, os.path.join(tmp, "meeting-10min"))
    long = {"name": "meeting-10min", "path": path, "lang": "en", "text": " ".join(c["text"] for c in order)}
    return {**{k: v for k, v in shared.items()}, **own, "meeting (10 min)": [long]}


def timed(cmd):
    """(wall seconds, peak RSS MB) of one command, which must succeed."""
    with tempfile.NamedTemporaryFile("r") as t:
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *map(str, cmd)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"race: {' '.join(map(str, cmd))} failed:\n{out.stderr[-2000:]}")
        return wall, int(t.read().split()[-1]) / 1024, out.stdout


def wer(pairs):
    """Pooled WER over (reference text, hypothesis file) pairs, with rapporteur's normaliser."""
    errors = words = 0
    with tempfile.TemporaryDirectory() as d:
        for i, (ref, hyp) in enumerate(pairs):
            r = Path(d, f"r{i}.txt")
            r.write_text(ref)
            s = json.loads(subprocess.run([BIN, "eval", "wer", "--ref", r, "--hyp", hyp, "--json"],
                                          capture_output=True, text=True, check=True).stdout)
            errors += s["substitutions"] + s["deletions"] + s["insertions"]
            words += s["reference_words"]
    return 100 * errors / max(words, 1)


def race(clips, threads, rounds, ct2, extra, tmp):
    files = [c["path"] for c in clips]
    out = {k: os.path.join(tmp, k) for k in ("fw", "asr", "full")}
    rap = [BIN, "run", *files, "--json", "-q", "--progress", "off", "-t", threads, *extra]
    cmds = {
        "fw": [sys.executable, ROOT / "bench/fw_transcribe.py", "--model-dir", ct2, "--threads", threads,
               "--out", out["fw"], *files],
        "asr": [*rap, "-o", out["asr"], "--no-diarize", "--no-positions", "--format", "json"],
        "full": [*rap, "-o", out["full"]],
    }
    walls = {k: [] for k in cmds}
    peaks = {k: 0.0 for k in cmds}
    reports = {}
    names = list(cmds)
    for r in range(rounds):
        for k in names[r % 3:] + names[:r % 3]:
            wall, peak, stdout = timed(cmds[k])
            walls[k].append(wall)
            peaks[k] = max(peaks[k], peak)
            if k != "fw":
                reports[k] = [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]
    ratio = {k: statistics.median(a / b for a, b in zip(walls[k], walls["fw"])) for k in ("asr", "full")}
    hyp = {
        "fw": [Path(out["fw"], Path(f).stem + ".txt") for f in files],
        **{k: [Path(r["output_dir"], "transcript.json") for r in reports[k]] for k in ("asr", "full")},
    }
    errs = {k: wer(list(zip([c["text"] for c in clips], hyp[k]))) for k in hyp}
    return {k: statistics.median(v) for k, v in walls.items()}, ratio, peaks, errs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ct2-dir", required=True, help="the CTranslate2 tiny.en folder faster-whisper reads")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sets", default="", help="comma-separated set names (prefixes); all by default")
    p.add_argument("--extra", default="", help="more flags for both rapporteur commands")
    a = p.parse_args()
    extra = shlex.split(a.extra)
    with tempfile.TemporaryDirectory() as tmp:
        all_sets = sets(tmp)
        wanted = [s for s in a.sets.split(",") if s]
        chosen = {k: v for k, v in all_sets.items() if not wanted or any(k.startswith(w) for w in wanted)}
        print(f"rapporteur {subprocess.run([BIN, '--version'], capture_output=True, text=True).stdout.strip()}, "
              f"{a.rounds} alternating rounds, extra flags: {a.extra or 'none'}\n")
        print("| set | audio s | threads | faster-whisper s | transcription s | full run s "
              "| transcription / fw | full / fw | peak MB fw / transcription / full | WER % fw / transcription / full |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, clips in chosen.items():
            seconds = sum(len(meeting.decode(str(BIN), c, tmp)) / meeting.SR for c in clips)
            for t in a.threads:
                with tempfile.TemporaryDirectory(dir=tmp) as d:
                    wall, ratio, peak, err = race(clips, t, a.rounds, a.ct2_dir, extra, d)
                print(f"| {name} | {seconds:.1f} | {t} | {wall['fw']:.2f} | {wall['asr']:.2f} | {wall['full']:.2f} "
                      f"| **{ratio['asr']:.2f}** | **{ratio['full']:.2f}** "
                      f"| {peak['fw']:.0f} / {peak['asr']:.0f} / {peak['full']:.0f} "
                      f"| {err['fw']:.2f} / {err['asr']:.2f} / {err['full']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
