"""Meetings made of known utterances: word error rate, utterances found, timing and language of
the transcript of one long recording against the same clips transcribed one by one.

(a) long-form English with pauses (tiny.en): the set's English clips, each twice in two
    different orders, 20-45 s apart over quiet room noise (about -50 dBFS), 2 s lead-in;
(b) a multilingual meeting (base, --language auto): 16 utterances alternating English, French,
    Spanish, German and Portuguese, 1-3 s apart over the same noise.

Each meeting is encoded to Opus 24 kbit/s when ffmpeg is available (WAV otherwise), and every
clip of it is also run alone, with the same flags, from its original file. The clips are split
into a tune set and an eval set (the eval set is reported as unseen: do not tune on it).

Metrics (per meeting; "its utterance" is the utterance a segment overlaps most, spans widened
by 1 s either side):
  pooled WER         all references in order against the whole transcript (meeting), or against
                     the per-clip transcripts joined in the same order (clip by clip);
  per-utterance WER  the reference against the text of the segments assigned to it;
  utterances present utterance WER < 50 %;
  segments outside   segments not inside [start - 0.5, end + 0.5] of their utterance, or
                     assigned to none;
  words inside       share of words whose [start, end] lies inside that widened span;
  language right     (b) an utterance's language is the majority, by words, of its segments'
                     `language` field (the transcript's language when a segment has none).
Every WER is computed by `rapporteur eval wer --json` (the project's normaliser). Prints
markdown tables; asserts nothing.

    python3 bench/meeting.py [--set tune|eval|all] [--only long|multi] [--keep DIR]
                             [--bin target/release/rapporteur] [--extra "ARGS"]
"""
import argparse
import json
import os
import shlex
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
LIB = os.path.join(SHARED, "pocketsphinx_librivox")
FLEURS = os.path.join(SHARED, "fleurs_multi_dev")
LANGS = ["en", "fr", "es", "de", "pt"]
RUN_FLAGS = ["--json", "-q", "--progress", "off", "--format", "json"]


# ---------------------------------------------------------------------------------------------
# The clips and the split


def librivox(n):
    stem = f"sense_and_sensibility_01_austen_64kb-{n}"
    path = os.path.join(LIB, stem + ".wav")
    with open(os.path.join(LIB, stem + ".txt")) as f:
        return {"name": f"librivox-{n}", "path": path, "lang": "en", "text": f.read().strip()}


def jfk():
    with open(os.path.join(SHARED, "jfk", "refs.derived.tsv")) as f:
        text = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)["jfk.wav"]
    return {"name": "jfk", "path": os.path.join(SHARED, "jfk", "jfk.wav"), "lang": "en", "text": text}


def librispeech():
    d = os.path.join(SHARED, "lhotse_fixtures")
    with open(os.path.join(d, "2412-153948-0000.txt")) as f:
        text = f.read().strip().split(" ", 1)[1]  # the line starts with the utterance id
    return {"name": "2412-153948-0000", "path": os.path.join(d, "2412-153948-0000.flac"), "lang": "en", "text": text}


def fleurs(lang, n):
    stem = f"fleurs-{lang}-{n:03d}"
    with open(os.path.join(FLEURS, stem + ".txt")) as f:
        return {"name": stem, "path": os.path.join(FLEURS, stem + ".ogg"), "lang": lang, "text": f.read().strip()}


def clip_set(name):
    """English clips and FLEURS clips (by language) of the tune or eval set."""
    if name == "tune":
        english = [(librivox, "0870"), (librivox, "0880"), (librivox, "0890"), (jfk,)]
        indices = [5, 6, 7]
    else:
        english = [(librivox, "0920"), (librivox, "0930"), (librispeech,)]
        indices = [8, 9]
    out, missing = {lang: [] for lang in LANGS}, []
    for make, *args in english:
        try:
            out["en"].append(make(*args))
        except (OSError, KeyError, IndexError) as e:
            missing.append(f"{make.__name__}{tuple(args)}: {e}")
    for lang in LANGS[1:]:
        for i in indices:
            try:
                out[lang].append(fleurs(lang, i))
            except OSError as e:
                missing.append(str(e))
    for c in [c for cs in out.values() for c in cs]:
        if not os.path.exists(c["path"]):
            missing.append(c["path"])
    for lang in LANGS:
        out[lang] = [c for c in out[lang] if os.path.exists(c["path"])]
    return out, missing


# ---------------------------------------------------------------------------------------------
# Synthesis


def decode(binary, clip, tmp):
    """The clip as the recogniser hears it: 16 kHz mono float32 (cached per clip)."""
    if "audio" not in clip:
        out = os.path.join(tmp, "clips", clip["name"] + ".wav")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([binary, "decode", clip["path"], "-o", out], check=True, stderr=subprocess.DEVNULL)
        with wave.open(out) as w:
            clip["audio"] = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
        os.remove(out)
    return clip["audio"]


def synthesise(order, gaps, rng, lead=2.0, tail=2.0):
    """Audio of the clips in `order` separated by `gaps` seconds, over quiet room noise (about
    -50 dBFS, low-passed a little, as bench/long.py), and where each was placed."""
    parts, total, placed = [np.zeros(int(lead * SR), np.float32)], int(lead * SR), []
    for i, clip in enumerate(order):
        if i:
            n = int(gaps[i - 1] * SR)
            parts.append(np.zeros(n, np.float32))
            total += n
        a = clip["audio"]
        placed.append((total / SR, (total + len(a)) / SR))
        parts.append(a)
        total += len(a)
    parts.append(np.zeros(int(tail * SR), np.float32))
    audio = np.concatenate(parts)
    noise = rng.standard_normal(len(audio)).astype(np.float32) * 0.003
    noise = np.convolve(noise, np.ones(4, np.float32) / 4, mode="same")
    return audio + noise, placed


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


def long_order(english, rng):
    """Each English clip twice: two different shuffled orders, no clip twice in a row."""
    n = len(english)
    first = list(rng.permutation(n))
    for _ in range(1000):
        second = list(rng.permutation(n))
        if (n == 1 or second != first) and second[0] != first[-1]:
            break
    return [english[i] for i in first + second]


def multi_order(clips, count, rng):
    """`count` utterances cycling through the languages; each language's clips shuffled and
    used in turn (repeated when the set has fewer), so no clip comes twice in a row."""
    langs = [l for l in LANGS if clips[l]]
    queues = {l: [] for l in langs}
    order = []
    for i in range(count):
        lang = langs[i % len(langs)]
        if not queues[lang]:
            queues[lang] = [clips[lang][j] for j in rng.permutation(len(clips[lang]))]
        order.append(queues[lang].pop(0))
    return order


# ---------------------------------------------------------------------------------------------
# Running and scoring


BUSY = {"runs": 0, "with_cargo": 0}


def cargo_running():
    return subprocess.run(["pgrep", "-x", "cargo"], stdout=subprocess.DEVNULL).returncode == 0


def run(binary, path, model_args, extra, out):
    """Run rapporteur once; return (wall seconds, its --json report, transcript.json)."""
    BUSY["runs"] += 1
    BUSY["with_cargo"] += cargo_running()  # a concurrent build inflates wall times
    t = time.time()
    proc = subprocess.run([binary, "run", path, "-o", out, *RUN_FLAGS, *model_args, *extra],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    if proc.returncode != 0 or report.get("status") != "ok":
        sys.exit(f"rapporteur failed on {path} (exit {proc.returncode}): {report or proc.stderr.strip()}")
    with open(os.path.join(report["output_dir"], "transcript.json")) as f:
        return wall, report, json.load(f)


class Scorer:
    """`rapporteur eval wer --json` on texts written to files."""

    def __init__(self, binary, tmp):
        self.binary, self.dir, self.n = binary, os.path.join(tmp, "wer"), 0
        os.makedirs(self.dir, exist_ok=True)

    def _eval(self, ref, hyp):
        proc = subprocess.run([self.binary, "eval", "wer", "--ref", ref, "--hyp", hyp, "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def __call__(self, ref_text, hyp_text):
        self.n += 1
        ref, hyp = (os.path.join(self.dir, f"{self.n}.{k}.txt") for k in ("ref", "hyp"))
        # One line each: plain prose to the reader (several lines that all look like
        # "Name: text" would lose their first words as speaker names).
        for p, t in ((ref, ref_text), (hyp, hyp_text)):
            with open(p, "w") as f:
                f.write(" ".join(t.split()) + "\n")
        stats = self._eval(ref, hyp)
        if stats is None:  # a hypothesis with no words: every reference word deleted
            stats = self._eval(ref, ref)
            if stats is None:
                sys.exit(f"rapporteur eval wer failed on the reference {ref_text!r}")
            stats = {"substitutions": 0, "deletions": stats["reference_words"], "insertions": 0,
                     "reference_words": stats["reference_words"], "wer": 1.0}
        return stats


def assign(segments, placed, tolerance=1.0):
    """For each segment, the index of the utterance its span overlaps most (utterance spans
    widened by `tolerance` s either side), or None."""
    out = []
    for seg in segments:
        s, e = seg["start"], seg["end"]
        best, best_overlap = None, None
        for i, (us, ue) in enumerate(placed):
            a, b = us - tolerance, ue + tolerance
            overlap = min(e, b) - max(s, a)
            if overlap < 0 or (overlap == 0 and e > s):
                continue
            # Ties (a point-like segment) go to the utterance whose centre is nearest.
            key = (overlap, -abs((s + e) / 2 - (us + ue) / 2))
            if best_overlap is None or key > best_overlap:
                best, best_overlap = i, key
        out.append(best)
    return out


def language_of(segments, transcript):
    """Majority language by words of these segments (a segment without a `language` field takes
    the transcript's); None when there are no segments."""
    fallback = (transcript.get("language") or {}).get("code")
    votes = {}
    for seg in segments:
        lang = seg.get("language")
        if isinstance(lang, dict):
            lang = lang.get("code")
        lang = lang or fallback
        votes[lang] = votes.get(lang, 0) + max(1, len(seg.get("words") or seg["text"].split()))
    return max(votes, key=votes.get) if votes else None


def text_of(segments):
    return " ".join(seg["text"].strip() for seg in segments)


def evaluate_meeting(transcript, order, placed, score):
    """Per-utterance results and the meeting-level figures."""
    segs = sorted(transcript["segments"], key=lambda s: (s["start"], s["end"]))
    owner = assign(segs, placed)
    utts = []
    for i, (clip, (us, ue)) in enumerate(zip(order, placed)):
        mine = [s for s, o in zip(segs, owner) if o == i]
        utts.append({"clip": clip, "start": us, "end": ue, "segments": mine,
                     "wer": score(clip["text"], text_of(mine)), "language": language_of(mine, transcript)})
    outside, words, words_in = 0, 0, 0
    for seg, o in zip(segs, owner):
        lo, hi = (placed[o][0] - 0.5, placed[o][1] + 0.5) if o is not None else (None, None)
        if o is None or seg["start"] < lo or seg["end"] > hi:
            outside += 1
        for w in seg.get("words") or []:
            words += 1
            if o is not None and lo <= w["start"] and w["end"] <= hi:
                words_in += 1
    with_lang = sum(1 for s in segs if s.get("language"))
    return {"utterances": utts, "segments": len(segs), "outside": outside, "words": words, "words_in": words_in,
            "unassigned": sum(1 for o in owner if o is None), "segments_with_language": with_lang,
            "language": (transcript.get("language") or {}).get("code"),
            "heard": (transcript.get("language") or {}).get("heard"),
            "pooled": score(" ".join(c["text"] for c in order), text_of(segs))}


def pooled_by_language(order, hyps, score):
    """WER of each language's references, in order, against the matching hypotheses."""
    out = {}
    for lang in LANGS:
        idx = [i for i, c in enumerate(order) if c["lang"] == lang]
        if idx:
            out[lang] = score(" ".join(order[i]["text"] for i in idx), " ".join(hyps[i] for i in idx))
    return out


# ---------------------------------------------------------------------------------------------
# Reporting


def pct(stats):
    return (f"{100 * stats['wer']:.2f} ({stats['substitutions']}/{stats['deletions']}/{stats['insertions']} "
            f"of {stats['reference_words']})")


def short(stats):
    return f"{100 * stats['wer']:.1f}"


def present(wers):
    missing = [name for name, w in wers if w["wer"] >= 0.5]
    return f"{len(wers) - len(missing)}/{len(wers)}", ", ".join(missing) or "none"


def report(title, part, meeting, clips, order, placed, audio_path, audio_s, clip_wall, clip_audio_s, score):
    multi = part == "multi"
    utts = meeting["utterances"]
    alone = [clips[c["name"]] for c in order]
    speech = sum(e - s for s, e in placed)
    print(f"\n### {title}\n")
    print(f"{len(order)} utterances ({len(clips)} distinct clips), {audio_s / 60:.1f} min of audio of which "
          f"{speech / 60:.1f} min speech, {os.path.splitext(audio_path)[1][1:]}; transcript language "
          f"`{meeting['language']}`; segments with a `language` field: {meeting['segments_with_language']}/"
          f"{meeting['segments']}" + ("" if meeting["segments_with_language"] else " (fallback: the transcript's)") + ".")
    sp, tm = meeting["report"].get("speech", {}), meeting["report"].get("timings", {})
    heard = ", ".join(f"{h['code']} {h['speech_s']:.0f} s" for h in (meeting.get("heard") or []))
    print(f"Meeting run: {sp.get('speech_s', 0):.0f} s of speech found in {sp.get('chunks', 0)} chunks "
          f"({sp.get('retried_chunks', 0)} retried, {sp.get('silent_chunks', 0)} judged silent); seconds in "
          + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in tm.items() if k.endswith("_s"))
          + (f"; languages heard: {heard}" if heard else "") + ".\n")
    m_present, m_missing = present([(f"#{i + 1} {u['clip']['name']} ({short(u['wer'])} %)", u["wer"]) for i, u in enumerate(utts)])
    c_present, c_missing = present([(f"#{i + 1} {c['clip']['name']} ({short(c['wer'])} %)", c["wer"]) for i, c in enumerate(alone)])
    clip_pooled = score(" ".join(c["text"] for c in order), " ".join(c["text_hyp"] for c in alone))
    rows = [("pooled WER % (S/D/I of ref words)", pct(meeting["pooled"]), pct(clip_pooled))]
    if multi:
        m_lang = pooled_by_language(order, [text_of(u["segments"]) for u in utts], score)
        c_lang = pooled_by_language(order, [c["text_hyp"] for c in alone], score)
        for lang in m_lang:
            rows.append((f"WER % {lang} ({sum(1 for c in order if c['lang'] == lang)} utterances)", pct(m_lang[lang]), pct(c_lang[lang])))
        m_right = sum(1 for u in utts if u["language"] == u["clip"]["lang"])
        c_right = sum(1 for c in alone if c["language"] == c["clip"]["lang"])
        rows.append(("utterances in the right language", f"{m_right}/{len(utts)}", f"{c_right}/{len(alone)}"))
    rows += [
        ("utterances present (WER < 50 %)", m_present, c_present),
        ("missing", m_missing, c_missing),
        ("segments outside their utterance", f"{meeting['outside']}/{meeting['segments']}"
         + (f" ({meeting['unassigned']} in no utterance)" if meeting["unassigned"] else ""), "n/a"),
        ("words inside their utterance", f"{100 * meeting['words_in'] / max(1, meeting['words']):.1f} % "
         f"({meeting['words_in']}/{meeting['words']})", "n/a"),
        ("wall s (RTF)", f"{meeting['wall']:.1f} ({meeting['wall'] / audio_s:.3f}; 1 run, {audio_s:.0f} s of audio)",
         f"{clip_wall:.1f} ({clip_wall / clip_audio_s:.3f}; {len(clips)} runs, {clip_audio_s:.0f} s of audio)"),
    ]
    print("| measure | meeting | clip by clip |")
    print("|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    head = "| # | clip | start s | end s | ref words | segments | WER % meeting | WER % alone |"
    if multi:
        head += " language meeting | language alone |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for i, (u, c) in enumerate(zip(utts, alone)):
        line = (f"| {i + 1} | {u['clip']['name']} | {u['start']:.1f} | {u['end']:.1f} | {u['wer']['reference_words']} | "
                f"{len(u['segments'])} | {short(u['wer'])} | {short(c['wer'])} |")
        if multi:
            mark = lambda got: (got or "none") + ("" if got == u["clip"]["lang"] else f" (want {u['clip']['lang']})")
            line += f" {mark(u['language'])} | {mark(c['language'])} |"
        print(line)
    sys.stdout.flush()


def bench(part, set_name, args, extra, tmp, score):
    clips, missing = clip_set(set_name)
    for m in missing:
        print(f"[meeting] missing clip, skipped: {m}", file=sys.stderr)
    seed = {"tune": 1, "eval": 2}[set_name] + (0 if part == "long" else 10)
    rng = np.random.default_rng(seed)
    if part == "long":
        model_args = ["--model", "tiny.en"]
        order = long_order(clips["en"], rng)
        gaps = rng.uniform(20, 45, len(order) - 1)
        title = f"(a) long-form English with pauses, {set_name} set (tiny.en)"
    else:
        model_args = ["--model", "base", "--language", "auto"]
        order = multi_order(clips, 16, rng)
        gaps = rng.uniform(1, 3, len(order) - 1)
        title = f"(b) multilingual meeting, {set_name} set (base, --language auto)"
    if not order:
        print(f"[meeting] {part} {set_name}: no clips", file=sys.stderr)
        return
    for c in order:
        decode(args.bin, c, tmp)
    audio, placed = synthesise(order, gaps, rng)
    label = f"{part}-{set_name}"
    path = write(audio, os.path.join(tmp, label))
    audio_s = len(audio) / SR
    del audio
    with open(os.path.join(tmp, label + ".references.json"), "w") as f:
        json.dump({"audio": path, "model_args": model_args, "extra": extra, "utterances": [
            {"index": i + 1, "file": os.path.relpath(c["path"], ROOT), "language": c["lang"], "start": round(s, 3),
             "end": round(e, 3), "text": c["text"]} for i, (c, (s, e)) in enumerate(zip(order, placed))]},
            f, ensure_ascii=False, indent=1)
    print(f"[meeting] {label}: {len(order)} utterances, {audio_s:.0f} s -> {os.path.basename(path)}; running", file=sys.stderr)
    wall, rep, transcript = run(args.bin, path, model_args, extra, os.path.join(tmp, "out", label + "-meeting"))
    meeting = evaluate_meeting(transcript, order, placed, score)
    meeting["wall"], meeting["report"] = wall, rep
    distinct, clip_wall, clip_audio = {}, 0.0, 0.0
    for c in order:
        if c["name"] in distinct:
            continue
        w, _, tr = run(args.bin, c["path"], model_args, extra, os.path.join(tmp, "out", label + "-clips"))
        clip_wall += w
        clip_audio += len(c["audio"]) / SR
        hyp = text_of(tr["segments"])
        distinct[c["name"]] = {"clip": c, "text_hyp": hyp, "wer": score(c["text"], hyp),
                               "language": language_of(tr["segments"], tr)}
    print(f"[meeting] {label}: meeting {wall:.1f} s, clips {clip_wall:.1f} s", file=sys.stderr)
    report(title, part, meeting, distinct, order, placed, path, audio_s, clip_wall, clip_audio, score)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "rapporteur"))
    ap.add_argument("--set", choices=["tune", "eval", "all"], default="all")
    ap.add_argument("--only", choices=["long", "multi"])
    ap.add_argument("--keep", metavar="DIR", help="keep the audio, references and outputs in DIR")
    ap.add_argument("--extra", default="", help='flags added to every `rapporteur run`, e.g. "--beam-size 1"')
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    for _ in range(60):  # a build in progress would replace the binary and slow every run
        if not cargo_running():
            break
        if _ == 0:
            print("[meeting] cargo is running: waiting for it to finish (10 minutes at most)", file=sys.stderr)
        time.sleep(10)
    if not os.path.isfile(args.bin):
        sys.exit(f"no binary at {args.bin}: build it (./scripts/setup tiny.en base) or pass --bin")
    extra = shlex.split(args.extra)
    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="rapporteur-meeting-")
    started, source, load = time.time(), args.bin, os.getloadavg()[0]
    try:
        # Every run uses one snapshot of the binary, so that a rebuild during the bench (others
        # build in this checkout) cannot mix two builds in one set of figures.
        args.bin = os.path.join(tmp, "rapporteur")
        shutil.copy2(source, args.bin)
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.stat(source).st_mtime))
        score = Scorer(args.bin, tmp)
        print("# Meetings of known utterances (`bench/meeting.py`)\n")
        print(f"Binary `{os.path.relpath(source, ROOT)}` (built {built}, copied for the run), flags `{' '.join(RUN_FLAGS)}`"
              + (f" plus `{args.extra}`" if extra else "") + ". WER: `rapporteur eval wer --json` (its normaliser) "
              "for every figure, pooled, per language and per utterance. S/D/I: substitutions, deletions, "
              "insertions. Clip by clip: each distinct clip run alone from its original file; its "
              "hypothesis counts for every utterance made of it.")
        sets = ["tune", "eval"] if args.set == "all" else [args.set]
        parts = [args.only] if args.only else ["long", "multi"]
        for set_name in sets:
            print(f"\n## {set_name} set" + (" (unseen: report, do not tune on it)" if set_name == "eval" else " (tune on this)"))
            for part in parts:
                bench(part, set_name, args, extra, tmp, score)
        if BUSY["with_cargo"]:
            print(f"\n**{BUSY['with_cargo']} of {BUSY['runs']} runs started while cargo was running: their wall "
                  "times are inflated.**")
        print(f"\nBench wall time: {time.time() - started:.0f} s; load average (1 min) {load:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores (other work on the machine inflates wall times).")
        if args.keep:
            print(f"\nKept in {tmp}: *.references.json (utterances: file, language, start, end, text), the "
                  "meetings' audio, out/ (every run's outputs), wer/ (the texts scored).")
    finally:
        if args.keep:
            if os.path.exists(os.path.join(tmp, "rapporteur")):
                os.remove(os.path.join(tmp, "rapporteur"))
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
