#!/usr/bin/env python3
"""rapporteur's benchmark: real-time factor, peak memory and word error rate for decoding and
transcription on the shared recordings, next to faster-whisper on the very same CTranslate2
weights with the same thread count. Prints figures; asserts nothing (targets live in the README).

Run through ./bench/run, which prepares the build, the models and faster-whisper.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
BIN = ROOT / "target" / "release" / "rapporteur"


def dataset():
    """(audio path, reference text) pairs: every shared recording with a transcript, plus our sample."""
    items = []
    jfk = SHARED / "A_wer/jfk"
    items.append((jfk / "jfk.wav", (jfk / "refs.derived.tsv").read_text().split("\t")[1].strip()))
    lib = SHARED / "A_wer/pocketsphinx_librivox"
    for fid in (lib / "fileids").read_text().split():
        items.append((lib / f"{fid}.wav", (lib / f"{fid}.txt").read_text().strip()))
    ls = SHARED / "A_wer/lhotse_fixtures"
    items.append((ls / "2412-153948-0000.flac", (ls / "2412-153948-0000.txt").read_text().strip()))
    sample = [l.split(": ", 1)[-1] for l in (ROOT / "samples/negotiation.txt").read_text().splitlines()]
    items.append((ROOT / "samples/negotiation.opus", " ".join(sample)))
    return items


def timed(cmd):
    """Run cmd under GNU time; return (stdout, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *cmd], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{out.stderr}")
        return out.stdout, int(t.read().split()[-1]) / 1024


def wer(pairs):
    """Pooled WER over (reference, hypothesis) pairs, with rapporteur's normaliser."""
    errors = words = 0
    with tempfile.TemporaryDirectory() as d:
        for i, (ref, hyp) in enumerate(pairs):
            r, h = Path(d, f"r{i}"), Path(d, f"h{i}")
            r.write_text(ref)
            h.write_text(hyp)
            s = json.loads(subprocess.run([BIN, "eval", "wer", "--ref", r, "--hyp", h, "--json"], capture_output=True, text=True, check=True).stdout)
            errors += s["substitutions"] + s["deletions"] + s["insertions"]
            words += s["reference_words"]
    return errors / max(words, 1)


def decode_peak_rss(items):
    """Peak memory of decoding alone (`rapporteur decode`), over all items."""
    rss = 0.0
    with tempfile.TemporaryDirectory() as d:
        for audio, _ in items:
            _, peak = timed([BIN, "decode", audio, "-o", Path(d, "x.wav")])
            rss = max(rss, peak)
    return rss


def bench_rapporteur(items, threads, flags, repeat):
    best = None
    with tempfile.TemporaryDirectory() as d:
        for _ in range(repeat):
            cmd = [BIN, "run", *[a for a, _ in items], "-o", d, "--json", "-q", "--format", "txt", "-t", str(threads), *flags]
            out, rss = timed(cmd)
            rows = [json.loads(l) for l in out.splitlines()]
            total = sum(r["timings"]["transcribe_s"] for r in rows)
            if best is None or total < best[0]:
                texts = [Path(r["output_dir"], "transcript.txt").read_text() for r in rows]
                best = (total, sum(r["timings"]["decode_s"] for r in rows), rss, texts)
    return best


def bench_faster_whisper(items, ct2_dir, threads, beam, repeat):
    cmd = [sys.executable, ROOT / "bench/faster_whisper_bench.py", "--model-dir", ct2_dir, "--threads", str(threads),
           "--compute-type", "int8", "--beam-size", str(beam), "--repeat", str(repeat), "--json", *[a for a, _ in items]]
    out, rss = timed(cmd)
    d = json.loads(out)
    return d["total_seconds"], rss, [f["text"] for f in d["files"]]


# (label, extra flags) of the rapporteur configurations compared; the first is the default.
CONFIGS = [
    ("rapporteur default (q8_0, beam 5, VAD)", []),
    ("rapporteur default without VAD", ["--no-vad"]),
    ("rapporteur q8_0, greedy", ["--beam-size", "1"]),
    ("rapporteur q4_0, beam 5", ["-m", "tiny.en-q4_0"]),
    ("rapporteur q4_0, greedy", ["-m", "tiny.en-q4_0", "--beam-size", "1"]),
    ("rapporteur f16, beam 5", ["-m", "tiny.en-f16"]),
    ("rapporteur default + flash attention", ["--flash-attn"]),
    ("rapporteur default, full 30 s encoder", ["--full-audio-ctx"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ct2-dir", help="CTranslate2 tiny.en folder for faster-whisper (skipped if absent)")
    args = ap.parse_args()

    items = dataset()
    refs = [r for _, r in items]
    rows = []
    for threads in args.threads:
        for label, flags in CONFIGS:
            total, decode_s, rss, texts = bench_rapporteur(items, threads, flags, args.repeat)
            rows.append((label, threads, total, rss, wer(zip(refs, texts))))
        if args.ct2_dir:
            for beam in (1, 5):
                total, rss, texts = bench_faster_whisper(items, args.ct2_dir, threads, beam, args.repeat)
                rows.append((f"faster-whisper int8, beam {beam}", threads, total, rss, wer(zip(refs, texts))))

    # Audio duration and decode cost, from one run's reports.
    with tempfile.TemporaryDirectory() as d:
        out, _ = timed([BIN, "run", *[a for a, _ in items], "-o", d, "--json", "-q", "--format", "txt"])
        reports = [json.loads(l) for l in out.splitlines()]
    audio_s = sum(r["duration"] for r in reports)
    decode_s = sum(r["timings"]["decode_s"] for r in reports)
    decode_rss = decode_peak_rss(items)

    print(f"\nTest set: {len(items)} recordings, {audio_s:.1f} s of speech "
          f"(jfk, 5 LibriVox utterances, 1 LibriSpeech utterance, samples/negotiation.opus)\n")
    print(f"Decode to 16 kHz mono (all formats above, in-process): {decode_s:.3f} s, "
          f"real-time factor {decode_s / audio_s:.4f}; peak RSS of `rapporteur decode` {decode_rss:.0f} MB\n")
    print(f"{'transcription':<38} {'threads':>7} {'seconds':>8} {'RTF':>7} {'peak MB':>8} {'WER %':>6}")
    for label, threads, total, rss, w in rows:
        print(f"{label:<38} {threads:>7} {total:>8.2f} {total / audio_s:>7.3f} {rss:>8.0f} {w * 100:>6.2f}")


if __name__ == "__main__":
    main()
