#!/usr/bin/env python3
"""Speed of diarization: one hour of speech, built by joining the shared multi-speaker
recordings (AMI far-field clips, the pyannote sample, the pyAudioAnalysis examples) end to end
until an hour of speech is reached, then `rapporteur run --format rttm` (no transcription).

Usage: bench/diarize [--hours H]

Prints the wall time, the time of each stage and the figure the issue sets a target for:
seconds of diarization (voice activity detection + speaker embedding + clustering) per hour
of speech, on this machine's cores.
"""
import json
import resource
import os
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "B_der")
BIN = os.path.join(ROOT, "target", "release", "rapporteur")


def main():
    hours = 1.0
    if sys.argv[1:2] == ["--hours"]:
        hours = float(sys.argv[2])
    sources = [os.path.join(SHARED, "ami_farfield_train", f"trn{i:02d}.wav") for i in range(10)]
    sources += [os.path.join(SHARED, "pyannote_sample", "sample.wav")]
    sources += [os.path.join(SHARED, "pyaudioanalysis_diarization_examples", f"{n}.wav")
                for n in ("diarizationExample", "diarizationExample2")]
    tmp = tempfile.mkdtemp(prefix="rapporteur-diarize-bench-")
    pieces = []
    for i, src in enumerate(sources):
        out = os.path.join(tmp, f"{i}.wav")
        subprocess.run([BIN, "decode", src, "-o", out], check=True, capture_output=True)
        with wave.open(out) as w:
            pieces.append(w.readframes(w.getnframes()))
    # Turns cover about 65 % of these recordings: join until the VAD finds an hour of speech.
    target_samples = int(hours * 3600 * 16000 / 0.65)
    big = os.path.join(tmp, "hour.wav")
    with wave.open(big, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        written, i = 0, 0
        while written < target_samples:
            p = pieces[i % len(pieces)]
            w.writeframes(p)
            written += len(p) // 2
            i += 1
    t = time.time()
    r = subprocess.run([BIN, "run", big, "-o", os.path.join(tmp, "out"), "--format", "rttm", "--json",
                        "--quiet", "--voices", tmp], capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode != 0:
        sys.exit(f"bench/diarize: run failed: {r.stderr}")
    rep = json.loads(r.stdout.splitlines()[-1])
    tm = rep["timings"]
    rttm = open(os.path.join(tmp, "out", "hour", "speakers.rttm")).read().splitlines()
    speech = sum(float(l.split()[4]) for l in rttm)
    # The speaker stage needs no voice activity detection of its own (segmentation finds the
    # speech); the VAD runs only for transcription, and is shown apart.
    diar = tm["speakers_s"]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"audio {rep['duration'] / 60:.1f} min, speech in turns {speech / 60:.1f} min, "
          f"{len(set(l.split()[7] for l in rttm))} speakers")
    print(f"wall {wall:.1f} s: decode {tm['decode_s']:.1f} s, vad {tm['vad_s']:.1f} s, "
          f"speakers {tm['speakers_s']:.1f} s")
    print(f"speaker stage per hour of speech: {diar * 3600 / speech:.1f} s "
          f"(wall per hour of speech: {wall * 3600 / speech:.1f} s); peak memory {peak_mb:.0f} MB "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
