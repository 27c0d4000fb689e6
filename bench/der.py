#!/usr/bin/env python3
"""Diarization error rate of `rapporteur run` on the shared multi-speaker recordings.

Usage: bench/der [--bin PATH] [--told exact|max] [-- extra run arguments...]

--told exact runs each file with `--speakers N` and --told max with `--max-speakers N`, N the
reference count (what pyannote and WhisperX users pass by habit): telling must never hurt.
Beside each set's DER it prints the one-speaker baseline (all reference speech given to one
speaker) and, per file, the speakers found against the reference count.

Scores with `rapporteur eval der` (md-eval rules, collar 0.25 s, overlapped speech scored) on
../shared/data/B_der: pyannote_sample, ami_farfield_train (10 clips, with their UEM),
pyaudioanalysis_diarization_examples (2 files); and, for picovoice_leopard_test (speaker tags
per word, no times), the share of reference words whose speaker is wrong after the best
one-to-one speaker mapping. Prints one line per file and a time-weighted total per set.
"""
import json
import os
import subprocess
import sys
import tempfile
from itertools import permutations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "B_der")


def main():
    args = sys.argv[1:]
    binary = os.path.join(ROOT, "target", "release", "rapporteur")
    if args[:1] == ["--bin"]:
        binary, args = args[1], args[2:]
    told = None
    if args[:1] == ["--told"]:
        told, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not os.path.isdir(SHARED):
        sys.exit(f"bench/der: {SHARED} is missing (the shared data must sit beside the checkout)")
    tmp = tempfile.mkdtemp(prefix="rapporteur-der-")
    voices = os.path.join(tmp, "no-voices")
    os.makedirs(voices)
    extra = ["--voices", voices] + args

    sets = {
        "pyannote_sample": [("sample", "pyannote_sample/sample.wav", "pyannote_sample/sample.rttm", None)],
        "ami_farfield_train": [
            (f"trn{i:02d}", f"ami_farfield_train/trn{i:02d}.wav", "ami_farfield_train/debug.train.rttm",
             "ami_farfield_train/debug.train.uem") for i in range(10)],
        "pyaudioanalysis": [
            (n, f"pyaudioanalysis_diarization_examples/{n}.wav",
             f"pyaudioanalysis_diarization_examples/{n}.derived.rttm", None)
            for n in ("diarizationExample", "diarizationExample2")],
    }
    counts_right = counts = 0
    for name, files in sets.items():
        out = os.path.join(tmp, name)
        wavs = [os.path.join(SHARED, f[1]) for f in files]
        refs = {f[0]: only(os.path.join(SHARED, f[2]), f[0], tmp) for f in files}
        if told is None:
            run([binary, "run", *wavs, "-o", out, "--format", "rttm", "--quiet", *extra])
        else:
            flag = "--speakers" if told == "exact" else "--max-speakers"
            for (file_id, wav, _, _) in files:
                n = len(speakers_of(refs[file_id]))
                run([binary, "run", os.path.join(SHARED, wav), "-o", out,
                     "--format", "rttm", "--quiet", flag, str(n), *extra])
        err = scored = base_err = 0.0
        for file_id, _, ref, uem in files:
            ref_path = refs[file_id]
            hyp = os.path.join(out, file_id, "speakers.rttm")
            uem_path = only(os.path.join(SHARED, uem), file_id, tmp, col=0) if uem else None
            r = der(binary, ref_path, hyp, uem_path)
            one = der(binary, ref_path, one_speaker(ref_path, tmp), uem_path)
            found, true = len(speakers_of(hyp)), len(speakers_of(ref_path))
            counts += 1
            counts_right += found == true
            print(f"  {name:20} {file_id:20} DER {100 * r['der']:6.2f} %  (miss {r['missed']:.2f} s, "
                  f"fa {r['false_alarm']:.2f} s, conf {r['confusion']:.2f} s of {r['scored_speech']:.1f} s)"
                  f"  one speaker {100 * one['der']:6.2f} %  speakers {found}/{true}")
            err += r["missed"] + r["false_alarm"] + r["confusion"]
            base_err += one["missed"] + one["false_alarm"] + one["confusion"]
            scored += r["scored_speech"]
        print(f"{name:22} DER {100 * err / scored:6.2f} %  over {scored:.1f} s of scored speech"
              f"  (one speaker {100 * base_err / scored:6.2f} %)")
    print(f"{'speaker count':22} right for {counts_right} of {counts} files")

    # Picovoice: speaker tags per word.
    pv = os.path.join(SHARED, "picovoice_leopard_test")
    data = json.load(open(os.path.join(pv, "test_data.json")))["tests"]["diarization_tests"][0]
    out = os.path.join(tmp, "picovoice")
    run([binary, "run", os.path.join(pv, data["audio_file"]), "-o", out, "--format", "json", "--quiet", *extra])
    t = json.load(open(os.path.join(out, "diarization_test", "transcript.json")))
    hyp = [(norm(w["text"]), w.get("speaker")) for s in t["segments"] for w in s["words"]]
    ref = [(norm(w["word"]), w["speaker_tag"]) for w in data["words"]]
    pairs = align(ref, hyp)
    refs = sorted({r for r, _ in pairs})
    hyps = sorted({h for _, h in pairs if h is not None}, key=str)
    best = 0
    for perm in permutations(hyps + [None] * len(refs), len(refs)):
        best = max(best, sum(1 for r, h in pairs if h is not None and dict(zip(refs, perm)).get(r) == h))
    print(f"{'picovoice':22} speaker of matched words wrong: {100 * (1 - best / max(1, len(pairs))):.1f} % "
          f"({len(pairs)} of {len(ref)} reference words matched; {len(hyps)} speakers found, 3 true)")


def der(binary, ref, hyp, uem):
    cmd = [binary, "eval", "der", "--ref", ref, "--hyp", hyp, "--json"]
    if uem:
        cmd += ["--uem", uem]
    return json.loads(run(cmd))


def speakers_of(rttm):
    return {l.split()[7] for l in open(rttm, encoding="utf-8") if l.startswith("SPEAKER")}


def one_speaker(ref, tmp):
    """All of the reference's speech (its union) given to one speaker."""
    spans, file_id = [], None
    for l in open(ref, encoding="utf-8"):
        f = l.split()
        if f and f[0] == "SPEAKER":
            file_id = f[1]
            spans.append((float(f[3]), float(f[3]) + float(f[4])))
    spans.sort()
    merged = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out = ref + ".one-speaker.rttm"
    with open(out, "w", encoding="utf-8") as f:
        for s, e in merged:
            f.write(f"SPEAKER {file_id} 1 {s:.3f} {e - s:.3f} <NA> <NA> one <NA> <NA>\n")
    return out


def norm(w):
    return "".join(c for c in w.lower() if c.isalnum() or c == "'")


def align(ref, hyp):
    """Pairs (ref speaker, hyp speaker) of words equal after normalisation, by edit alignment."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                d[i][j] = i + j
            else:
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                              d[i - 1][j - 1] + (0 if ref[i - 1][0] == hyp[j - 1][0] else 1))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if ref[i - 1][0] == hyp[j - 1][0] and d[i][j] == d[i - 1][j - 1]:
            pairs.append((ref[i - 1][1], hyp[j - 1][1]))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs


def only(path, file_id, tmp, col=1):
    """The lines of an RTTM/UEM file that belong to one recording."""
    lines = [l for l in open(path, encoding="utf-8") if l.split()[col:col + 1] == [file_id]]
    out = os.path.join(tmp, f"{file_id}.{os.path.basename(path)}")
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench/der: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


if __name__ == "__main__":
    main()
