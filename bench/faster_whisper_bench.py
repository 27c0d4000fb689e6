#!/usr/bin/env python3
"""Benchmark faster-whisper on the same CTranslate2 weights rapporteur uses.

Example:
    python3 bench/faster_whisper_bench.py --model-dir CT2_DIR --threads 2 \
        --compute-type int8 --beam-size 1 --repeat 3 --json a.wav b.wav

Fully offline: HF_HUB_OFFLINE is set before faster_whisper is imported and the
model is loaded with local_files_only=True. Timings are end-to-end per call to
transcribe() (audio decoding + features + decoding), generator fully consumed;
the best (minimum) of --repeat runs is kept. Progress/errors go to stderr.
"""
import argparse
import json
import os
import resource
import sys
import time

# Must be set before huggingface_hub is imported (via faster_whisper).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def die(msg: str) -> None:
    """One-line error on stderr, exit status 2."""
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="faster-whisper transcription benchmark")
    p.add_argument("--model-dir", required=True, help="CTranslate2 Whisper model folder")
    p.add_argument("--threads", type=int, default=1, help="cpu_threads (intra-op)")
    p.add_argument("--compute-type", default="int8", help="e.g. int8, int8_float32, float32")
    p.add_argument("--beam-size", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs per file; best time kept")
    p.add_argument("--language", default="en",
                   help="language code (default en); 'auto' = detect (multilingual only)")
    p.add_argument("--word-timestamps", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument("files", nargs="+", help="audio files")
    args = p.parse_args()
    if args.repeat < 1 or args.threads < 1 or args.beam_size < 1:
        die("--repeat, --threads and --beam-size must be >= 1")
    return args


def transcribe_once(model, path: str, args, language):
    """One full transcription; returns (seconds, duration, text)."""
    t0 = time.perf_counter()
    segments, info = model.transcribe(
        path,
        language=language,
        beam_size=args.beam_size,
        condition_on_previous_text=False,
        vad_filter=False,
        word_timestamps=args.word_timestamps,
    )
    texts = [seg.text.strip() for seg in segments]  # the generator does the work
    elapsed = time.perf_counter() - t0
    return elapsed, info.duration, " ".join(t for t in texts if t).strip()


def main() -> None:
    args = parse_args()
    # Validate inputs before paying for the model load.
    if not os.path.isdir(args.model_dir):
        die(f"model directory not found: {args.model_dir}")
    for f in args.files:
        if not os.path.isfile(f):
            die(f"audio file not found: {f}")

    try:
        import faster_whisper
        from faster_whisper import WhisperModel
    except ImportError:
        die("faster-whisper is not installed: pip install faster-whisper")

    t0 = time.perf_counter()
    model = WhisperModel(args.model_dir, device="cpu", compute_type=args.compute_type,
                         cpu_threads=args.threads, num_workers=1, local_files_only=True)
    load_s = time.perf_counter() - t0

    # English-only checkpoints (*.en) only accept "en"; ctranslate2 knows from config.
    multilingual = model.model.is_multilingual
    language = None if args.language == "auto" else args.language
    if not multilingual and language != "en":
        log(f"model is English-only; using language=en instead of {args.language!r}")
        language = "en"
    log(f"loaded {args.model_dir} in {load_s:.3f}s (multilingual={multilingual}, "
        f"compute_type={args.compute_type}, threads={args.threads}, beam={args.beam_size})")

    results = []
    for path in args.files:
        best, duration, text = float("inf"), 0.0, ""
        for i in range(args.repeat):
            secs, duration, text = transcribe_once(model, path, args, language)
            best = min(best, secs)
            log(f"  {os.path.basename(path)} run {i + 1}/{args.repeat}: {secs:.3f}s")
        results.append({"path": path, "duration": round(duration, 3), "seconds": round(best, 4),
                        "rtf": round(best / duration, 4) if duration else None, "text": text})

    total_audio = sum(r["duration"] for r in results)
    total_secs = sum(r["seconds"] for r in results)
    # Linux reports ru_maxrss in KiB.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.json:
        print(json.dumps({
            "tool": "faster-whisper", "version": faster_whisper.__version__,
            "compute_type": args.compute_type, "beam_size": args.beam_size,
            "threads": args.threads, "load_s": round(load_s, 4),
            "peak_rss_mb": round(peak_rss_mb, 1), "files": results,
            "total_audio_s": round(total_audio, 3), "total_seconds": round(total_secs, 4),
        }, indent=2))
        return

    # Human-readable table.
    name_w = max(len(os.path.basename(r["path"])) for r in results)
    print(f"faster-whisper {faster_whisper.__version__}  compute_type={args.compute_type}  "
          f"beam={args.beam_size}  threads={args.threads}  load={load_s:.3f}s")
    print(f"{'file':<{name_w}}  {'audio s':>8}  {'best s':>8}  {'RTF':>7}  text")
    for r in results:
        rtf = f"{r['rtf']:.4f}" if r["rtf"] is not None else "n/a"
        snippet = r["text"] if len(r["text"]) <= 60 else r["text"][:57] + "..."
        print(f"{os.path.basename(r['path']):<{name_w}}  {r['duration']:>8.2f}  "
              f"{r['seconds']:>8.3f}  {rtf:>7}  {snippet}")
    total_rtf = total_secs / total_audio if total_audio else float("nan")
    print(f"{'TOTAL':<{name_w}}  {total_audio:>8.2f}  {total_secs:>8.3f}  {total_rtf:>7.4f}")
    print(f"peak RSS: {peak_rss_mb:.1f} MB")


if __name__ == "__main__":
    main()
