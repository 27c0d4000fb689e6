#!/usr/bin/env python3
"""Build the candidate sentence pool for parl.jsonl and, with --build, the final file.

Sources (see SOURCE.md):
  IE  RobertLucey/oireachtas-data @ e9fb795aef0671441deb90ed3b11748f50996fb1
      test/resources/json/debate_Dáil Éireann_2016-05-25.json      (Oireachtas API JSON)
      test/resources/pdfs/debate_Dáil Éireann_2021-10-06.pdf.txt   (text of the official report PDF)
      test/resources/pdfs/debate_Seanad Éireann_2021-11-18.pdf.txt (idem)
  GB  clarin-eric/ParlaMint, ParlaMint-GB TEI files (read with the search tool's read_file and
      transcribed utterance by utterance into raw/gb_utterances.jsonl)
  AT  clarin-eric/ParlaMint, ParlaMint-AT-en CoNLL-U sample (machine translation into English;
      the "# text =" lines, transcribed into raw/at_en_sentences.jsonl)

Usage:
  extract.py pool      -> pool.jsonl (every sentence, with speech id and position)
  extract.py sample    -> passages.tsv (random runs of 5-10 consecutive sentences)
  extract.py cands     -> cands_*.tsv (sentences surfaced for reading; labels are made by hand)
  extract.py build     -> parl.jsonl from labels/*.tsv
  extract.py check     -> validates parl.jsonl
"""
import json
import random
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
MOVES = {"proposal", "support", "opposition", "reservation", "concession", "question",
         "procedural", "statement", "criticism"}

# ---------------------------------------------------------------- sentence splitting
ABBREV = {"mr", "mrs", "ms", "dr", "no", "nos", "hon", "st", "rt", "prof", "sr", "jr", "vs",
          "etc", "e.g", "i.e", "art", "arts", "para", "paras", "col", "cols", "gen", "lt", "col",
          "sen", "rev", "co", "corp", "inc", "ltd", "vol", "p", "pp", "cf", "fig", "sec", "s",
          "ss", "u.s", "a.m", "p.m", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
          "sept", "oct", "nov", "dec", "dipl", "ing", "mag", "bsc", "msc", "ddr", "nr", "cllr"}


def norm_ws(s):
    s = s.replace("\u00a0", " ").replace("\u2028", " ")
    return re.sub(r"\s+", " ", s).strip()


def split_sentences(text):
    """Split at . ? ! (optionally followed by a closing quote or bracket) + space + capital,
    not after an abbreviation or a single capital initial."""
    text = norm_ws(text)
    out, start = [], 0
    for m in re.finditer(r"[.?!][\"'\u2019\u201d)\]]?(?= [\"'\u2018\u201c(]?[A-Z0-9\u00c0-\u00de])", text):
        end = m.end()
        if text[m.start()] == ".":
            tok = re.search(r"(\S+)\.$", text[start:m.start() + 1])
            if tok:
                t = tok.group(1).lstrip("(\"'\u2018\u201c")
                low = t.lower()
                if (low in ABBREV or re.fullmatch(r"[A-Z]", t)
                        or re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", t)):
                    continue
        out.append(text[start:end].strip())
        start = end + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


EN_STOP = set("the a an and or of to in on for with is are was were be been it that this we i you he she they "
              "not have has had will would can could should must do does did at by from as but if there".split())


def is_english(s):
    toks = re.findall(r"[A-Za-z\u00c0-\u024f']+", s.lower())
    if not toks:
        return False
    return sum(t in EN_STOP for t in toks) / len(toks) >= 0.12 or len(toks) < 5


# ---------------------------------------------------------------- IE: Oireachtas JSON
def ie_json():
    d = json.load(open(RAW / "ie_dail_2016-05-25.json"))
    speeches = []
    seen_sections = set()
    for s in d["sections"]:
        if not s["speeches"]:
            continue
        # parent "questions" sections repeat the text of their first child: keep the child
        key = json.dumps(s["speeches"][:2])
        if key in seen_sections:
            continue
        seen_sections.add(key)
        sid = s["debate_section_id"].replace("dbsect_", "s")
        dialogue = f"parl:IE:dail-2016-05-25-{sid}"
        for sp in s["speeches"]:
            text = " ".join(p["content"] or "" for p in sp["paras"])
            speeches.append({
                "parliament": "IE", "dialogue": dialogue, "debate_title": s["show_as"],
                "speech_id": f"d20160525{sid}{sp['eid'].replace('spk_', 'k')}",
                "speaker": (sp["by"] or "").lstrip("#"), "text": text,
                "source": "RobertLucey/oireachtas-data:test/resources/json/debate_Dáil Éireann_2016-05-25.json",
            })
    return speeches


# ---------------------------------------------------------------- IE: text of the PDF report
SPEAKER_RE = re.compile(
    r"^((?:An Leas-Cheann Comhairle|An Ceann Comhairle|An Cathaoirleach|An Leas-Chathaoirleach"
    r"|Acting Chairman \([^)]{3,60}\)|Acting Chairperson \([^)]{3,60}\)|Acting Chair \([^)]{3,60}\)"
    r"|An Taoiseach|An Tánaiste|The Taoiseach|The Tánaiste"
    r"|Deputy [A-ZÁÉÍÓÚ][^\s:]*(?: [A-ZÁÉÍÓÚ\u2019'][^\s:]*){0,4}"
    r"|Senator [A-ZÁÉÍÓÚ][^\s:]*(?: [A-ZÁÉÍÓÚ\u2019'][^\s:]*){0,4}"
    r"|(?:Minister|Minister of State|Minister for)[^:()]{0,160}\((?:Deputy|Senator) [^)]{3,60}\)"
    r"|(?:Deputies|Senators) [A-Z][^:]{0,60}))\s*:\s?(.*)$")
ID_RE = re.compile(r"^\d\d/\d\d/\d{4}[A-Z]+\d+$")


def ie_pdf(fname, tag, header_words):
    lines = (RAW / fname).read_text().split("\n")
    # table of contents: from "Insert Date Here" to the first id line; an entry ends with the
    # dot-leader glyph, lines before it without the glyph are the start of a wrapped title
    toc, buf, in_toc, body_start = [], "", False, 0
    for i, l in enumerate(lines):
        if l.strip() == "Insert Date Here":
            in_toc = True
            continue
        if in_toc:
            if ID_RE.match(l.strip()):
                in_toc = False
                continue
            if not l.strip():
                continue
            t = re.sub(r"[\ufffd\x00-\x1f]+", " ", l)
            t = re.sub(r"\s+\d*\s*$", "", t).strip()
            buf = (buf + " " + t).strip()
            if "\ufffd" in l:
                toc.append(buf)
                buf = ""
        if l.strip() == "Paidir." or l.strip().startswith("Machnamh agus Paidir"):
            body_start = i
            break
    titles = [t for t in toc if t]
    clean = []
    join_next = False
    for l in lines[body_start:]:
        s = l.strip()
        if not s or ID_RE.match(s) or re.fullmatch(r"\d{1,3}", s) or s in header_words:
            continue
        if re.fullmatch(r"\d{1,2} o\u2019clock", s):
            continue
        # a record id printed inside a line (after an interruption mark): mark it so that the
        # sentence holding it is never sampled
        s = re.sub(r"\d\d/\d\d/\d{4}[A-Z]+\d+", "\u27e6ID\u27e7", s)
        m = re.search(r"([A-Za-z\u00e0-\u00ff])(\d{2,3})$", s)
        glued = False
        if m and not re.search(r"\b(?:No|Vol|S\.I|SI|article|section|Article|Section)\s*\S*$", s[:m.start(2)]):
            s = s[:m.start(2)]
            glued = True
        if join_next and clean:
            clean[-1] = clean[-1] + s
        else:
            clean.append(s)
        join_next = glued
    # sections and turns
    speeches = []
    cur_title, cur_sec, sec_n = "Opening", "s0", 0
    cur = None
    k = 0
    i = 0
    while i < len(clean):
        s = clean[i]
        hit = None
        for t in titles:
            for span in (1, 2, 3):
                joined = " ".join(clean[i:i + span])
                if joined == t:
                    hit = (t, span)
                    break
            if hit:
                break
        if hit:
            sec_n += 1
            cur_title, cur_sec = hit
            cur_sec = f"s{sec_n}"
            if cur:
                speeches.append(cur)
                cur = None
            i += hit[1]
            continue
        cand = s
        m = SPEAKER_RE.match(cand)
        if not m and re.match(r"^(Minister|Acting|An )", s) and ":" not in s and i + 1 < len(clean):
            m2 = SPEAKER_RE.match(s + " " + clean[i + 1])
            if m2 and len(m2.group(1)) > len(s) - 2:
                m = m2
                i += 1
        if m:
            if cur:
                speeches.append(cur)
            k += 1
            label = m.group(1)
            nm = re.search(r"\(((?:Deputy|Senator) [^)]+)\)", label)
            speaker = nm.group(1) if nm and not label.startswith("Acting") else label
            if label.startswith("Acting") and nm:
                speaker = label
            cur = {"parliament": "IE", "dialogue": f"parl:IE:{tag}-{cur_sec}",
                   "debate_title": cur_title, "speech_id": f"{tag.replace('-', '')}{cur_sec}k{k}",
                   "speaker": speaker, "text": m.group(2),
                   "source": f"RobertLucey/oireachtas-data:test/resources/pdfs/{fname.replace('ie_dail_', 'debate_Dáil Éireann_').replace('ie_seanad_', 'debate_Seanad Éireann_')}"}
        elif cur:
            cur["text"] += " " + s
        i += 1
    if cur:
        speeches.append(cur)
    # the Irish-language report stage of Bille na dTeangacha Oifigiúla is left out
    return [x for x in speeches if not x["debate_title"].startswith("Bille ")]


# ---------------------------------------------------------------- GB / AT transcriptions
def transcribed(fname):
    p = RAW / fname
    if not p.exists():
        return []
    return [json.loads(l) for l in p.open() if l.strip()]


def slug(t):
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", t.lower()).strip("-")[:40]


def gb_pages():
    """Utterances of ParlaMint-GB transcribed from read_file pages (raw/gb/page_*.py).
    Each <seg> (paragraph) is kept apart so that a paragraph without a final full stop
    does not run into the next one."""
    out = []
    for f in sorted((RAW / "gb").glob("page_*.py")):
        ns = {}
        exec(f.read_text(), ns)
        for debate, uid, who, segs in ns["U"]:
            out.append({"parliament": "GB", "dialogue": f"parl:GB:{ns['DAY']}-{slug(debate)}",
                        "debate_title": debate, "speech_id": f"{ns['DAY'].replace('-', '')}{uid}",
                        "speaker": who, "segs": segs,
                        "source": f"clarin-eric/ParlaMint@{ns['COMMIT']}:{ns['FILE']}#{uid}"})
    return out


def all_speeches():
    sp = ie_json()
    sp += ie_pdf("ie_dail_2021-10-06.pdf.txt", "dail-2021-10-06", {"6 October 2021", "Dáil Éireann"})
    sp += ie_pdf("ie_seanad_2021-11-18.pdf.txt", "seanad-2021-11-18", {"18 November 2021", "Seanad Éireann"})
    sp += gb_pages()
    return sp


def pool():
    rows = []
    for sp in all_speeches():
        segs = sp.get("segs") or [sp["text"]]
        n = 0
        for pi, seg in enumerate(segs):
          for s in split_sentences(seg):
            n += 1
            rows.append({"key": f"{sp['parliament']}|{sp['speech_id']}|{n}", "parliament": sp["parliament"],
                         "dialogue": sp["dialogue"], "debate_title": sp["debate_title"],
                         "speech_id": sp["speech_id"], "n": n, "speaker": sp["speaker"], "text": s,
                         "source": sp["source"], "english": is_english(s), "para": pi,
                         "words": len(s.split())})
    for r in transcribed("at_en_sentences.jsonl"):
        rows.append(dict(r, english=True, words=len(r["text"].split())))
    # the JSON repeats a parent "Questions" section's speeches in its first child: keep one copy
    seen, dedup = set(), []
    for r in rows:
        k = (r["speaker"], r["text"])
        if k in seen:
            continue
        seen.add(k)
        dedup.append(r)
    rows = eligible_flags(dedup)
    with open(HERE / "pool.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    c = Counter(r["parliament"] for r in rows if r["ok"])
    print(len(rows), "sentences", dict(c), len({r['dialogue'] for r in rows}), "dialogues")


NAME_LIST = re.compile(r"^[A-Z\u00c0-\u00de][\w\u2019'\- ]{1,30}, [A-Z\u00c0-\u00de][\w\u2019'.\- ]{1,30}\.?$")


def eligible_flags(rows):
    """A sentence can be sampled if it has 4+ words, is English, is not a name in a division
    list and is not boilerplate repeated 3+ times in the pool."""
    freq = Counter(r["text"] for r in rows)
    for r in rows:
        r["ok"] = (r["words"] >= 4 and r["english"] and not NAME_LIST.match(r["text"])
                   and freq[r["text"]] < 3 and not r["text"].startswith("Question put")
                   and "\u27e6ID\u27e7" not in r["text"])
    return rows


def load_pool():
    return [json.loads(l) for l in open(HERE / "pool.jsonl")]


PASSAGE_TARGET = {"IE": 330, "GB": 170, "AT": 20}


def sample_passages(seed=20260514):
    """Runs of 5-10 consecutive sampleable sentences from random speeches (and, for GB, from one
    paragraph), until each parliament has its share; one run per speech."""
    rows = load_pool()
    rng = random.Random(seed)
    by_speech = defaultdict(list)
    for r in rows:
        by_speech[(r["parliament"], r["speech_id"], r.get("para", 0) if r["parliament"] == "GB" else 0)].append(r)
    chosen = []
    for parl, target in PASSAGE_TARGET.items():
        keys = [k for k in by_speech if k[0] == parl]
        rng.shuffle(keys)
        got, used_speech = 0, set()
        for k in keys:
            if got >= target:
                break
            if k[1] in used_speech:
                continue
            sents = by_speech[k]
            # maximal blocks of consecutive sampleable sentences
            blocks, cur = [], []
            for r in sents:
                if r["ok"]:
                    cur.append(r)
                else:
                    if len(cur) >= 5:
                        blocks.append(cur)
                    cur = []
            if len(cur) >= 5:
                blocks.append(cur)
            if not blocks:
                continue
            b = rng.choice(blocks)
            ln = min(len(b), rng.randint(5, 10), target - got) if target - got >= 5 else min(len(b), 5)
            st = rng.randint(0, len(b) - ln)
            run = b[st:st + ln]
            chosen += run
            got += len(run)
            used_speech.add(k[1])
    with open(HERE / "work" / "passages.tsv", "w") as f:
        for r in chosen:
            f.write(f"{r['key']}\t{r['speaker']}\t{r['text']}\n")
    print(len(chosen), Counter(r["parliament"] for r in chosen), len({r['dialogue'] for r in chosen}), "dialogues")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "pool"
    if cmd == "pool":
        pool()
    elif cmd == "sample":
        sample_passages()


# ---------------------------------------------------------------- candidates for the enriched half
# These patterns only choose which sentences are SHOWN to the annotator; every label is given by
# reading the sentence (labels/enriched.tsv), and most shown sentences are not kept.
CAND = {
    "opposition": r"\b(oppos\w*|cannot (?:support|accept|agree)|can ?not accept|not accept|reject\w*|vote against|voting against|object\w*|will not support|do not support|unacceptable|should be withdrawn|scrap\w*|abolish\w*|against (?:the|this) (?:motion|amendment|Bill|proposal)|not agree)\b",
    "support": r"\b(I support|we support|support (?:the|this) (?:motion|amendment|Bill|proposal)|fully support|I welcome|we welcome|welcome (?:the|this)|commend\w*|agree with|I agree|we agree|endorse\w*|supportive|pay tribute|congratulat\w*)\b",
    "reservation": r"(\b(?:welcome|support\w*|agree\w*|in favour)\b[^.?!]*\b(?:but|however|although|provided|subject to|as long as|only if|if)\b|\b(?:in principle|broadly|reservations?|caveat|concerns? about)\b)",
    "concession": r"\b(accept\w*|concede\w*|fair point|acknowledge\w*|take (?:the|that|his|her) point|take on board|withdraw\w*|not press|not oppose|will not divide|in fairness|to be fair|it is true that|I recognise|I understand the|grant that|happy to (?:look|accept|consider)|open to|prepared to)\b",
    "question": r"(^(?:What|When|How|Why|Where|Which|Who|Is|Are|Has|Have|Does|Do|Did|Can|Could|Will|Would|May)\b[^?]*\?$|\?$)",
}


def candidates(seed=7, cap=160):
    rows = load_pool()
    taken = {l.split("\t")[0] for l in open(HERE / "work" / "passages.tsv")}
    rng = random.Random(seed)
    for mv, pat in CAND.items():
        rx = re.compile(pat, re.I if mv != "question" else 0)
        hits = [r for r in rows if r["ok"] and r["key"] not in taken and rx.search(r["text"])
                and r["words"] <= 70]
        rng.shuffle(hits)
        # keep some spread over parliaments: GB first up to a third
        gb = [r for r in hits if r["parliament"] != "IE"][:cap // 3]
        ie = [r for r in hits if r["parliament"] == "IE"][:cap - len(gb)]
        out = gb + ie
        with open(HERE / "work" / f"cands_{mv}.tsv", "w") as f:
            for r in out:
                f.write(f"{r['key']}\t{r['speaker']}\t{r['text']}\n")
        print(mv, len(hits), "->", len(out))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cands":
    candidates()


# ---------------------------------------------------------------- build parl.jsonl from the hand labels
CAND_FILES = {"o": "cands_opposition.tsv", "p": "cands_opposition2.tsv", "q": "cands_opposition3.tsv",
              "v": "cands_opposition4.tsv", "s": "cands_support.tsv", "r": "cands_reservation.tsv",
              "c": "cands_concession.tsv", "k": "cands_question.tsv",
              "m": "cands_more.tsv"}


def read_labels(path):
    out = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        head, _, target = line.partition(" | ")
        ref, label = head.split()[:2]
        out.append((ref, label, target.strip() or None))
    return out


def build():
    pool_by_key = {r["key"]: r for r in load_pool()}
    work = HERE / "work"
    lines, errors = [], []
    passage_keys = [l.split("\t")[0] for l in open(work / "passages.tsv")]
    plabels = {}
    for f in sorted(work.glob("plabels_*.txt")):
        for ref, label, target in read_labels(f):
            plabels[int(ref)] = (label, target)
    for i, key in enumerate(passage_keys, 1):
        label, target = plabels[i]
        lines.append((pool_by_key[key], label, target, "passage", f"passage #{i}"))
    cand_keys = {p: [l.split("\t")[0] for l in open(work / f)] for p, f in CAND_FILES.items()}
    for ref, label, target in read_labels(work / "elabels.txt"):
        key = cand_keys[ref[0]][int(ref[1:]) - 1]
        lines.append((pool_by_key[key], label, target, "enriched", ref))
    seen, out = set(), []
    for r, label, target, sample, ref in lines:
        if label not in MOVES:
            errors.append(f"{ref}: bad label {label}")
            continue
        if target is not None and target not in r["text"]:
            errors.append(f"{ref}: target {target!r} not in {r['text'][:90]!r}")
            continue
        if r["text"] in seen:
            continue
        seen.add(r["text"])
        parl = r["parliament"]
        sid = re.sub(r"[^A-Za-z0-9]+", "", r["speech_id"])
        out.append({"id": f"parl-{parl}-{sid}-{r['n']}", "dialogue": r["dialogue"], "text": r["text"],
                    "label": label, "target": target, "speaker": r["speaker"], "parliament": parl,
                    "sample": sample, "_title": r["debate_title"], "_source": r["source"]})
    for e in errors:
        print("ERROR", e)
    with open(HERE / "parl.jsonl", "w") as f, open(HERE / "parl_provenance.jsonl", "w") as g:
        for o in out:
            g.write(json.dumps({"id": o["id"], "debate_title": o.pop("_title"), "source": o.pop("_source")},
                               ensure_ascii=False) + "\n")
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(len(out), "lines written")


def check():
    rows = [json.loads(l) for l in open(HERE / "parl.jsonl")]
    ids, texts = Counter(r["id"] for r in rows), Counter(r["text"] for r in rows)
    bad = [r for r in rows if r["label"] not in MOVES or (r["target"] is not None and r["target"] not in r["text"])]
    print("lines", len(rows), "| bad", len(bad), "| dup ids", sum(v > 1 for v in ids.values()),
          "| dup texts", sum(v > 1 for v in texts.values()), "| dialogues", len({r['dialogue'] for r in rows}))
    print("short (<4 words):", sum(len(r["text"].split()) < 4 for r in rows))
    c = Counter((r["label"], r["sample"]) for r in rows)
    for m in sorted(MOVES):
        print(f"  {m:12s} passage {c[(m, 'passage')]:4d}  enriched {c[(m, 'enriched')]:4d}  total {c[(m, 'passage')] + c[(m, 'enriched')]:4d}")
    cp = Counter((r["parliament"], r["sample"]) for r in rows)
    for p in sorted({r["parliament"] for r in rows}):
        print(f"  {p}: passage {cp[(p, 'passage')]}, enriched {cp[(p, 'enriched')]}")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "build":
    build()
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "check":
    check()


# extra candidate lists, made one after the other (each leaves out what earlier lists showed)
EXTRA = [
    ("cands_opposition2.tsv", r"\b(Government amendment|countermotion|counter-motion|will not be supporting|not be supporting|cannot support|can not support|will not support|not support (?:the|this|it)|vote no|voting no|against (?:it|this|the motion|the amendment|the Bill)|will be opposing|we oppose|I oppose|oppose (?:the|this|it)|reject (?:the|this)|not acceptable|no to|should not (?:be|go ahead|proceed)|must not|do not want (?:the|this)|not the answer|not the way|wrong (?:approach|decision)|is a mistake|U-turn|kick the can|not go far enough|does not go far enough)\b", 70, None, None),
    ("cands_opposition3.tsv", None, 55, 3, 150),
    ("cands_opposition4.tsv", r"\b(vot(e|es|ed|ing)|division|not (?:agree|accept|support|in favour)|disagree\w*|no (?:way|sense)|does not (?:make sense|work|address)|will not (?:work|solve|help)|should (?:not|never)|cannot (?:be|stand)|is not (?:the|a) (?:answer|solution)|not in favour|refuse|veto|block)\b", 55, 5, 140),
    ("cands_more.tsv", r"\b(fair enough|I take the point|will look at|happy to (?:meet|consider|look|engage|examine)|I grant|While I |Although I |notwithstanding|do not disagree|no objection|not against|would not be opposed|not opposed|I hear what|point is well made|valid point|good point|good suggestion|I will consider|will examine|will reflect|I am willing|we are willing|no problem with|I concur|we can live with|compromise|meet (?:them|you) halfway|I would not disagree|has a point|is right that|rightly)\b", 60, 11, 110),
]
OBJ = re.compile(r"\b(amendment|motion|Bill|proposal|plan|strategy|budget|scheme|deal|decision|policy|charges?|tax)\b", re.I)
NEG = re.compile(r"\b(not|no|never|cannot|can't|wrong|against|reject|oppos|fail|flaw|bad|disgrace|shame|nonsense|useless|regressive|inadequate|insult)\w*", re.I)


def candidates_extra():
    rows = load_pool()
    work = HERE / "work"
    taken = {l.split("\t")[0] for l in open(work / "passages.tsv")}
    shown = {l.split("\t")[0] for l in open(work / "cands_opposition.tsv")}
    base = {l.split("\t")[0] for f in ("support", "reservation", "concession", "question")
            for l in open(work / f"cands_{f}.tsv")}
    for i, (fname, pat, maxw, seed, cap) in enumerate(EXTRA):
        if i == 0:
            out = [r for r in rows if r["ok"] and r["key"] not in taken and r["key"] not in shown
                   and re.search(pat, r["text"], re.I) and r["words"] <= maxw]
        elif pat is None:
            out = [r for r in rows if r["ok"] and r["key"] not in taken and r["key"] not in shown
                   and OBJ.search(r["text"]) and NEG.search(r["text"]) and r["words"] <= maxw
                   and ("pdf" in r["source"] or r["parliament"] == "GB" or "Order of" in r["debate_title"]
                        or "Leaders" in r["debate_title"])]
        else:
            if i == 2:
                shown |= base
            out = [r for r in rows if r["ok"] and r["key"] not in taken and r["key"] not in shown
                   and re.search(pat, r["text"], re.I) and r["words"] <= maxw]
        if seed is not None:
            random.seed(seed)
            random.shuffle(out)
            out = out[:cap]
        with open(work / fname, "w") as f:
            for r in out:
                f.write(f"{r['key']}\t{r['speaker']}\t{r['text']}\n")
        shown |= {r["key"] for r in out}
        print(fname, len(out))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cands":
    candidates_extra()
