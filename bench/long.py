"""Long meeting-like recordings: real-time factor with and without voice activity detection, and
peak memory as the duration grows (10 minutes against 2 hours).

The recordings are synthesised from speech the project may use (samples/negotiation.opus and the
shared LibriVox, JFK and LibriSpeech clips): utterances separated by pauses of 0.5 s to 5 minutes
over quiet room noise, as in a session where the floor is often silent, then encoded to Opus
(as recorders do) when ffmpeg is available. Prints figures, including words that start more
than 1 s away from any utterance (invented text) and segments that compress like a loop;
asserts nothing.

    python3 bench/long.py [--bin target/release/rapporteur] [--hours 2] [--skip-no-vad]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

SR = 16000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "A_wer")


def decode(binary, path, tmp):
    out = os.path.join(tmp, os.path.basename(path) + ".wav")
    subprocess.run([binary, "decode", path, "-o", out], check=True, stderr=subprocess.DEVNULL)
    with wave.open(out) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768


def utterances(binary, tmp):
    """Speech pieces: each turn of the sample session, and each shared clip."""
    out = []
    session = decode(binary, os.path.join(ROOT, "samples", "negotiation.opus"), tmp)
    with open(os.path.join(ROOT, "samples", "negotiation.rttm")) as f:
        for line in f:
            p = line.split()
            start, dur = float(p[3]), float(p[4])
            out.append(session[int(start * SR) : int((start + dur) * SR)])
    clips = [os.path.join(SHARED, "jfk", "jfk.wav"), os.path.join(SHARED, "lhotse_fixtures", "2412-153948-0000.flac")]
    lib = os.path.join(SHARED, "pocketsphinx_librivox")
    with open(os.path.join(lib, "fileids")) as f:
        clips += [os.path.join(lib, i.strip() + ".wav") for i in f if i.strip()]
    for c in clips:
        if os.path.exists(c):
            out.append(decode(binary, c, tmp))
    return out


def meeting(pieces, seconds, seed):
    """Audio, seconds of speech, and where each utterance was placed (start, end) in seconds."""
    rng = np.random.default_rng(seed)
    parts, total, speech, placed = [], 0, 0, []
    while total < seconds * SR:
        r = rng.random()
        gap = rng.uniform(0.5, 3) if r < 0.6 else rng.uniform(5, 30) if r < 0.92 else rng.uniform(60, 300)
        n = int(gap * SR)
        parts.append(np.zeros(n, np.float32))
        u = pieces[rng.integers(len(pieces))]
        placed.append(((total + n) / SR, (total + n + len(u)) / SR))
        parts.append(u)
        total += n + len(u)
        speech += len(u)
    audio = np.concatenate(parts)[: seconds * SR]
    # Quiet room noise (about -50 dBFS), low-passed a little.
    noise = rng.standard_normal(len(audio)).astype(np.float32) * 0.003
    noise = np.convolve(noise, np.ones(4, np.float32) / 4, mode="same")
    return audio + noise, speech / SR, placed


def invented(transcript, placed, slack=1.0):
    """Words that start outside every placed utterance (with `slack` seconds either side), and
    segments whose text compresses like a loop (zlib ratio over 2.4)."""
    import bisect
    import zlib

    starts = [a for a, _ in placed]
    outside, loops = 0, 0
    for seg in transcript["segments"]:
        text = seg["text"].encode()
        if text and len(text) / len(zlib.compress(text)) > 2.4:
            loops += 1
        for w in seg["words"]:
            i = bisect.bisect_right(starts, w["start"] + slack) - 1
            if i < 0 or w["start"] > placed[i][1] + slack:
                outside += 1
    return outside, loops


def write(audio, path):
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    wav = path + ".wav"
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    if shutil.which("ffmpeg"):
        opus = path + ".opus"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "libopus", "-b:a", "24k", opus], check=True)
        os.remove(wav)
        return opus
    return wav


def run(binary, path, extra, out):
    """Run rapporteur; return (wall seconds, peak RSS MB, its --json report)."""
    t = time.time()
    proc = subprocess.Popen([binary, "run", path, "-o", out, "--json", "-q", "--progress", "off", *extra], stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t
    report = json.loads(proc.stdout.read().decode().strip().splitlines()[-1])
    if status != 0:
        sys.exit(f"rapporteur failed on {path}: {report}")
    with open(os.path.join(report["output_dir"], "transcript.json")) as f:
        transcript = json.load(f)
    return wall, usage.ru_maxrss / 1024, report, transcript


def make(binary, label, seconds, tmp):
    """Synthesise one recording in this process; write it and its utterance placements."""
    pieces = utterances(binary, tmp)
    audio, speech, placed = meeting(pieces, seconds, seed=1)
    path = write(audio, os.path.join(tmp, label))
    with open(os.path.join(tmp, label + ".json"), "w") as f:
        json.dump({"path": path, "speech": speech, "placed": placed}, f)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--make":
        _, _, binary, label, seconds, tmp = sys.argv
        return make(binary, label, int(seconds), tmp)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "rapporteur"))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the shorter meeting")
    ap.add_argument("--skip-no-vad", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rapporteur-long-")
    try:
        rows = []
        for label, seconds in [("meeting", int(args.minutes * 60)), ("long", int(args.hours * 3600))]:
            # Synthesised in a child process: the peak memory measured for rapporteur (its
            # ru_maxrss) would otherwise include this process's arrays, copied at fork.
            subprocess.run([sys.executable, __file__, "--make", args.bin, label, str(seconds), tmp], check=True)
            with open(os.path.join(tmp, label + ".json")) as f:
                made = json.load(f)
            path, speech, placed = made["path"], made["speech"], [tuple(p) for p in made["placed"]]
            print(f"[long] {label}: {seconds / 60:.0f} min, {speech / 60:.1f} min of speech, {os.path.basename(path)} "
                  f"{os.path.getsize(path) / 1e6:.1f} MB", file=sys.stderr)
            configs = [("VAD (default)", [])]
            if label == "meeting" and not args.skip_no_vad:
                configs.append(("no VAD", ["--no-vad"]))
            for name, extra in configs:
                wall, rss, rep, tr = run(args.bin, path, extra, os.path.join(tmp, "out-" + label + str(len(extra))))
                outside, loops = invented(tr, placed)
                rows.append((label, seconds, name, wall, wall / seconds, rss, rep["words"], tr.get("speech", {}), outside, loops))
        print("\n| recording | length | setting | wall s | RTF | peak RSS MB | words | words outside speech | looping segments | speech s | chunks | retried |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label, seconds, name, wall, rtf, rss, words, sp, outside, loops in rows:
            print(f"| {label} | {seconds / 60:.0f} min | {name} | {wall:.1f} | {rtf:.4f} | {rss:.0f} | {words} | {outside} | {loops} | "
                  f"{sp.get('speech_s', 0):.0f} | {sp.get('chunks', 0)} | {sp.get('retried_chunks', 0)} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
