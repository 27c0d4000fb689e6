#!/usr/bin/env python3
"""Speed of diarization: one hour of speech, built by joining the shared multi-speaker
recordings (AMI far-field clips, the pyannote sample, the pyAudioAnalysis examples) end to end
until an hour of speech is reached, then `rapporteur run --format rttm` (no transcription).

Usage: bench/diarize [--hours H]

Prints the wall time, the time of each stage and the figure the issue sets a target for:
seconds of diarization (voice activity detection + speaker embedding + clustering) per hour
of speech, on this machine's cores. The joined recording has a joined reference (each copy of a
file keeps its speakers' names, so the same 33 voices recur all hour long): its DER and
speaker count show whether a long recording is split into more speakers than it has.
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
    refs = [reference(src) for src in sources]
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
        ref_lines, uem_lines = [], []
        while written < target_samples:
            p = pieces[i % len(pieces)]
            offset = written / 16000
            turns, scored = refs[i % len(refs)]
            for start, dur, who in turns:
                ref_lines.append(f"SPEAKER hour 1 {offset + start:.3f} {dur:.3f} <NA> <NA> {who} <NA> <NA>\n")
            for a, b in scored or [(0.0, len(p) / 2 / 16000)]:
                uem_lines.append(f"hour 1 {offset + a:.3f} {offset + b:.3f}\n")
            w.writeframes(p)
            written += len(p) // 2
            i += 1
    ref_path, uem_path = os.path.join(tmp, "hour.rttm"), os.path.join(tmp, "hour.uem")
    open(ref_path, "w", encoding="utf-8").writelines(ref_lines)
    open(uem_path, "w", encoding="utf-8").writelines(uem_lines)
    t = time.time()
    r = subprocess.run([BIN, "run", big, "-o", os.path.join(tmp, "out"), "--format", "rttm", "--json",
                        "--quiet", "--voices", tmp], capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode != 0:
        sys.exit(f"bench/diarize: run failed: {r.stderr}")
    rep = json.loads(r.stdout.splitlines()[-1])
    tm = rep["timings"]
    hyp_path = os.path.join(tmp, "out", "hour", "speakers.rttm")
    rttm = open(hyp_path).read().splitlines()
    speech = sum(float(l.split()[4]) for l in rttm)
    # The speaker stage needs no voice activity detection of its own (segmentation finds the
    # speech); the VAD runs only for transcription, and is shown apart.
    diar = tm["speakers_s"]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"audio {rep['duration'] / 60:.1f} min, speech in turns {speech / 60:.1f} min, "
          f"{len(set(l.split()[7] for l in rttm))} speakers")
    score = subprocess.run([BIN, "eval", "der", "--ref", ref_path, "--hyp", hyp_path, "--uem", uem_path,
                            "--json"], check=True, capture_output=True, text=True)
    true_voices = len({l.split()[7] for l in ref_lines})
    print(f"DER on the joined recording {100 * json.loads(score.stdout)['der']:.1f} % "
          f"({true_voices} voices in the reference)")
    print(f"wall {wall:.1f} s: decode {tm['decode_s']:.1f} s, vad {tm['vad_s']:.1f} s, "
          f"speakers {tm['speakers_s']:.1f} s")
    print(f"speaker stage per hour of speech: {diar * 3600 / speech:.1f} s "
          f"(wall per hour of speech: {wall * 3600 / speech:.1f} s); peak memory {peak_mb:.0f} MB "
          f"on {os.cpu_count()} cores")


def reference(wav):
    """(turns, scored regions) of one shared recording: its RTTM's turns (start, duration,
    speaker) and, for the AMI clips, its UEM (None: the whole file is scored)."""
    folder, name = os.path.dirname(wav), os.path.splitext(os.path.basename(wav))[0]
    rttm, uem = os.path.join(folder, f"{name}.rttm"), None
    if not os.path.exists(rttm):
        rttm = os.path.join(folder, f"{name}.derived.rttm")
    if not os.path.exists(rttm):
        rttm, uem = os.path.join(folder, "debug.train.rttm"), os.path.join(folder, "debug.train.uem")
    turns = []
    for line in open(rttm, encoding="utf-8"):
        f = line.split()
        if f[:1] == ["SPEAKER"] and f[1] == name:
            # Speaker names are only unique within a file outside AMI: keep them apart.
            who = f[7] if uem else f"{name}-{f[7]}"
            turns.append((float(f[3]), float(f[4]), who))
    scored = None
    if uem:
        scored = [(float(f[2]), float(f[3])) for f in (l.split() for l in open(uem)) if f[0] == name]
    return turns, scored


if __name__ == "__main__":
    main()
