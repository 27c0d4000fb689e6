#!/usr/bin/env python3
"""Extraction for the UNGD sentence set (rapporteur negotiation-move labels).

Source: a fetched snapshot (bare git dir) of
  github.com/SarahFranzen/Emotions_in_the_United_Nations_General_Debates
which carries the UN General Debate Corpus (UNGDC v12/13, Jankin/Baturo/Dasandi,
Harvard Dataverse doi:10.7910/DVN/0TJX8Y) as data/data_original/TXT/Session NN - YYYY/XXX_NN_YYYY.txt
and data/data_original/Speakers_by_session.xlsx (ISO code -> country name).

Only General Debate statements are read (no Security Council material exists in this corpus).

Sub-commands
  corpus   REPO_GIT_DIR            -> work/sentences.jsonl (every sentence of every speech 2000-2024)
  passages                          -> work/passages.jsonl  (seeded random runs of 5-10 consecutive sentences)
  candidates                        -> work/cand_<move>.txt (keyword-found candidates for the enriched half;
                                       the candidates are only a reading list: each kept sentence was
                                       read and labelled by hand in labels_*.tsv)
  build                             -> ungd.jsonl from work/*.jsonl + labels_passage.tsv + labels_enriched.tsv
  check                             -> validates ungd.jsonl and prints counts

Label files (tab separated): key <TAB> label <TAB> target-or-empty, key = <speechid>-<n>,
n = 0-based index of the sentence in the speech as produced by split_sentences().
"""
import html
import json
import random
import re
import subprocess
import sys
import zipfile
import io
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
TXT_ROOT = "data/data_original/TXT"
XLSX = "data/data_original/Speakers_by_session.xlsx"
YEARS = range(2000, 2025)
MOVES = ["criticism", "opposition", "support", "proposal", "reservation",
         "concession", "question", "procedural", "statement"]

# codes used by UNGDC that are not (or not only) ISO 3166 alpha-3
EXTRA_NAMES = {"EU": "European Union", "POL": "Poland", "YUG": "Yugoslavia",
               "PSE": "State of Palestine", "VAT": "Holy See", "KOS": "Kosovo"}

# ---------------------------------------------------------------- sentence splitting
ABBREV = {"mr", "mrs", "ms", "dr", "no", "nos", "st", "prof", "gen", "jr", "sr", "amb",
          "rev", "vs", "vol", "art", "arts", "para", "paras", "sen", "gov", "lt", "col",
          "capt", "hon", "rt", "messrs", "mme", "mmes", "msgr", "fr", "sgt", "maj",
          "e.g", "i.e", "cf", "op", "pp", "p", "ch", "sec", "dept", "inc", "ltd", "co",
          "excellency", "exc", "h.e", "h.m", "h.r.h", "sheikh"}
# ". " + capital is a boundary unless the token before the dot is an abbreviation,
# an initial or a dotted acronym (U.S., U.N., H.E.).
BOUNDARY = re.compile(r'([.?!])(["\'\u201d\u2019)\]]*)\s+(?=["\'\u201c\u2018(\[]*[A-Z])')


def _is_abbrev(before: str) -> bool:
    tok = re.split(r'[\s(\["\'\u201c\u2018]', before)[-1]
    low = tok.lower().rstrip(".")
    if low in ABBREV:
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", tok):  # initial "A" or acronym "U.S" (last dot stripped)
        return len(tok) == 1 or "." in tok
    return False


PAGE_LINE = re.compile(r"^\s*(?:\d{1,3}|\d{1,3}\s+\d{2}-\d{5}|\d{2}-\d{5}(?:\s+\d{1,3})?|A/\d+/PV\.\d+.*)\s*$")


def normalise(raw: str) -> str:
    """Drop page furniture; re-join hard-wrapped (PDF-extracted) speeches into one paragraph.
    Markdown bold markers (**) found in some 2024 files are removed."""
    raw = raw.replace("\ufeff", "").replace("\u00ad", "").replace("**", "")
    lines = [l for l in raw.splitlines() if not PAGE_LINE.match(l)]
    nonblank = [l.rstrip() for l in lines if l.strip()]
    if not nonblank:
        return ""
    open_end = sum(1 for l in nonblank if not re.search(r'[.?!:;"\u201d\u2019)]$', l))
    lengths = sorted(len(l) for l in nonblank)
    wrapped = open_end / len(nonblank) > 0.4 and lengths[len(lengths) // 2] < 90
    if not wrapped:
        # a stray line break inside a sentence: previous line open, next starts in lower case
        out = []
        for l in lines:
            if out and out[-1].strip() and l.strip() and l.strip()[0].islower() \
                    and not re.search(r'[.?!:;"\u201d\u2019)]$', out[-1].rstrip()):
                out[-1] = out[-1].rstrip() + " " + l.strip()
            else:
                out.append(l)
        return "\n".join(out)
    out = ""
    for l in nonblank:
        l = l.strip()
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out += l                      # "Secretary-" + "General"
        else:
            out += (" " if out else "") + l
    return out


def split_sentences(text: str):
    """Paragraphs are split at line breaks, then at . ? ! followed by space + capital."""
    out = []
    for para in re.split(r"\n\s*", text):
        para = re.sub(r"\s+", " ", para).strip()
        if not para:
            continue
        start = 0
        for m in BOUNDARY.finditer(para):
            end = m.end(2)
            if m.group(1) == "." and _is_abbrev(para[start:m.start(1)]):
                continue
            out.append(para[start:end].strip())
            start = m.end()
        if start < len(para):
            out.append(para[start:].strip())
    return out


def keep_sentence(s: str) -> bool:
    words = s.split()
    if len(words) < 4:
        return False
    if not re.search(r"[a-z]", s):                          # headers in capitals, numbers
        return False
    if re.fullmatch(r"[\W\d_]*\d+[\W\d_]*", s):
        return False
    if s.endswith(",") and len(words) < 12:                 # salutations "Mr. President, ..."
        return False
    return True


FUNCTION_END = {"the", "of", "and", "to", "a", "an", "in", "for", "with", "by", "on", "that",
                "which", "has", "have", "is", "are", "its", "their", "our", "his", "her", "as",
                "at", "from", "or", "be", "this", "these", "those", "who", "whose", "not"}


def clean_sentence(s: str) -> bool:
    """Stricter test used for the final set: also drops footnote lines ("12 Universal
    Declaration ..."), pieces that start in lower case and pieces broken off mid-clause."""
    if not keep_sentence(s):
        return False
    if re.match(r"^\d{1,3} [A-Z]", s) or s[0].islower():
        return False
    last = re.sub(r"[^\w]+$", "", s).split()[-1].lower() if re.search(r"\w", s) else ""
    if not re.search(r'[.?!"\u201d\u2019):;]$', s) and last in FUNCTION_END:
        return False
    return True


# ---------------------------------------------------------------- corpus
def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True,
                          capture_output=True).stdout


def country_names(repo):
    z = zipfile.ZipFile(io.BytesIO(git(repo, "show", f"HEAD:{XLSX}")))
    ss = z.read("xl/sharedStrings.xml").decode()
    strs = [html.unescape("".join(re.findall(r"<t[^>]*>(.*?)</t>", si, re.S)))
            for si in re.findall(r"<si>(.*?)</si>", ss, re.S)]
    sheet = z.read("xl/worksheets/sheet1.xml").decode()
    names = defaultdict(Counter)
    for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet, re.S):
        cells = {}
        for attrs, body in re.findall(r"<c ([^>]*?)(?:/>|>(.*?)</c>)", row, re.S):
            col = re.search(r'r="([A-Z]+)\d+"', attrs).group(1)
            v = re.search(r"<v>(.*?)</v>", body or "")
            if not v:
                continue
            cells[col] = strs[int(v.group(1))] if 't="s"' in attrs else v.group(1)
        if cells.get("C") and cells.get("D") and cells.get("A", "").isdigit():
            names[cells["C"].strip()][(int(cells["A"]), cells["D"].strip())] += 1
    # the spelling the sheet uses most often for that code since 2000, with a few overrides
    out = {}
    for code, c in names.items():
        spell = Counter()
        for (year, name), k in c.items():
            if year >= 2000:
                spell[name] += k
        if not spell:
            spell = Counter(name for (year, name) in c)
        out[code] = NAME_FIXES.get(code, spell.most_common(1)[0][0])
    return out


NAME_FIXES = {"USA": "United States", "COD": "Democratic Republic of the Congo",
              "LAO": "Lao People's Democratic Republic", "MKD": "North Macedonia",
              "SWZ": "Eswatini", "RUS": "Russian Federation", "VNM": "Viet Nam",
              "PRK": "Democratic People's Republic of Korea", "PSE": "State of Palestine",
              "CPV": "Cabo Verde", "CIV": "Côte d'Ivoire", "SYR": "Syrian Arab Republic",
              "TZA": "United Republic of Tanzania", "IRN": "Iran (Islamic Republic of)",
              "BOL": "Bolivia (Plurinational State of)", "VEN": "Venezuela (Bolivarian Republic of)"}


def speaker_name(names, code, year):
    return names.get(code) or EXTRA_NAMES.get(code, code)


def cmd_corpus(repo):
    WORK.mkdir(exist_ok=True)
    names = country_names(repo)
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD", TXT_ROOT).decode().splitlines()
    n_speech = 0
    with open(WORK / "sentences.jsonl", "w") as out:
        for f in sorted(files):
            m = re.search(r"/([A-Z]{2,4})_(\d+)_(\d{4})\.txt$", f)
            if not m or "/._" in f or int(m.group(3)) not in YEARS:
                continue
            code, year = m.group(1), int(m.group(3))
            sid = f"{code}_{m.group(2)}_{year}"
            raw = git(repo, "show", f"HEAD:{f}").decode("utf-8", "replace")
            sents = split_sentences(normalise(raw))
            for i, s in enumerate(sents):
                out.write(json.dumps({"key": f"{sid}-{i}", "speech": sid, "n": i, "text": s,
                                      "keep": keep_sentence(s), "year": year,
                                      "speaker": speaker_name(names, code, year),
                                      "path": f}, ensure_ascii=False) + "\n")
            n_speech += 1
    print("speeches", n_speech)


def load_sentences():
    by_speech = defaultdict(list)
    with open(WORK / "sentences.jsonl") as f:
        for line in f:
            d = json.loads(line)
            by_speech[d["speech"]].append(d)
    return by_speech


# ---------------------------------------------------------------- passages
def cmd_passages(n_runs=70, seed=20240917):
    """One run per speech: a random speech, a random start, 5-10 consecutive kept sentences.
    Speeches are drawn so that no country appears twice."""
    rnd = random.Random(seed)
    by_speech = load_sentences()
    speeches = sorted(by_speech)
    rnd.shuffle(speeches)
    used_country = set()
    runs = []
    for sid in speeches:
        code = sid.split("_")[0]
        if code in used_country:
            continue
        sents = [s for s in by_speech[sid] if s["keep"]]
        length = rnd.randint(5, 10)
        if len(sents) < length + 2:
            continue
        start = rnd.randrange(0, len(sents) - length)
        run = sents[start:start + length]
        # consecutive in the source (no skipped fragment inside the run)
        if run[-1]["n"] - run[0]["n"] != length - 1:
            continue
        used_country.add(code)
        # reject (after the draws, so later draws are unchanged) runs holding a fragment
        if not all(clean_sentence(x["text"]) for x in run):
            continue
        runs.append(run)
        if len(runs) == n_runs:
            break
    with open(WORK / "passages.jsonl", "w") as out:
        for run in runs:
            for s in run:
                out.write(json.dumps(s, ensure_ascii=False) + "\n")
    print("runs", len(runs), "sentences", sum(map(len, runs)))


# ---------------------------------------------------------------- enriched candidates
CAND = {
    "criticism": r"\b(condemn|denounce|occupying Power|aggression against|illegal (?:occupation|annexation|blockade)|"
                 r"violat(?:e|es|ed|ion of)|must (?:stop|end|cease|withdraw|put an end)|blockade|war crimes|"
                 r"accuse|regret that|deplor)",
    "opposition": r"\b(reject|cannot accept|can not accept|oppose|opposed to|will not accept|do not accept|"
                  r"cannot support|against any attempt|unacceptable|say no to|will vote against|object to|"
                  r"do not agree|disagree)",
    "support": r"\b(we welcome|I welcome|welcomes|we support|supports the|we commend|align(?:s)? (?:ourselves|itself|myself)|"
               r"fully support|endorse|we applaud|pay tribute to the|we appreciate the|commend the)",
    "proposal": r"\b(I propose|we propose|proposes|I suggest|we suggest|our proposal|I call for the|"
                r"we call for the (?:establishment|convening|creation)|I therefore propose|initiative to|"
                r"we are proposing|I would like to propose|convening of an international)",
    "reservation": r"\b(provided that|on condition that|on the condition|subject to|with the understanding|"
                   r"while we support|although we support|while welcoming|while we welcome|however, we|"
                   r"but we (?:also )?(?:believe|cannot|must)|only if|as long as|but not at the expense|"
                   r"we have reservations|reservations about|not without)",
    "concession": r"\b(spirit of compromise|compromise|flexibility|ready to (?:accept|negotiate|resume|engage|make)|"
                  r"willing to (?:accept|negotiate|make|engage)|we accept|have accepted|concession|"
                  r"despite our reservations|will not stand in the way|not block|meet halfway|painful)",
}


# Reading lists actually used for the enriched half: (pattern, how many shown, shuffle seed, max words).
# Every hit shown was read; only the sentences judged to carry the move were kept, by hand,
# in labels_enriched.tsv (many hits of each list were statements or another move).
QUERIES = [
    (r"\b(while|although|though) (we|my (country|delegation|Government)|\w+) (support|supports|welcome|welcomes|appreciate|recogni[sz]e|agree|endorse)", 120, 1, 70),
    (r"(would have preferred|falls? short|does not go far enough|do not go far enough|step in the right direction, but|first step, but|reserve (our|its) (position|right)|with (some )?reservations|we have (some )?(concerns|reservations) (about|regarding|with)|we are not (fully )?convinced|not entirely satisf|not fully satisf|only partially|good start, but|positive step, but|important step, but)", 100, 2, 70),
    (r"(spirit of compromise|in a spirit of flexibility|shown (great |maximum |considerable )?flexibility|demonstrated (great |maximum |considerable |our )?flexibility|(made|make|offered) (painful |difficult |major |significant |many |numerous )?concessions|joined (the )?consensus|despite (our|its|some) reservations|went along with|did not block|will not block|not stand in the way|accepted the (plan|proposal|compromise|Annan|road map|package|decision|agreement|ruling|verdict)|we (have )?accepted|agreed to (the|a) (compromise|ceasefire|proposal))", 150, 3, 75),
    (r"\b(we|I|my (country|Government|delegation)|\w+) (are|is|remain|remains|have been|has been|stand|stands) (ready|prepared|willing) to (compromise|make (compromises|concessions)|negotiate without|resume (talks|negotiations|dialogue) without|accept|consider|revisit|go the extra mile|meet|reconsider|be flexible|show flexibility)", 130, 4, 75),
    (r"(for the sake of (consensus|compromise|peace)|in the interest of consensus|in order not to (block|break|stand)|did not (oppose|object)|although we (had|have) (serious )?(reservations|doubts|misgivings)|despite (our|its|the) (concerns|misgivings|doubts)|we (have|had) agreed to|we agreed to|agreed to (postpone|suspend|withdraw|freeze|reduce|lift|halt)|we (withdrew|have withdrawn)|unilateral(ly)? (ceasefire|moratorium|withdrawal)|we accept (the|that|this)|we (acknowledge|admit|recognize) (our|that we) (own )?(have )?(made )?(mistakes|shortcomings|errors)|we (have )?made mistakes|we admit)", 140, 5, 75),
    (r"((made|taken) (bold|courageous|difficult|painful|far-reaching) (steps|decisions|compromises)|extend(ed|ing)? (the|a|an|our) (olive branch|hand of)|without (any )?preconditions|we (have )?(released|lifted|pardoned|invited the)|shown (a great deal of |much |real )?flexibility|showed flexibility|displayed flexibility|our flexibility|maximum flexibility|we (have )?(compromised|conceded)|reluctantly|with some reluctance|we can live with|painful compromise)", 140, 6, 75),
    (r"((has|have) (already )?accepted (the|all|every|a)|agreed to (withdraw|release|hold|allow|open|postpone|suspend)|accepted (all|every) (the )?(proposals|recommendations)|(major|significant|important|unprecedented|enormous|historic) (concession|compromise)s? (that|which|we|to)|did not hesitate to accept|even though (it|this|that) (was|is) not|in spite of our reservations|notwithstanding our reservations)", 100, 7, 75),
    (r"\b(we|I|my (country|Government|delegation)|[A-Z][a-z]+) (firmly |strongly |categorically |resolutely |totally |completely |also |therefore )?(reject|rejects|oppose|opposes|cannot accept|can not accept|will not accept|do not accept|does not accept|cannot support|will never accept|are opposed to|is opposed to|object to|objects to|will vote against|voted against|disagree with|cannot agree)\b", 160, 8, 70),
    (r"((oppose|opposes|reject|rejects|cannot accept|do not support|cannot support|against) (the|any|all) (proposal|proposals|idea|expansion|inclusion|creation|extension|establishment|draft|plan|initiative|resolution|attempt to (expand|extend|create|introduce|impose|include|add))|(proposal|idea|plan|draft|initiative|formula|model)s? (is|are|remains|would be) (unacceptable|not acceptable|counterproductive|ill-conceived|flawed|a mistake|doomed))", 120, 9, 70),
    (r"\b(we|I|my (country|Government|delegation)|[A-Z][a-z]+) (cannot|can not|will not|do not|does not|shall not|could not|would not|will never|can never) (support|endorse|subscribe to|go along with|agree to|agree with|accept|allow|tolerate|countenance|recognize|be party to|be part of)\b|dissociate|are against|is against (any|the)", 120, 10, 70),
    (r"\b(I|we|my (country|Government|delegation)|[A-Z][a-z]+) (therefore |hereby |would like to |wish to |should like to |also |again |once again )?(propose|proposes|proposed|suggest|suggests|am proposing|are proposing|put forward|puts forward|table|submit|offer to host|offers to host|will host|call for the (convening|establishment|creation|holding)|calls for the (convening|establishment|creation|holding))\b", 160, 11, 70),
    (r"^(We|I|My (country|Government|delegation)|[A-Z][a-z]+) (therefore |also |once again |again |hereby )?(call for the (convening|establishment|creation|holding)|calls for the (convening|establishment|creation|holding)|invite(s)? all (Member States|delegations|countries) to (join|support|sponsor|co-sponsor)|(would like to|wish to) (launch|announce) (an|a|the) (initiative|proposal))|^(Our|My) (proposal|initiative) (is|would)", 80, 12, 70),
    (r"(align(s)? (itself|ourselves|myself) (fully )?with the statement|associate(s)? (itself|ourselves|myself) with the statement|(We|I|[A-Z][a-z]+) (fully |strongly |warmly |also |therefore |wholeheartedly )?(support|supports|welcome|welcomes|endorse|endorses|commend|commends|applaud|applauds) the (initiative|proposal|proposals|decision|call|efforts|position|idea|recommendations?|plan|offer) (of|by|made|put forward|launched|taken))", 120, 13, 70),
]


def cmd_candidates(per_move=600, seed=7):
    """Writes the reading lists: cand_<move>.txt (first keyword pass; only the reservation list's
    first 200 lines were read) and cand_q01..q13.txt (the QUERIES above, case-insensitive)."""
    rnd = random.Random(seed)
    by_speech = load_sentences()
    passage_keys = set()
    if (WORK / "passages.jsonl").exists():
        passage_keys = {json.loads(l)["key"] for l in open(WORK / "passages.jsonl")}
    allsents = [s for ss in by_speech.values() for s in ss]
    # file order of sentences.jsonl (speech files in path order), as the reading lists were made
    allsents.sort(key=lambda s: (s["path"], s["n"]))
    for move, pat in CAND.items():
        rx = re.compile(pat, re.I if move not in ("support",) else 0)
        hits = [s for s in allsents
                if clean_sentence(s["text"]) and s["key"] not in passage_keys and rx.search(s["text"])
                and len(s["text"].split()) <= 90]
        rnd.shuffle(hits)
        with open(WORK / f"cand_{move}.txt", "w") as out:
            for s in hits[:per_move]:
                out.write(f"{s['key']}\t{s['text']}\n")
        print(move, len(hits))
    for i, (pat, n, qseed, maxw) in enumerate(QUERIES, 1):
        rx = re.compile(pat, re.I)
        hits = [s for s in allsents
                if s["key"] not in passage_keys and len(s["text"].split()) <= maxw
                and rx.search(s["text"]) and clean_sentence(s["text"])]
        random.Random(qseed).shuffle(hits)
        with open(WORK / f"cand_q{i:02d}.txt", "w") as out:
            for s in hits[:n]:
                out.write(f"{s['key']}\t{s['text']}\n")
        print(f"q{i:02d}", len(hits))


# ---------------------------------------------------------------- build + check
def read_labels(path):
    labels = {}
    for ln, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        key, label = parts[0].strip(), parts[1].strip()
        target = parts[2] if len(parts) > 2 and parts[2] != "" else None
        if label not in MOVES:
            raise SystemExit(f"{path}:{ln}: bad label {label!r}")
        labels[key] = (label, target)
    return labels


def cmd_build():
    by_key = {}
    for ss in load_sentences().values():
        for s in ss:
            by_key[s["key"]] = s
    passage = [json.loads(l)["key"] for l in open(WORK / "passages.jsonl")]
    lp = read_labels(HERE / "labels_passage.tsv")
    le = read_labels(HERE / "labels_enriched.tsv")
    rows, seen = [], set()
    for sample, keys, labels in (("passage", passage, lp), ("enriched", list(le), le)):
        for k in keys:
            if k not in labels:
                raise SystemExit(f"unlabelled {sample} sentence {k}")
            s = by_key[k]
            text = s["text"]
            if text in seen:
                continue
            seen.add(text)
            label, target = labels[k]
            if target is not None and target not in text:
                raise SystemExit(f"{k}: target {target!r} not in text")
            rows.append({"id": f"ungd-{s['speech']}-{s['n']}", "dialogue": f"ungd:{s['speech']}",
                         "text": text, "label": label, "target": target,
                         "speaker": s["speaker"], "year": s["year"], "sample": sample})
    with open(HERE / "ungd.jsonl", "w") as out:
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("rows", len(rows))


def cmd_check():
    rows = [json.loads(l) for l in open(HERE / "ungd.jsonl")]
    texts = Counter(r["text"] for r in rows)
    ids = Counter(r["id"] for r in rows)
    assert all(v == 1 for v in texts.values()), "duplicate texts"
    assert all(v == 1 for v in ids.values()), "duplicate ids"
    for r in rows:
        assert r["label"] in MOVES, r
        assert r["target"] is None or r["target"] in r["text"], r
        assert r["sample"] in ("passage", "enriched")
        assert r["dialogue"] == "ungd:" + r["id"][5:].rsplit("-", 1)[0]
    c = Counter((r["label"], r["sample"]) for r in rows)
    print(f"{'move':12} {'passage':>8} {'enriched':>8} {'total':>6}")
    for m in MOVES:
        print(f"{m:12} {c[(m, 'passage')]:8} {c[(m, 'enriched')]:8} {c[(m, 'passage')] + c[(m, 'enriched')]:6}")
    print(f"{'total':12} {sum(v for (m, s), v in c.items() if s == 'passage'):8} "
          f"{sum(v for (m, s), v in c.items() if s == 'enriched'):8} {len(rows):6}")
    print("speeches", len({r['dialogue'] for r in rows}),
          "countries", len({r['speaker'] for r in rows}),
          "years", min(r['year'] for r in rows), "-", max(r['year'] for r in rows))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "corpus":
        cmd_corpus(Path(sys.argv[2]))
    elif cmd == "passages":
        cmd_passages()
    elif cmd == "candidates":
        cmd_candidates()
    elif cmd == "build":
        cmd_build()
    elif cmd == "check":
        cmd_check()
    else:
        raise SystemExit(__doc__)
