//! Diarization error rate, scored the way NIST's md-eval does: reference and hypothesis turns
//! (RTTM), an optional scoring region (UEM), a no-score collar around every reference turn
//! boundary, optionally no scoring where the reference has overlapping speakers, and the
//! one-to-one speaker mapping that maximises the time both agree on (Hungarian algorithm).
//!
//! DER = (missed speech + false alarm + speaker confusion) / scored reference speech, where
//! every quantity counts speaker-time (two people talking for a second is two seconds).

use std::collections::BTreeMap;

/// One speaker turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub file: String,
    pub start: f64,
    pub end: f64,
    pub speaker: String,
}

/// Record types of the RTTM format besides SPEAKER (NIST RT-09 evaluation plan).
const RTTM_TYPES: [&str; 13] = [
    "SEGMENT",
    "NOSCORE",
    "NO_RT_METADATA",
    "LEXEME",
    "NON-LEX",
    "NON-SPEECH",
    "FILLER",
    "EDIT",
    "IP",
    "SU",
    "CB",
    "A/P",
    "SPKR-INFO",
];

/// Parse RTTM text: `SPEAKER <file> <chan> <start> <dur> <NA> <NA> <speaker> <NA> <NA>`. Other
/// RTTM record types and `;;` comments are skipped; any other line is an error. Errors name
/// the line.
pub fn parse_rttm(text: &str) -> Result<Vec<Turn>, String> {
    let mut turns = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;") || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] != "SPEAKER" {
            // Other RTTM records (NIST RT-09 types) are not scored; anything else means the
            // file is not RTTM (a notes file once scored as "DER 100 %" with exit 0).
            if RTTM_TYPES.contains(&f[0]) {
                continue;
            }
            return Err(format!(
                "line {}: {:?} is not an RTTM record type (expected SPEAKER lines)",
                i + 1,
                f[0]
            ));
        }
        if f.len() < 8 {
            return Err(format!(
                "line {}: a SPEAKER record needs at least 8 fields",
                i + 1
            ));
        }
        let num = |s: &str, what: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("line {}: bad {what} {s:?}", i + 1))
        };
        let start = num(f[3], "start")?;
        let dur = num(f[4], "duration")?;
        turns.push(Turn {
            file: f[1].to_string(),
            start,
            end: start + dur,
            speaker: f[7].to_string(),
        });
    }
    Ok(turns)
}

/// Parse a UEM: `<file> <chan> <start> <end>` per line.
pub fn parse_uem(text: &str) -> Result<BTreeMap<String, Vec<(f64, f64)>>, String> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;") || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            return Err(format!("line {}: a UEM line has 4 fields", i + 1));
        }
        let (a, b) = (f[2].parse::<f64>(), f[3].parse::<f64>());
        match (a, b) {
            (Ok(a), Ok(b)) if b >= a => out.entry(f[0].to_string()).or_default().push((a, b)),
            _ => return Err(format!("line {}: bad time range", i + 1)),
        }
    }
    Ok(out)
}

/// How to score.
#[derive(Debug, Clone)]
pub struct DerOptions {
    /// Seconds either side of each reference boundary that are not scored.
    pub collar: f64,
    /// Do not score where the reference has two or more speakers.
    pub ignore_overlap: bool,
    /// Scoring regions per file; without one, a file is scored from the earliest to the latest
    /// turn of either side.
    pub uem: Option<BTreeMap<String, Vec<(f64, f64)>>>,
}

/// Speaker-time totals, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DerStats {
    pub scored_speech: f64,
    pub missed: f64,
    pub false_alarm: f64,
    pub confusion: f64,
}

impl DerStats {
    pub fn der(&self) -> f64 {
        if self.scored_speech <= 0.0 {
            return 0.0;
        }
        (self.missed + self.false_alarm + self.confusion) / self.scored_speech
    }

    fn add(&mut self, o: &DerStats) {
        self.scored_speech += o.scored_speech;
        self.missed += o.missed;
        self.false_alarm += o.false_alarm;
        self.confusion += o.confusion;
    }
}

/// Score every file of the reference (a file missing from the hypothesis counts as all missed).
pub fn der(reference: &[Turn], hypothesis: &[Turn], opts: &DerOptions) -> DerStats {
    let mut files: Vec<&str> = reference.iter().map(|t| t.file.as_str()).collect();
    files.sort();
    files.dedup();
    let mut total = DerStats::default();
    for file in files {
        let r: Vec<&Turn> = reference.iter().filter(|t| t.file == file).collect();
        let h: Vec<&Turn> = hypothesis.iter().filter(|t| t.file == file).collect();
        total.add(&score_file(file, &r, &h, opts));
    }
    total
}

fn score_file(file: &str, r: &[&Turn], h: &[&Turn], opts: &DerOptions) -> DerStats {
    // Scoring regions.
    let mut regions: Vec<(f64, f64)> = match opts.uem.as_ref().and_then(|u| u.get(file)) {
        Some(u) => u.clone(),
        None => {
            let lo = r
                .iter()
                .chain(h)
                .map(|t| t.start)
                .fold(f64::INFINITY, f64::min);
            let hi = r
                .iter()
                .chain(h)
                .map(|t| t.end)
                .fold(f64::NEG_INFINITY, f64::max);
            if lo < hi {
                vec![(lo, hi)]
            } else {
                Vec::new()
            }
        }
    };
    // Collars around every reference boundary.
    let mut excluded: Vec<(f64, f64)> = Vec::new();
    if opts.collar > 0.0 {
        for t in r {
            excluded.push((t.start - opts.collar, t.start + opts.collar));
            excluded.push((t.end - opts.collar, t.end + opts.collar));
        }
    }
    // Elementary intervals between every boundary.
    let mut cuts: Vec<f64> = Vec::new();
    for t in r.iter().chain(h) {
        cuts.push(t.start);
        cuts.push(t.end);
    }
    for (a, b) in regions.iter().chain(&excluded) {
        cuts.push(*a);
        cuts.push(*b);
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    regions.sort_by(|a, b| a.0.total_cmp(&b.0));

    let ref_speakers = index(r);
    let hyp_speakers = index(h);
    let active = |turns: &[&Turn], ids: &BTreeMap<String, usize>, mid: f64| -> Vec<usize> {
        let mut v: Vec<usize> = turns
            .iter()
            .filter(|t| t.start <= mid && mid < t.end)
            .map(|t| ids[&t.speaker])
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // First pass: scored intervals with who is active, and the overlap matrix.
    let mut intervals: Vec<(f64, Vec<usize>, Vec<usize>)> = Vec::new();
    let mut overlap = vec![vec![0f64; hyp_speakers.len()]; ref_speakers.len()];
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let d = b - a;
        if d <= 0.0 {
            continue;
        }
        let mid = (a + b) / 2.0;
        let in_region = regions.iter().any(|(s, e)| *s <= mid && mid < *e);
        let in_collar = excluded.iter().any(|(s, e)| *s <= mid && mid < *e);
        if !in_region || in_collar {
            continue;
        }
        let rs = active(r, &ref_speakers, mid);
        if opts.ignore_overlap && rs.len() > 1 {
            continue;
        }
        let hs = active(h, &hyp_speakers, mid);
        for &i in &rs {
            for &j in &hs {
                overlap[i][j] += d;
            }
        }
        intervals.push((d, rs, hs));
    }
    let mapping = best_mapping(&overlap);
    let mut s = DerStats::default();
    for (d, rs, hs) in intervals {
        let (nr, nh) = (rs.len() as f64, hs.len() as f64);
        let correct = rs
            .iter()
            .filter(|&&i| mapping[i].is_some_and(|j| hs.contains(&j)))
            .count() as f64;
        s.scored_speech += d * nr;
        s.missed += d * (nr - nh).max(0.0);
        s.false_alarm += d * (nh - nr).max(0.0);
        s.confusion += d * (nr.min(nh) - correct);
    }
    s
}

fn index(turns: &[&Turn]) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for t in turns {
        let n = ids.len();
        ids.entry(t.speaker.clone()).or_insert(n);
    }
    ids
}

/// For each reference speaker, the hypothesis speaker it maps to, maximising total overlap
/// (one-to-one; Hungarian algorithm on the negated overlap, padded to a square).
pub fn best_mapping(overlap: &[Vec<f64>]) -> Vec<Option<usize>> {
    let n_ref = overlap.len();
    let n_hyp = overlap.first().map_or(0, |r| r.len());
    let n = n_ref.max(n_hyp);
    if n == 0 {
        return vec![None; n_ref];
    }
    let max = overlap.iter().flatten().copied().fold(0.0f64, f64::max);
    // cost[i][j] = max - overlap: minimising cost maximises overlap.
    let cost = |i: usize, j: usize| -> f64 {
        if i < n_ref && j < n_hyp {
            max - overlap[i][j]
        } else {
            max
        }
    };
    // Kuhn-Munkres with potentials (rows 1..=n, columns 1..=n; 0 is a sentinel).
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut p = vec![0usize; n + 1]; // p[j] = row matched to column j
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut mapping = vec![None; n_ref];
    for j in 1..=n {
        let i = p[j];
        if i >= 1 && i - 1 < n_ref && j - 1 < n_hyp && overlap[i - 1][j - 1] > 0.0 {
            mapping[i - 1] = Some(j - 1);
        }
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(start: f64, end: f64, speaker: &str) -> Turn {
        Turn {
            file: "f".into(),
            start,
            end,
            speaker: speaker.into(),
        }
    }

    fn plain() -> DerOptions {
        DerOptions {
            collar: 0.0,
            ignore_overlap: false,
            uem: None,
        }
    }

    #[test]
    fn identical_labels_under_other_names_score_zero() {
        let r = vec![turn(0.0, 5.0, "A"), turn(5.0, 9.0, "B")];
        let h = vec![turn(0.0, 5.0, "x"), turn(5.0, 9.0, "y")];
        assert_eq!(der(&r, &h, &plain()).der(), 0.0);
    }

    #[test]
    fn miss_false_alarm_and_confusion_are_counted() {
        let r = vec![turn(0.0, 4.0, "A"), turn(4.0, 8.0, "B")];
        // 1 s of A missed, B half confused with the speaker mapped to A, 2 s false alarm.
        let h = vec![
            turn(1.0, 4.0, "x"),
            turn(4.0, 6.0, "y"),
            turn(6.0, 8.0, "x"),
            turn(8.0, 10.0, "y"),
        ];
        let s = der(&r, &h, &plain());
        assert_eq!(s.scored_speech, 8.0);
        assert_eq!(s.missed, 1.0);
        assert_eq!(s.false_alarm, 2.0);
        assert_eq!(s.confusion, 2.0);
    }

    #[test]
    fn collar_and_overlap_exclusion() {
        let r = vec![turn(0.0, 5.0, "A"), turn(4.0, 9.0, "B")];
        let h = vec![turn(0.0, 9.0, "x")];
        let s = der(
            &r,
            &h,
            &DerOptions {
                collar: 0.0,
                ignore_overlap: true,
                uem: None,
            },
        );
        assert_eq!(s.scored_speech, 8.0); // 4-5 is overlap, not scored
        assert_eq!(s.confusion, 4.0); // B's 4 s go to the speaker mapped to A
        let s = der(
            &r,
            &h,
            &DerOptions {
                collar: 0.25,
                ignore_overlap: true,
                uem: None,
            },
        );
        assert!((s.scored_speech - 7.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn mapping_is_optimal_not_greedy() {
        // Greedy would give A->x (5) then B->y (0); the best total is A->y, B->x (4 + 4).
        let m = best_mapping(&[vec![5.0, 4.0], vec![4.0, 0.0]]);
        assert_eq!(m, vec![Some(1), Some(0)]);
    }

    #[test]
    fn rttm_parses_and_rejects_bad_lines() {
        let t = parse_rttm(
            ";; comment\nSPEAKER f 1 0.50 1.25 <NA> <NA> A <NA> <NA>\nSPKR-INFO f 1 <NA> <NA> <NA> unknown A <NA>\n",
        )
        .unwrap();
        assert_eq!(t, vec![turn(0.5, 1.75, "A")]);
        assert!(parse_rttm("SPEAKER f 1 x 1 <NA> <NA> A\n").is_err());
        // Notes are not an RTTM file with no turns.
        let notes = parse_rttm("Meeting notes\nFrance spoke first.\n").unwrap_err();
        assert!(
            notes.contains("line 1") && notes.contains("not an RTTM record"),
            "{notes}"
        );
    }
}
