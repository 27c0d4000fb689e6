#!/usr/bin/env python3
"""faster-whisper as a user runs it: one process that imports it, loads the model and transcribes
each file, writing its text to OUT_DIR/<stem>.txt. Its wall time is what bench/race.py compares
rapporteur against (model loading included, as rapporteur's own wall time includes it).

    python3 bench/fw_transcribe.py --model-dir CT2_DIR --threads N --out OUT_DIR FILE...
        [--beam-size 5] [--compute-type int8] [--vad]

Fully offline: HF_HUB_OFFLINE is set before faster_whisper is imported.
"""
import argparse
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--language", default="en", help="'auto' to detect (multilingual models)")
    p.add_argument("--vad", action="store_true", help="faster-whisper's own Silero VAD filter")
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    from faster_whisper import WhisperModel

    model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute_type,
                         cpu_threads=a.threads, local_files_only=True)
    os.makedirs(a.out, exist_ok=True)
    for path in a.files:
        segments, _ = model.transcribe(path, beam_size=a.beam_size, vad_filter=a.vad,
                                       language=None if a.language == "auto" else a.language)
        text = " ".join(s.text.strip() for s in segments)
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(a.out, stem + ".txt"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, non-zero exit: the race reports it
        print(f"fw_transcribe: {e}", file=sys.stderr)
        sys.exit(1)
