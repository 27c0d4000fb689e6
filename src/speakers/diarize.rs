//! Who spoke when, after pyannote's 3.x recipe, with each second of speech embedded once.
//!
//! 1. A segmentation model finds up to three local speakers (two at once) in 10 s windows every
//!    [`WINDOW_STEP_S`].
//! 2. Local speakers are linked from window to window by the frames they share into tracks: a
//!    track is one voice as long as it keeps speaking within sight of the next window.
//! 3. Each track's frames where it speaks alone are embedded by CAM++ in pieces of at most
//!    [`PIECE_S`] of speech. pyannote embeds every local speaker of every window instead, each
//!    second up to 30 times (0.045 of real time in the Python prototype at 1 thread).
//! 4. Pieces are clustered into speakers ([`cluster`]).
//! 5. Every frame takes the speakers of the local speakers active there, as many as the
//!    segmentation counts on average over the windows covering it: so two may speak at once.
//!
//! Audio arrives in blocks and leaves after the windows that need it: memory holds about
//! 30 s of audio and fbank, plus 3 bytes per frame per window and 8 bytes per frame.

use std::ops::Range;

use super::campplus::{FBANK_BINS, FBANK_HOP, FBANK_LEN};
use super::cluster::{self, CountRule};
use super::segmentation::{
    FRAMES_PER_WINDOW, FRAME_SPAN_SAMPLES, FRAME_STEP_SAMPLES, LOCAL_SPEAKERS, WINDOW_SAMPLES,
};
use crate::error::Result;

const SAMPLE_RATE: f64 = 16_000.0;
/// Seconds between the starts of consecutive segmentation windows (pyannote's 3.1 recipe: 1 s).
pub const WINDOW_STEP_S: f64 = 1.0;
const WINDOW_STEP_SAMPLES: usize = (WINDOW_STEP_S * SAMPLE_RATE) as usize;
/// Windows given to the segmentation model at once: two of its batches of 16, one per core.
const SEGMENT_BATCH: usize = 32;
/// Seconds of one track's solo speech embedded together. Measured on the shared sets
/// (pyannote / AMI / pyAudioAnalysis DER): 10 s gave 0.99 / 18.8 / 18.7 %, 5 s 0.99 / 18.6 /
/// 18.2 % (one more pyAudioAnalysis speaker found).
pub const PIECE_S: f64 = 5.0;
const PIECE_FRAMES: usize = (PIECE_S * 100.0) as usize;
/// A track silent for longer than this (2 s) starts a new piece: the segmentation model's own
/// claim that a voice heard again after a pause is the same one is its weakest (joined, the
/// fourth pyAudioAnalysis speaker hid inside the third's piece: 23.5 % DER, against 18.7 %
/// with a new piece after 2 s, and 1 s split the pyannote call's pieces too finely: 2.0 %).
const PIECE_GAP_FRAMES: usize = 200;
/// A piece with less solo speech than this is too short to say whose voice it is: it takes
/// the speaker of a longer piece of its own track, or, in a track of its own, is assigned to
/// the nearest speaker after clustering without shaping the clusters.
/// (0.3 s: at 1 s, brief AMI speakers never formed a cluster: 20.0 % against 18.2 %.)
const CLUSTERED_PIECE_FRAMES: usize = 30;
/// Pieces embedded together.
const EMBED_BATCH: usize = 8;
/// Local speakers of consecutive windows sharing fewer active frames than this (0.17 s) are
/// not taken for one voice.
const MIN_LINK_FRAMES: usize = 10;
/// Quiet far-field voices: the model's input normalisation has a floor (eps 1e-5 on the
/// variance, -50 dBFS), so windows are raised to at least this RMS first.
const MIN_RMS: f32 = 0.03;
const MAX_GAIN: f32 = 1000.0;

/// Less speech than this is all given to one speaker.
pub const MIN_SPEECH_TO_SEPARATE_S: f64 = 2.0;

/// Seconds per segmentation frame.
const FRAME_S: f64 = FRAME_STEP_SAMPLES as f64 / SAMPLE_RATE;
/// The middle of frame 0 of a window, in seconds from the window's start.
const FRAME_MIDDLE_S: f64 = FRAME_SPAN_SAMPLES as f64 / 2.0 / SAMPLE_RATE;

/// How speakers are told apart. Defaults were calibrated across the shared AMI far-field,
/// pyannote, pyAudioAnalysis and Picovoice recordings (see bench/README.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DiarizeParams {
    /// Clusters closer than this average cosine distance are one speaker.
    pub threshold: f32,
    /// This many speakers (overrides the threshold, but never cuts one voice in two).
    pub speakers: Option<usize>,
    pub min_speakers: usize,
    pub max_speakers: usize,
    /// Clusters with less speech than this are merged into the nearest other cluster.
    pub min_speaker_s: f64,
}

impl Default for DiarizeParams {
    fn default() -> Self {
        DiarizeParams {
            // `bench/der` sweep (pyannote / AMI / pyAudioAnalysis DER, before pieces were chosen
            // by time and the 1.75 s speaker floor): 0.30 0.99 / 25.2 / 22.5,
            // 0.35 0.99 / 17.0 / 18.2, 0.40-0.55 0.99 / 18.5 / 18.2, 0.60 0.99 / 18.5 / 23.4,
            // 0.70 0.99 / 19.3 / 33.5. The bundled sample's synthetic voices (not evidence,
            // but a user's first run) keep their five speakers up to 0.40 only.
            threshold: 0.4,
            speakers: None,
            min_speakers: 1,
            max_speakers: 40,
            // A cluster needs this much speech to be a speaker (`bench/der`, pyannote / AMI /
            // pyAudioAnalysis DER): 1.0 s 8.0 / 18.2 / 9.6 % (a third speaker made of the call's
            // last 1.5 s), 1.5-2.0 s 0.99 / 18.2 / 11.3 %, 2.5 s 0.99 / 19.7 / 11.3 %, 3.0 s (the
            // GE2E setting) 0.99 / 18.8 / 18.7 %.
            min_speaker_s: 1.75,
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

    fn count_rule(&self) -> CountRule {
        CountRule {
            threshold: self.threshold,
            speakers: self.speakers,
            min_speakers: self.min_speakers,
            max_speakers: self.max_speakers,
            min_speaker_s: self.min_speaker_s,
        }
    }
}

/// Finds local speakers in 10 s windows (pyannote segmentation-3.0).
pub trait LocalSpeakers {
    /// Per window `audio[start..start + WINDOW_SAMPLES]` (zero-padded past the end), per
    /// frame, which of the three local speakers speak.
    fn activity(&self, audio: &[f32], starts: &[usize])
        -> Result<Vec<Vec<[bool; LOCAL_SPEAKERS]>>>;
}

/// Voiceprints of utterances given as fbank frames (CAM++).
pub trait Voiceprints {
    fn voiceprints(&self, utterances: &[&[[f32; FBANK_BINS]]]) -> Result<Vec<Option<Vec<f32>>>>;
}

/// One speaker found: the mean of its pieces' voiceprints (unit length).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerCluster {
    pub centroid: Vec<f32>,
    /// Seconds of speech labelled with this speaker (overlapped speech counts for both).
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
    /// Seconds with at least one speaker.
    pub speech_s: f64,
    /// Seconds with two speakers at once.
    pub overlap_s: f64,
}

/// One window's local speakers.
struct Window {
    /// Its first frame on the recording's frame clock.
    first_frame: usize,
    activity: Vec<[bool; LOCAL_SPEAKERS]>,
    /// The track of each active local speaker.
    track: [Option<usize>; LOCAL_SPEAKERS],
}

/// Solo speech of one track, embedded once it is full or the track ends.
struct Piece {
    track: usize,
    frames: Vec<[f32; FBANK_BINS]>,
    solo_frames: usize,
    /// The fbank frame indices of its first and last solo frames.
    first_frame: usize,
    last_frame: usize,
    voiceprint: Option<Vec<f32>>,
}

/// Streams a recording's audio through segmentation and voiceprints; [`Diarizer::finish`]
/// clusters and gives the turns.
pub struct Diarizer<'m, S: LocalSpeakers, V: Voiceprints> {
    segmenter: &'m S,
    embedder: &'m V,
    params: DiarizeParams,
    /// Audio from sample `audio_at` on, kept until every window that needs it has run.
    audio: Vec<f32>,
    audio_at: usize,
    received: usize,
    /// Fbank frames from frame `fbank_at` on, and samples not yet framed.
    fbank: Vec<[f32; FBANK_BINS]>,
    fbank_at: usize,
    fbank_pending: Vec<f32>,
    windows: Vec<Window>,
    /// The track each local speaker of the last window belongs to.
    last_tracks: [Option<usize>; LOCAL_SPEAKERS],
    /// Per track, the piece being filled.
    open_piece: Vec<usize>,
    pieces: Vec<Piece>,
    /// Pieces full or ended, waiting for voiceprints.
    queued: Vec<usize>,
    /// Per recording frame: local speakers active summed over the windows covering it, and
    /// how many windows cover it.
    count_sum: Vec<f32>,
    covered: Vec<u16>,
}

impl<'m, S: LocalSpeakers, V: Voiceprints> Diarizer<'m, S, V> {
    pub fn new(segmenter: &'m S, embedder: &'m V, params: DiarizeParams) -> Self {
        Diarizer {
            segmenter,
            embedder,
            params,
            audio: Vec::new(),
            audio_at: 0,
            received: 0,
            fbank: Vec::new(),
            fbank_at: 0,
            fbank_pending: Vec::new(),
            windows: Vec::new(),
            last_tracks: [None; LOCAL_SPEAKERS],
            open_piece: Vec::new(),
            pieces: Vec::new(),
            queued: Vec::new(),
            count_sum: Vec::new(),
            covered: Vec::new(),
        }
    }

    /// Seconds of audio heard so far.
    pub fn heard_s(&self) -> f64 {
        self.received as f64 / SAMPLE_RATE
    }

    /// Add the next block of the recording (16 kHz mono).
    pub fn push(&mut self, block: &[f32]) -> Result<()> {
        self.audio.extend_from_slice(block);
        self.received += block.len();
        self.fbank_pending.extend_from_slice(block);
        self.make_fbank();
        loop {
            let next = self.windows.len();
            let last_needed = (next + SEGMENT_BATCH - 1) * WINDOW_STEP_SAMPLES + WINDOW_SAMPLES;
            if self.received < last_needed {
                return Ok(());
            }
            let batch: Vec<usize> = (next..next + SEGMENT_BATCH).collect();
            self.run_windows(&batch, false)?;
        }
    }

    /// Frame whatever whole fbank frames the pending samples hold.
    fn make_fbank(&mut self) {
        if self.fbank_pending.len() < FBANK_LEN {
            return;
        }
        let n = 1 + (self.fbank_pending.len() - FBANK_LEN) / FBANK_HOP;
        let frames = super::campplus::fbank(&self.fbank_pending[..(n - 1) * FBANK_HOP + FBANK_LEN]);
        debug_assert_eq!(frames.len(), n);
        self.fbank.extend(frames);
        self.fbank_pending.drain(..n * FBANK_HOP);
    }

    /// Window starts of the whole recording, as pyannote places them: every step while a
    /// whole window fits, then one zero-padded window for the rest.
    fn window_count(samples: usize) -> usize {
        if samples == 0 {
            return 0;
        }
        if samples < WINDOW_SAMPLES {
            return 1;
        }
        let full = 1 + (samples - WINDOW_SAMPLES) / WINDOW_STEP_SAMPLES;
        full + usize::from(!(samples - WINDOW_SAMPLES).is_multiple_of(WINDOW_STEP_SAMPLES))
    }

    fn first_frame(window: usize) -> usize {
        (window as f64 * WINDOW_STEP_S / FRAME_S).round_ties_even() as usize
    }

    /// The recording frames window `w` is the nearest window for: each frame's solo speech
    /// goes into one piece only.
    fn owned_frames(window: usize, last: Option<usize>) -> Range<usize> {
        let centre = |w: usize| Self::first_frame(w) + FRAMES_PER_WINDOW / 2;
        let lo = if window == 0 {
            0
        } else {
            (centre(window - 1) + centre(window)) / 2
        };
        let hi = if Some(window) == last {
            Self::first_frame(window) + FRAMES_PER_WINDOW
        } else {
            (centre(window) + centre(window + 1)) / 2
        };
        lo..hi
    }

    fn run_windows(&mut self, batch: &[usize], at_end: bool) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let last = at_end.then(|| *batch.last().expect("non-empty"));
        let span_start = batch[0] * WINDOW_STEP_SAMPLES;
        let starts: Vec<usize> = batch
            .iter()
            .map(|w| w * WINDOW_STEP_SAMPLES - span_start)
            .collect();
        let from = span_start - self.audio_at;
        let to = (batch[batch.len() - 1] * WINDOW_STEP_SAMPLES + WINDOW_SAMPLES - self.audio_at)
            .min(self.audio.len());
        let audio = raised(&self.audio[from..to]);
        let activities = self.segmenter.activity(&audio, &starts)?;
        for (&w, activity) in batch.iter().zip(activities) {
            self.take_window(w, activity, last)?;
        }
        // Audio before the next window is no longer needed.
        let next = batch[batch.len() - 1] + 1;
        let keep_from = (next * WINDOW_STEP_SAMPLES).min(self.received);
        self.audio.drain(..keep_from - self.audio_at);
        self.audio_at = keep_from;
        if self.queued.len() >= EMBED_BATCH {
            self.embed_queued()?;
        }
        Ok(())
    }

    fn take_window(
        &mut self,
        w: usize,
        activity: Vec<[bool; LOCAL_SPEAKERS]>,
        last: Option<usize>,
    ) -> Result<()> {
        let first = Self::first_frame(w);
        if self.count_sum.len() < first + FRAMES_PER_WINDOW {
            self.count_sum.resize(first + FRAMES_PER_WINDOW, 0.0);
            self.covered.resize(first + FRAMES_PER_WINDOW, 0);
        }
        for (i, a) in activity.iter().enumerate() {
            self.count_sum[first + i] += a.iter().filter(|&&x| x).count() as f32;
            self.covered[first + i] += 1;
        }
        let tracks = self.link(first, &activity);
        // This window's owned solo frames go into the open piece of each track.
        let owned = Self::owned_frames(w, last);

        let (t0, t1) = (owned.start as f64 * FRAME_S, owned.end as f64 * FRAME_S);
        // Fbank frame f is heard around 0.0125 + 0.01 f s; it takes the segmentation frame
        // whose middle is nearest.
        let f_lo = ((t0 - 0.0125) / 0.01).ceil().max(0.0) as usize;
        let f_hi = ((t1 - 0.0125) / 0.01).ceil().max(0.0) as usize;
        for (j, track) in tracks.iter().enumerate() {
            let Some(track) = *track else { continue };
            for f in f_lo.max(self.fbank_at)..f_hi.min(self.fbank_at + self.fbank.len()) {
                let t = 0.0125 + 0.01 * f as f64;
                let g = ((t - FRAME_MIDDLE_S) / FRAME_S).round().max(0.0) as usize;
                let Some(a) = g.checked_sub(first).and_then(|i| activity.get(i)) else {
                    continue;
                };
                if a[j] && a.iter().filter(|&&x| x).count() == 1 {
                    let frame = self.fbank[f - self.fbank_at];
                    let mut p = self.open_piece[track];
                    if !self.pieces[p].frames.is_empty()
                        && f > self.pieces[p].last_frame + PIECE_GAP_FRAMES
                    {
                        self.queued.push(p);
                        p = self.new_piece(track);
                        self.open_piece[track] = p;
                    }
                    if self.pieces[p].frames.is_empty() {
                        self.pieces[p].first_frame = f;
                    }
                    self.pieces[p].last_frame = f;
                    self.pieces[p].frames.push(frame);
                    self.pieces[p].solo_frames += 1;
                    if self.pieces[p].frames.len() >= PIECE_FRAMES {
                        self.queued.push(p);
                        self.open_piece[track] = self.new_piece(track);
                    }
                }
            }
        }
        // Fbank frames before the next window's owned frames are no longer needed.
        let next_lo = Self::owned_frames(w + 1, None).start as f64 * FRAME_S;
        let keep = (((next_lo - 0.0125) / 0.01).floor().max(0.0) as usize)
            .clamp(self.fbank_at, self.fbank_at + self.fbank.len());
        self.fbank.drain(..keep - self.fbank_at);
        self.fbank_at = keep;
        self.windows.push(Window {
            first_frame: first,
            activity,
            track: tracks,
        });
        Ok(())
    }

    fn new_piece(&mut self, track: usize) -> usize {
        self.pieces.push(Piece {
            track,
            frames: Vec::new(),
            solo_frames: 0,
            first_frame: 0,
            last_frame: 0,
            voiceprint: None,
        });
        self.pieces.len() - 1
    }

    /// Tracks of this window's local speakers: each continues the track of the previous
    /// window's local speaker it shares most active frames with (best one-to-one pairing), or
    /// starts a new one. Tracks not continued end, and their last piece is queued.
    fn link(
        &mut self,
        first: usize,
        activity: &[[bool; LOCAL_SPEAKERS]],
    ) -> [Option<usize>; LOCAL_SPEAKERS] {
        let active: Vec<bool> = (0..LOCAL_SPEAKERS)
            .map(|j| activity.iter().any(|a| a[j]))
            .collect();
        let mut shared = [[0usize; LOCAL_SPEAKERS]; LOCAL_SPEAKERS];
        if let Some(prev) = self.windows.last() {
            let shift = first - prev.first_frame;
            for (i, a) in activity.iter().enumerate() {
                let Some(b) = prev.activity.get(i + shift) else {
                    break;
                };
                for (pj, row) in shared.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        if b[pj] && a[j] {
                            *cell += 1;
                        }
                    }
                }
            }
        }
        // The best of the 6 pairings of three local speakers.
        const PAIRINGS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let score = |p: &[usize; 3]| -> usize {
            (0..3)
                .map(|j| shared[p[j]][j])
                .filter(|&s| s >= MIN_LINK_FRAMES)
                .sum()
        };
        let best = PAIRINGS
            .iter()
            .max_by_key(|p| score(p))
            .expect("six pairings");
        let mut tracks = [None; LOCAL_SPEAKERS];
        let mut continued = [false; LOCAL_SPEAKERS];
        for j in 0..LOCAL_SPEAKERS {
            if !active[j] {
                continue;
            }
            let pj = best[j];
            tracks[j] = match self.last_tracks[pj] {
                Some(t) if shared[pj][j] >= MIN_LINK_FRAMES => {
                    continued[pj] = true;
                    Some(t)
                }
                _ => {
                    let t = self.open_piece.len();
                    self.open_piece.push(usize::MAX);
                    self.open_piece[t] = self.new_piece(t);
                    Some(t)
                }
            };
        }
        for (last, continued) in self.last_tracks.iter().zip(continued) {
            if let (Some(t), false) = (*last, continued) {
                self.queued.push(self.open_piece[t]);
            }
        }
        self.last_tracks = tracks;
        tracks
    }

    fn embed_queued(&mut self) -> Result<()> {
        let queued = std::mem::take(&mut self.queued);
        let ready: Vec<usize> = queued
            .into_iter()
            .filter(|&p| !self.pieces[p].frames.is_empty())
            .collect();
        let utterances: Vec<&[[f32; FBANK_BINS]]> = ready
            .iter()
            .map(|&p| self.pieces[p].frames.as_slice())
            .collect();
        let prints = self.embedder.voiceprints(&utterances)?;
        for (p, print) in ready.into_iter().zip(prints) {
            let piece = &mut self.pieces[p];
            piece.voiceprint = print.map(cluster::normalise);
            piece.frames = Vec::new();
        }
        Ok(())
    }

    /// Run the last windows, cluster, and give every frame its speakers.
    pub fn finish(mut self) -> Result<Diarized> {
        let total = Self::window_count(self.received);
        if self.fbank_pending.len() >= FBANK_LEN {
            self.make_fbank();
        }
        let rest: Vec<usize> = (self.windows.len()..total).collect();
        for chunk in rest.chunks(SEGMENT_BATCH) {
            let at_end = chunk.last() == Some(&(total - 1));
            self.run_windows(chunk, at_end)?;
        }
        for t in self.last_tracks.into_iter().flatten() {
            self.queued.push(self.open_piece[t]);
        }
        self.queued.sort_unstable();
        self.queued.dedup();
        self.embed_queued()?;
        Ok(self.reconstruct())
    }

    fn reconstruct(self) -> Diarized {
        let frames = self.count_sum.len();
        let count: Vec<u8> = self
            .count_sum
            .iter()
            .zip(&self.covered)
            .map(|(&s, &c)| {
                if c == 0 {
                    0
                } else {
                    (s / c as f32).round_ties_even().min(2.0) as u8
                }
            })
            .collect();
        let speech_frames = count.iter().filter(|&&c| c > 0).count();
        let piece_cluster = self.cluster_pieces(speech_frames as f64 * FRAME_S);
        let k = piece_cluster.iter().flatten().max().map_or(0, |m| m + 1);
        if k == 0 {
            return Diarized::default();
        }
        // Each track's pieces with speech, in order of time.
        let mut track_pieces: Vec<Vec<usize>> = vec![Vec::new(); self.open_piece.len()];
        for (p, piece) in self.pieces.iter().enumerate() {
            if piece.solo_frames > 0 && piece_cluster[p].is_some() {
                track_pieces[piece.track].push(p);
            }
        }
        // A local speaker's frame speaks with its track's piece nearest in time: a window
        // hears the track before and after a pause in which it may have become another voice
        // (the fourth pyAudioAnalysis speaker took the third's label for 4.4 s when each
        // window's local speaker took the piece being filled as the window ran).
        let nearest_piece = |track: usize, g: usize| -> Option<usize> {
            let pieces = &track_pieces[track];
            let t = g as f64 * FRAME_S + FRAME_MIDDLE_S;
            let f = ((t - 0.0125) / 0.01).round().max(0.0) as usize;
            let after = pieces.partition_point(|&p| self.pieces[p].first_frame <= f);
            let distance = |p: usize| {
                let piece = &self.pieces[p];
                if f < piece.first_frame {
                    piece.first_frame - f
                } else {
                    f.saturating_sub(piece.last_frame)
                }
            };
            [
                after.checked_sub(1),
                (after < pieces.len()).then_some(after),
            ]
            .into_iter()
            .flatten()
            .map(|i| pieces[i])
            .min_by_key(|&p| distance(p))
        };
        // Per frame and speaker: how many windows heard that speaker there.
        let mut heard = vec![0u16; frames * k];
        for w in &self.windows {
            for (i, a) in w.activity.iter().enumerate() {
                let mut seen = [usize::MAX; LOCAL_SPEAKERS];
                for j in 0..LOCAL_SPEAKERS {
                    if !a[j] {
                        continue;
                    }
                    let Some(c) = w.track[j]
                        .and_then(|t| nearest_piece(t, w.first_frame + i))
                        .and_then(|p| piece_cluster[p])
                    else {
                        continue;
                    };
                    if a[j] && !seen.contains(&c) {
                        seen[j] = c;
                        heard[(w.first_frame + i) * k + c] += 1;
                    }
                }
            }
        }
        // Each frame takes its `count` most heard speakers.
        let mut active = vec![false; frames * k];
        let mut order: Vec<usize> = (0..k).collect();
        for g in 0..frames {
            if count[g] == 0 {
                continue;
            }
            let row = &heard[g * k..(g + 1) * k];
            order.sort_by(|&a, &b| row[b].cmp(&row[a]).then(a.cmp(&b)));
            for &c in order.iter().take(count[g] as usize) {
                if row[c] > 0 {
                    active[g * k + c] = true;
                }
            }
        }
        // Runs of frames into turns, from the middle of the first frame to the middle of the
        // first frame after.
        let middle = |g: usize| g as f64 * FRAME_S + FRAME_MIDDLE_S;
        let mut turns = Vec::new();
        for c in 0..k {
            let mut start = None;
            for g in 0..=frames {
                let on = g < frames && active[g * k + c];
                match (on, start) {
                    (true, None) => start = Some(g),
                    (false, Some(s)) => {
                        turns.push(SpeakerTurn {
                            start: middle(s),
                            end: middle(g),
                            speaker: c,
                        });
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        turns.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.speaker.cmp(&b.speaker)));
        let mut speech_s = 0.0;
        let mut overlap_s = 0.0;
        for g in 0..frames {
            let n = active[g * k..(g + 1) * k].iter().filter(|&&x| x).count();
            if n >= 1 {
                speech_s += FRAME_S;
            }
            if n >= 2 {
                overlap_s += FRAME_S;
            }
        }
        // Centroids of the clusters, then renumbered by first appearance.
        // Every speaker has a piece with a voiceprint: clusters are made of them.
        let centroids: Vec<Vec<f32>> = (0..k)
            .map(|c| {
                cluster::weighted_mean(
                    self.pieces
                        .iter()
                        .zip(&piece_cluster)
                        .filter(|(_, pc)| **pc == Some(c))
                        .filter_map(|(p, _)| {
                            Some((p.voiceprint.as_deref()?, p.solo_frames as f32))
                        }),
                )
                .unwrap_or_default()
            })
            .collect();
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
            t.speaker = order.iter().position(|&c| c == t.speaker).expect("listed");
            speakers[t.speaker].speech_s += t.end - t.start;
        }
        Diarized {
            speakers,
            turns,
            speech_s,
            overlap_s,
        }
    }

    /// The speaker of every piece (None: a piece without voice in a track without voice).
    fn cluster_pieces(&self, speech_s: f64) -> Vec<Option<usize>> {
        let n = self.pieces.len();
        let mut out: Vec<Option<usize>> = vec![None; n];
        let long: Vec<usize> = (0..n)
            .filter(|&p| {
                self.pieces[p].voiceprint.is_some()
                    && self.pieces[p].solo_frames >= CLUSTERED_PIECE_FRAMES
            })
            .collect();
        let with_voice: Vec<usize> = (0..n)
            .filter(|&p| self.pieces[p].voiceprint.is_some())
            .collect();
        if with_voice.is_empty() {
            return out;
        }
        let clustered = if long.is_empty() { &with_voice } else { &long };
        let vectors: Vec<&[f32]> = clustered
            .iter()
            .map(|&p| self.pieces[p].voiceprint.as_deref().expect("has voice"))
            .collect();
        let seconds: Vec<f64> = clustered
            .iter()
            .map(|&p| self.pieces[p].solo_frames as f64 * 0.01)
            .collect();
        // Under 2 s of speech there is not enough voice to tell speakers apart.
        let labels = if speech_s < MIN_SPEECH_TO_SEPARATE_S {
            vec![0; vectors.len()]
        } else {
            cluster::cluster(&vectors, &seconds, &self.params.count_rule())
        };
        let k = labels.iter().max().map_or(0, |m| m + 1);
        let centroids: Vec<Vec<f32>> = (0..k)
            .map(|c| cluster::centroid(&vectors, &labels, c))
            .collect();
        for (&p, &l) in clustered.iter().zip(&labels) {
            out[p] = Some(l);
        }
        for &p in &with_voice {
            if out[p].is_none() {
                let v = self.pieces[p].voiceprint.as_deref().expect("has voice");
                out[p] = Some(cluster::nearest(v, &centroids, None));
            }
        }
        // A piece without a voiceprint speaks with the nearest piece of its track that has one.
        for p in 0..n {
            if out[p].is_some() {
                continue;
            }
            let track = self.pieces[p].track;
            let near = (0..n)
                .filter(|&q| self.pieces[q].track == track && out[q].is_some())
                .min_by_key(|&q| q.abs_diff(p));
            if let Some(q) = near {
                out[p] = out[q];
            }
        }
        out
    }
}

/// The audio raised to at least [`MIN_RMS`] (never lowered, and digital silence left alone).
fn raised(audio: &[f32]) -> Vec<f32> {
    let rms = (audio.iter().map(|x| x * x).sum::<f32>() / audio.len().max(1) as f32).sqrt();
    if !(MIN_RMS / MAX_GAIN..MIN_RMS).contains(&rms) {
        return audio.to_vec();
    }
    let gain = MIN_RMS / rms;
    audio.iter().map(|x| x * gain).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who speaks when in a made-up meeting: (start s, end s, speaker), speakers 0.. as tones.
    type Truth = Vec<(f64, f64, usize)>;

    /// Speaker `k`'s voice: a tone of its own (the fbank tells them apart by frequency).
    fn tone(k: usize) -> f64 {
        300.0 + 700.0 * k as f64
    }

    fn meeting(truth: &Truth, seconds: f64) -> Vec<f32> {
        (0..(seconds * SAMPLE_RATE) as usize)
            .map(|i| {
                let t = i as f64 / SAMPLE_RATE;
                truth
                    .iter()
                    .filter(|(s, e, _)| (*s..*e).contains(&t))
                    .map(|(_, _, k)| 0.2 * (2.0 * std::f64::consts::PI * tone(*k) * t).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// A segmenter that knows the truth, numbering local speakers in order of appearance in
    /// each window as a permutation-invariant model would. Windows are asked for in order, so
    /// it counts them to know where each starts.
    struct Oracle(Truth, std::cell::Cell<usize>);

    impl LocalSpeakers for Oracle {
        fn activity(
            &self,
            _audio: &[f32],
            starts: &[usize],
        ) -> Result<Vec<Vec<[bool; LOCAL_SPEAKERS]>>> {
            let mut out = Vec::new();
            for _ in starts {
                let w = self.1.get();
                self.1.set(w + 1);
                let start = w as f64 * WINDOW_STEP_S;
                let mut local: Vec<usize> = Vec::new();
                let mut frames = vec![[false; LOCAL_SPEAKERS]; FRAMES_PER_WINDOW];
                for (i, f) in frames.iter_mut().enumerate() {
                    let t = start + i as f64 * FRAME_S + FRAME_MIDDLE_S;
                    for &(s, e, k) in &self.0 {
                        if (s..e).contains(&t) {
                            if !local.contains(&k) {
                                local.push(k);
                            }
                            let j = local.iter().position(|&x| x == k).expect("listed");
                            f[j] = true;
                        }
                    }
                }
                out.push(frames);
            }
            Ok(out)
        }
    }

    /// Tells voices apart by which fbank bin is loudest.
    struct BinVoices;

    impl Voiceprints for BinVoices {
        fn voiceprints(
            &self,
            utterances: &[&[[f32; FBANK_BINS]]],
        ) -> Result<Vec<Option<Vec<f32>>>> {
            Ok(utterances
                .iter()
                .map(|u| {
                    let mut v = vec![0f32; FBANK_BINS];
                    for f in u.iter() {
                        let top = (0..FBANK_BINS)
                            .max_by(|&a, &b| f[a].total_cmp(&f[b]))
                            .expect("bins");
                        v[top] += 1.0;
                    }
                    (u.len() >= 10).then_some(v)
                })
                .collect())
        }
    }

    #[test]
    fn window_count_follows_pyannote() {
        type D<'a> = Diarizer<'a, Oracle, BinVoices>;
        assert_eq!(D::window_count(0), 0);
        assert_eq!(D::window_count(16_000), 1);
        assert_eq!(D::window_count(WINDOW_SAMPLES), 1);
        assert_eq!(D::window_count(WINDOW_SAMPLES + 16_000), 2);
        assert_eq!(D::window_count(WINDOW_SAMPLES + 16_001), 3);
        // Owned frames tile the recording without gaps or overlaps.
        let total = 7;
        let mut next = 0;
        for w in 0..total {
            let owned = D::owned_frames(w, (w == total - 1).then_some(w));
            assert_eq!(owned.start, next);
            next = owned.end;
        }
        assert_eq!(next, D::first_frame(total - 1) + FRAMES_PER_WINDOW);
    }

    fn diarize(truth: &Truth, seconds: f64, params: DiarizeParams) -> Diarized {
        let oracle = Oracle(truth.clone(), std::cell::Cell::new(0));
        let mut d = Diarizer::new(&oracle, &BinVoices, params);
        // Blocks of odd sizes, as a decoder gives them.
        for block in meeting(truth, seconds).chunks(12_345) {
            d.push(block).unwrap();
        }
        d.finish().unwrap()
    }

    /// Seconds where the turns of `speaker` and the truth of `k` agree, over the truth's.
    fn agreement(found: &Diarized, speaker: usize, truth: &Truth, k: usize) -> f64 {
        let mut both = 0.0;
        let mut want = 0.0;
        for &(s, e, who) in truth.iter().filter(|x| x.2 == k) {
            want += e - s;
            for t in found.turns.iter().filter(|t| t.speaker == speaker) {
                both += (t.end.min(e) - t.start.max(s)).max(0.0);
            }
            let _ = who;
        }
        both / want
    }

    #[test]
    fn three_voices_with_overlap_come_back_as_three_speakers() {
        // A speaks, B answers over A's last two seconds, C takes the floor after a pause, and
        // A comes back 30 s later: one label for A all along.
        let truth: Truth = vec![
            (1.0, 21.0, 0),
            (19.0, 34.0, 1),
            (38.0, 55.0, 2),
            (85.0, 99.0, 0),
        ];
        let found = diarize(&truth, 100.0, DiarizeParams::default());
        assert_eq!(found.speakers.len(), 3, "{:?}", found.turns);
        for (k, speaker) in [(0, 0), (1, 1), (2, 2)] {
            let a = agreement(&found, speaker, &truth, k);
            assert!(a > 0.97, "speaker {k}: {a}");
        }
        // The two seconds of overlap are found as overlap.
        assert!((found.overlap_s - 2.0).abs() < 0.2, "{}", found.overlap_s);
        assert!(
            (found.speech_s - (33.0 + 17.0 + 14.0)).abs() < 0.5,
            "{}",
            found.speech_s
        );
        // A's return is A.
        let late: Vec<_> = found.turns.iter().filter(|t| t.start > 80.0).collect();
        assert!(late.iter().all(|t| t.speaker == 0), "{late:?}");
    }

    #[test]
    fn the_count_given_is_kept_and_silence_gives_nobody() {
        let truth: Truth = vec![(0.5, 12.0, 0), (12.0, 25.0, 1), (25.0, 40.0, 2)];
        let two = DiarizeParams {
            speakers: Some(2),
            ..DiarizeParams::default()
        };
        assert_eq!(diarize(&truth, 41.0, two).speakers.len(), 2);
        let at_least_3 = DiarizeParams {
            min_speakers: 3,
            threshold: 1.1,
            ..DiarizeParams::default()
        };
        assert_eq!(diarize(&truth, 41.0, at_least_3).speakers.len(), 3);
        // No speech, and no audio at all.
        let nobody = diarize(&vec![], 30.0, DiarizeParams::default());
        assert!(nobody.speakers.is_empty() && nobody.turns.is_empty());
        let nothing = diarize(&vec![], 0.0, DiarizeParams::default());
        assert!(nothing.speakers.is_empty());
        // Two seconds of one voice, shorter than a window.
        let short = diarize(&vec![(0.2, 2.2, 1)], 2.5, DiarizeParams::default());
        assert_eq!(short.speakers.len(), 1);
        assert!((short.speech_s - 2.0).abs() < 0.1, "{}", short.speech_s);
    }
}
