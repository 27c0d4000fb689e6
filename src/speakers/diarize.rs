//! From window voiceprints to speaker turns: average-linkage agglomerative clustering on cosine
//! distance (the number of speakers follows from a distance threshold unless it is given),
//! small clusters dissolved into their nearest neighbour, every 10 ms frame of speech labelled
//! by the windows covering it, and short flips smoothed away. Optionally, the moments around a
//! change of speaker are given to both (overlapped speech).

use std::ops::Range;

use super::embed::WindowEmbedding;

/// Frames are labelled every 10 ms.
const FRAME_S: f64 = 0.01;
/// At most this many windows are clustered (a 3000 x 3000 distance matrix is 36 MB); longer
/// recordings cluster an even subsample and assign every window to the nearest centroid.
const MAX_CLUSTERED: usize = 3000;

/// Less speech than this is all given to one speaker.
pub const MIN_SPEECH_TO_SEPARATE_S: f64 = 2.0;

/// How speakers are told apart. Defaults were calibrated across the shared AMI far-field,
/// pyannote, pyAudioAnalysis and Picovoice recordings (see bench/README.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DiarizeParams {
    /// Clusters closer than this average cosine distance are one speaker.
    pub threshold: f32,
    /// Exactly this many speakers (overrides the threshold).
    pub speakers: Option<usize>,
    pub min_speakers: usize,
    pub max_speakers: usize,
    /// Clusters with less speech than this are merged into the nearest other cluster.
    pub min_speaker_s: f64,
    /// Runs of one speaker shorter than this inside a stretch of speech are relabelled.
    pub min_turn_s: f64,
    /// Seconds on each side of a speaker change without a pause given to both speakers, as
    /// overlapped speech (0: off; see bench/README.md for what it gains on far-field meetings
    /// and costs on clean ones).
    pub overlap_at_changes_s: f64,
}

impl Default for DiarizeParams {
    fn default() -> Self {
        DiarizeParams {
            threshold: 0.3,
            speakers: None,
            min_speakers: 1,
            max_speakers: 20,
            min_speaker_s: 3.0,
            min_turn_s: 0.5,
            overlap_at_changes_s: 0.0,
        }
    }
}

impl DiarizeParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=2.0).contains(&self.threshold) {
            return Err(format!(
                "--speaker-threshold ({}) must lie between 0 and 2 (a cosine distance)",
                self.threshold
            ));
        }
        if !(0.0..=5.0).contains(&self.overlap_at_changes_s) {
            return Err(format!(
                "--overlap-at-changes ({}) must lie between 0 and 5 seconds",
                self.overlap_at_changes_s
            ));
        }
        if self.speakers == Some(0) || self.min_speakers == 0 || self.max_speakers == 0 {
            return Err("speaker counts must be at least 1".into());
        }
        if self.min_speakers > self.max_speakers {
            return Err(format!(
                "--min-speakers ({}) is more than --max-speakers ({})",
                self.min_speakers, self.max_speakers
            ));
        }
        Ok(())
    }
}

/// One speaker found: the mean of its windows' voiceprints (unit length).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerCluster {
    pub centroid: Vec<f32>,
    /// Seconds of speech labelled with this speaker.
    pub speech_s: f64,
}

/// A turn of one speaker; `speaker` indexes [`Diarized::speakers`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerTurn {
    pub start: f64,
    pub end: f64,
    pub speaker: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diarized {
    /// In order of first appearance.
    pub speakers: Vec<SpeakerCluster>,
    /// In order of start. Overlapped speech has two turns over the same time.
    pub turns: Vec<SpeakerTurn>,
    pub speech_s: f64,
    pub overlap_s: f64,
}

/// Label `regions` of speech (seconds) with speakers, from the voiceprints of `windows`
/// (ordered by start).
pub fn diarize(windows: &[WindowEmbedding], regions: &[Range<f64>], p: &DiarizeParams) -> Diarized {
    if windows.is_empty() || regions.is_empty() {
        return Diarized::default();
    }
    let speech: f64 = regions.iter().map(|r| r.end - r.start).sum();
    // Under 2 s of speech there is not enough voice to tell speakers apart: one speaker.
    let labels = if speech < MIN_SPEECH_TO_SEPARATE_S {
        vec![0; windows.len()]
    } else {
        cluster_windows(windows, p)
    };
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let centroids: Vec<Vec<f32>> = (0..k).map(|c| centroid(windows, &labels, c)).collect();
    // Every window's similarity to every speaker.
    let sims: Vec<Vec<f32>> = windows
        .iter()
        .map(|w| centroids.iter().map(|c| dot(&w.vector, c)).collect())
        .collect();

    let mut turns = Vec::new();
    let mut overlap_turns = Vec::new();
    let mut cover = Cover::new(windows);
    for region in regions {
        let n = ((region.end - region.start) / FRAME_S).round().max(1.0) as usize;
        let mut first = Vec::with_capacity(n);
        for f in 0..n {
            let t = region.start + (f as f64 + 0.5) * FRAME_S;
            first.push(best(&cover.scores(t, &sims, k)));
        }
        smooth(&mut first, (p.min_turn_s / FRAME_S).round() as usize);
        let at = |f: usize| region.start + f as f64 * FRAME_S;
        let region_runs = runs(&first);
        for (run, speaker) in &region_runs {
            turns.push(SpeakerTurn {
                start: at(run.start),
                end: at(run.end).min(region.end),
                speaker: *speaker,
            });
        }
        // Where one voice hands over to another without a pause, the two often overlap for a
        // moment (interruptions, back-channels): optionally give both speakers the frames
        // around the change.
        let w = p.overlap_at_changes_s;
        if w > 0.0 {
            for pair in region_runs.windows(2) {
                let ((a, sa), (b, sb)) = (&pair[0], &pair[1]);
                let change = at(a.end);
                overlap_turns.push(SpeakerTurn {
                    start: (change - w).max(at(a.start)),
                    end: change,
                    speaker: *sb,
                });
                overlap_turns.push(SpeakerTurn {
                    start: change,
                    end: (change + w).min(at(b.end)).min(region.end),
                    speaker: *sa,
                });
            }
        }
    }
    let overlap_s = overlap_turns.iter().map(|t| t.end - t.start).sum();
    let speech_s = turns.iter().map(|t| t.end - t.start).sum();
    turns.extend(overlap_turns);
    turns.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));

    // Renumber by first appearance; clusters left without turns disappear.
    let mut order: Vec<usize> = Vec::new();
    for t in &turns {
        if !order.contains(&t.speaker) {
            order.push(t.speaker);
        }
    }
    let mut speakers: Vec<SpeakerCluster> = order
        .iter()
        .map(|&c| SpeakerCluster {
            centroid: centroids[c].clone(),
            speech_s: 0.0,
        })
        .collect();
    for t in &mut turns {
        t.speaker = order.iter().position(|&c| c == t.speaker).unwrap_or(0);
        speakers[t.speaker].speech_s += t.end - t.start;
    }
    Diarized {
        speakers,
        turns,
        speech_s,
        overlap_s,
    }
}

/// Cluster labels (0..k) for every window.
fn cluster_windows(windows: &[WindowEmbedding], p: &DiarizeParams) -> Vec<usize> {
    let n = windows.len();
    let step = n.div_ceil(MAX_CLUSTERED);
    let sample: Vec<usize> = (0..n).step_by(step).collect();
    let vectors: Vec<&[f32]> = sample
        .iter()
        .map(|&i| windows[i].vector.as_slice())
        .collect();
    let merges = average_linkage(&vectors);
    let m = vectors.len();
    let hop_s = super::embed::HOP_FRAMES as f64 * super::ge2e::HOP as f64 / 16_000.0;
    let window_s = hop_s * step as f64;
    // Speaker counts (and their bounds) count only clusters with enough speech to be a
    // speaker: otherwise a brief odd-sounding moment (a laugh, a cough) is "the second
    // speaker" and two real voices are merged to make room for it.
    let real = |k: usize| {
        let labels = cut(&merges, m, k);
        let mut sizes = vec![0usize; k];
        for &l in &labels {
            sizes[l] += 1;
        }
        sizes
            .iter()
            .filter(|&&n| n as f64 * window_s >= p.min_speaker_s)
            .count()
    };
    let floor = p.speakers.unwrap_or(p.min_speakers).min(m);
    let ceiling = p.speakers.unwrap_or(p.max_speakers).max(1);
    let mut k = (m - merges.iter().filter(|x| x.2 <= p.threshold).count()).clamp(1, m);
    if let Some(n) = p.speakers {
        k = (1..=m).find(|&k| real(k) >= n).unwrap_or(n.min(m));
    } else {
        while k < m && real(k) < floor {
            k += 1;
        }
        while k > 1 && real(k) > ceiling {
            k -= 1;
        }
    }
    let mut labels = cut(&merges, m, k);
    // Dissolve clusters with too little speech into their nearest neighbour, smallest first,
    // while more speakers remain than the user asked for at least (and any beyond the most
    // they allowed).
    let sampled: Vec<WindowEmbedding> = sample.iter().map(|&i| windows[i].clone()).collect();
    loop {
        let k = labels.iter().max().map_or(0, |m| m + 1);
        if k <= floor.max(1) {
            break;
        }
        let mut sizes = vec![0usize; k];
        for &l in &labels {
            sizes[l] += 1;
        }
        let (smallest, &size) = sizes
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| **s)
            .expect("k > 0");
        if size as f64 * window_s >= p.min_speaker_s && k <= ceiling {
            break;
        }
        let centroids: Vec<Vec<f32>> = (0..k).map(|c| centroid(&sampled, &labels, c)).collect();
        for (i, l) in labels.iter_mut().enumerate() {
            if *l == smallest {
                *l = nearest(vectors[i], &centroids, Some(smallest));
            }
        }
        // Close the gap in the numbering.
        for l in labels.iter_mut() {
            if *l > smallest {
                *l -= 1;
            }
        }
    }

    if step == 1 {
        return labels;
    }
    // Assign every window of a subsampled recording to its nearest centroid.
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let centroids: Vec<Vec<f32>> = (0..k).map(|c| centroid(&sampled, &labels, c)).collect();
    windows
        .iter()
        .map(|w| nearest(&w.vector, &centroids, None))
        .collect()
}

/// Average-linkage agglomerative clustering by the nearest-neighbour chain algorithm
/// (O(n^2) time, one n x n matrix). Returns the n - 1 merges as (a, b, distance), where a and b
/// are representative point indices, in order of distance.
pub fn average_linkage(vectors: &[&[f32]]) -> Vec<(usize, usize, f32)> {
    let n = vectors.len();
    let mut d = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v = 1.0 - dot(vectors[i], vectors[j]);
            d[i * n + j] = v;
            d[j * n + i] = v;
        }
    }
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut remaining = n;
    let mut chain: Vec<usize> = Vec::new();
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    while remaining > 1 {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).expect("clusters remain"));
        }
        let a = *chain.last().expect("non-empty");
        let prev = if chain.len() >= 2 {
            Some(chain[chain.len() - 2])
        } else {
            None
        };
        // Nearest active neighbour of a; on ties, prefer the previous link (ensures progress).
        let mut best = prev.unwrap_or(usize::MAX);
        let mut best_d = prev.map_or(f32::INFINITY, |p| d[a * n + p]);
        for c in 0..n {
            if active[c] && c != a && d[a * n + c] < best_d {
                best = c;
                best_d = d[a * n + c];
            }
        }
        if Some(best) == prev {
            chain.pop();
            chain.pop();
            let b = best;
            // Merge b into a.
            let (sa, sb) = (size[a] as f32, size[b] as f32);
            for c in 0..n {
                if active[c] && c != a && c != b {
                    let v = (sa * d[a * n + c] + sb * d[b * n + c]) / (sa + sb);
                    d[a * n + c] = v;
                    d[c * n + a] = v;
                }
            }
            size[a] += size[b];
            active[b] = false;
            remaining -= 1;
            merges.push((a, b, best_d));
        } else {
            chain.push(best);
        }
    }
    // Average linkage has no inversions, so sorting gives a valid merge order.
    merges.sort_by(|x, y| x.2.total_cmp(&y.2));
    merges
}

/// Labels 0..k (in order of first point) after applying the first n - k merges.
fn cut(merges: &[(usize, usize, f32)], n: usize, k: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &(a, b, _) in merges.iter().take(n.saturating_sub(k.max(1))) {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[rb] = ra;
    }
    let mut ids: Vec<usize> = Vec::new();
    (0..n)
        .map(|i| {
            let r = find(&mut parent, i);
            match ids.iter().position(|&x| x == r) {
                Some(p) => p,
                None => {
                    ids.push(r);
                    ids.len() - 1
                }
            }
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Unit-length mean of the windows labelled `c`.
fn centroid(windows: &[WindowEmbedding], labels: &[usize], c: usize) -> Vec<f32> {
    let dim = windows.first().map_or(0, |w| w.vector.len());
    let mut sum = vec![0f32; dim];
    for (w, _) in windows.iter().zip(labels).filter(|(_, &l)| l == c) {
        for (s, v) in sum.iter_mut().zip(&w.vector) {
            *s += v;
        }
    }
    normalise(sum)
}

pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn nearest(v: &[f32], centroids: &[Vec<f32>], except: Option<usize>) -> usize {
    centroids
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .max_by(|a, b| dot(v, a.1).total_cmp(&dot(v, b.1)))
        .map_or(0, |(i, _)| i)
}

fn best(scores: &[f32]) -> usize {
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    best
}

/// Which windows cover a time, found with a moving cursor (frames come in order of time within
/// a region, and regions in order).
struct Cover<'a> {
    windows: &'a [WindowEmbedding],
    /// No window before this index ends after the current time.
    lo: usize,
    last_t: f64,
}

impl<'a> Cover<'a> {
    fn new(windows: &'a [WindowEmbedding]) -> Cover<'a> {
        Cover {
            windows,
            lo: 0,
            last_t: f64::NEG_INFINITY,
        }
    }

    /// Mean similarity to each speaker of the windows covering `t`, or of the nearest window
    /// when none does.
    fn scores(&mut self, t: f64, sims: &[Vec<f32>], k: usize) -> Vec<f32> {
        if t < self.last_t {
            self.lo = 0;
        }
        self.last_t = t;
        // Windows are at most 1.6 s long and ordered by start.
        while self.lo < self.windows.len() && self.windows[self.lo].start < t - 2.0 {
            self.lo += 1;
        }
        let mut sum = vec![0f32; k];
        let mut count = 0;
        for (i, w) in self.windows.iter().enumerate().skip(self.lo) {
            if w.start > t {
                break;
            }
            if w.end > t {
                for (s, v) in sum.iter_mut().zip(&sims[i]) {
                    *s += v;
                }
                count += 1;
            }
        }
        if count > 0 {
            return sum.iter().map(|s| s / count as f32).collect();
        }
        let i = self
            .windows
            .partition_point(|w| w.centre() < t)
            .min(self.windows.len() - 1);
        let j = i.saturating_sub(1);
        let pick = if (self.windows[j].centre() - t).abs() < (self.windows[i].centre() - t).abs() {
            j
        } else {
            i
        };
        sims[pick].clone()
    }
}

/// Runs of equal labels: (frames, label).
fn runs(labels: &[usize]) -> Vec<(Range<usize>, usize)> {
    let mut out: Vec<(Range<usize>, usize)> = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        match out.last_mut() {
            Some((r, last)) if *last == l => r.end = i + 1,
            _ => out.push((i..i + 1, l)),
        }
    }
    out
}

/// Relabel runs shorter than `min_len` frames with a neighbouring label, shortest first, until
/// every run is long enough or the stretch is a single run.
fn smooth(labels: &mut [usize], min_len: usize) {
    loop {
        let r = runs(labels);
        if r.len() < 2 {
            return;
        }
        let Some((idx, _)) = r
            .iter()
            .enumerate()
            .filter(|(_, (run, _))| run.len() < min_len)
            .min_by_key(|(_, (run, _))| run.len())
        else {
            return;
        };
        let neighbour = match (idx.checked_sub(1).map(|i| &r[i]), r.get(idx + 1)) {
            (Some(a), Some(b)) => {
                if a.0.len() >= b.0.len() {
                    a.1
                } else {
                    b.1
                }
            }
            (Some(a), None) => a.1,
            (None, Some(b)) => b.1,
            (None, None) => return,
        };
        for l in &mut labels[r[idx].0.clone()] {
            *l = neighbour;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        normalise(v.to_vec())
    }

    fn window(start: f64, v: &[f32]) -> WindowEmbedding {
        WindowEmbedding {
            start,
            end: start + 1.6,
            vector: unit(v),
        }
    }

    #[test]
    fn average_linkage_merges_closest_groups_first() {
        let pts: Vec<Vec<f32>> = vec![
            unit(&[1.0, 0.0, 0.0]),
            unit(&[0.99, 0.1, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.1, 0.99, 0.0]),
            unit(&[0.0, 0.0, 1.0]),
        ];
        let refs: Vec<&[f32]> = pts.iter().map(|v| v.as_slice()).collect();
        let merges = average_linkage(&refs);
        assert_eq!(merges.len(), 4);
        assert!(merges.windows(2).all(|w| w[0].2 <= w[1].2));
        assert_eq!(cut(&merges, 5, 3), vec![0, 0, 1, 1, 2]);
        assert_eq!(cut(&merges, 5, 1), vec![0; 5]);
        assert_eq!(cut(&merges, 5, 5), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn two_voices_give_two_speakers_with_turns_in_order() {
        let a = [1.0, 0.1, 0.0];
        let b = [0.1, 1.0, 0.0];
        // A speaks 0-10 s, B 10-20 s, A again 20-26 s.
        let mut windows = Vec::new();
        let mut t = 0.0;
        while t + 1.6 <= 26.0 {
            let v = if (10.0..20.0).contains(&(t + 0.8)) {
                b
            } else {
                a
            };
            windows.push(window(t, &v));
            t += 0.75;
        }
        let d = diarize(&windows, &[0.0..26.0], &DiarizeParams::default());
        assert_eq!(d.speakers.len(), 2);
        let labels: Vec<usize> = d.turns.iter().map(|t| t.speaker).collect();
        assert_eq!(labels, vec![0, 1, 0]);
        assert!((d.turns[1].start - 10.0).abs() < 0.8, "{:?}", d.turns);
        assert!((d.speech_s - 26.0).abs() < 0.02);
        assert_eq!(d.overlap_s, 0.0);
    }

    #[test]
    fn speaker_bounds_override_the_threshold() {
        let mut windows = Vec::new();
        for i in 0..30 {
            let v = match i / 10 {
                0 => [1.0, 0.0, 0.0],
                1 => [0.0, 1.0, 0.0],
                _ => [0.0, 0.0, 1.0],
            };
            windows.push(window(i as f64 * 0.75, &v));
        }
        let regions = [0.0..23.0];
        let count = |p: DiarizeParams| diarize(&windows, &regions, &p).speakers.len();
        assert_eq!(count(DiarizeParams::default()), 3);
        let p = DiarizeParams {
            max_speakers: 2,
            ..Default::default()
        };
        assert_eq!(count(p), 2);
        let p = DiarizeParams {
            speakers: Some(1),
            ..Default::default()
        };
        assert_eq!(count(p), 1);
        // One voice throughout, but at least two asked for: the closest split is made.
        let same: Vec<WindowEmbedding> = (0..20)
            .map(|i| window(i as f64 * 0.75, &[1.0, 0.01 * (i % 3) as f32, 0.0]))
            .collect();
        let p = DiarizeParams {
            min_speakers: 2,
            min_speaker_s: 0.0,
            ..Default::default()
        };
        assert_eq!(diarize(&same, &[0.0..16.0], &p).speakers.len(), 2);
    }

    #[test]
    fn a_voice_heard_for_a_moment_is_not_a_speaker() {
        let mut windows: Vec<WindowEmbedding> = (0..20)
            .map(|i| window(i as f64 * 0.75, &[1.0, 0.0]))
            .collect();
        windows.push(window(15.0, &[0.0, 1.0]));
        windows.sort_by(|a, b| a.start.total_cmp(&b.start));
        let d = diarize(&windows, &[0.0..16.6], &DiarizeParams::default());
        assert_eq!(d.speakers.len(), 1);
    }

    #[test]
    fn short_flips_are_smoothed() {
        let mut l = vec![0; 100];
        l.extend(vec![1; 20]);
        l.extend(vec![0; 100]);
        smooth(&mut l, 50);
        assert!(l.iter().all(|&x| x == 0));
        let mut l = vec![0; 100];
        l.extend(vec![1; 80]);
        smooth(&mut l, 50);
        assert_eq!(runs(&l).len(), 2);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert_eq!(
            diarize(&[], &[0.0..1.0], &DiarizeParams::default()),
            Diarized::default()
        );
    }
}
