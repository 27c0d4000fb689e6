//! Several [`ChunkDecoder`]s on one recording at once: chunks are handed out as they come from
//! the stream, each decoder on its own thread with its own whisper.cpp state, and taken back in
//! the order of the recording.
//!
//! Why decoders side by side and not more threads per decoding: tiny and base models have
//! matrices too small to spread well over threads, while two chunks decoded side by side at
//! one thread each keep both cores busy (see bench/README.md, "rapporteur against
//! faster-whisper").
//!
//! The same recording gives the same text whatever the timing: a chunk goes to the decoder
//! with the least audio handed to it so far (the first of them on a tie), decided from the
//! chunks alone, because a decoder's text depends on what it decoded before (see
//! [`ChunkDecoder`]). The thread count of one decoding does not change its text (tested in
//! tests/run.rs), so the last chunks may take the threads idle decoders leave.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::Scope;
use std::time::Instant;

#[cfg(doc)]
use super::ChunkDecoder;
use super::{AsrSession, DecodedChunk};
use crate::error::{Error, Result};

/// Chunks waiting for each decoder: enough that a decoder rarely waits for the stream, few
/// enough that memory stays flat however long the recording (a chunk is at most 30 s, 1.9 MB).
const QUEUED_PER_DECODER: usize = 2;

/// What the decoders share to choose their thread counts.
struct Load {
    /// Chunks handed to the pool and not yet taken by a decoder.
    queued: AtomicUsize,
    /// Decoders working on a chunk.
    busy: AtomicUsize,
    /// No more chunks will come.
    closed: AtomicBool,
}

type Finished<T> = (usize, T, Result<DecodedChunk>, f64);

/// Decoders working on one recording's chunks; `T` is a chunk with whatever the caller needs
/// back with its text (its place in the recording).
pub struct DecoderPool<T> {
    /// Each decoder's queue, and the samples handed to it so far.
    queues: Vec<(SyncSender<(usize, T)>, usize)>,
    done: Receiver<Finished<T>>,
    load: Arc<Load>,
    submitted: usize,
    /// The next chunk, in the recording's order, to give back.
    next: usize,
    /// Finished chunks that wait for an earlier one.
    waiting: BTreeMap<usize, (T, Result<DecodedChunk>)>,
    /// Seconds the decoders spent decoding, summed over them.
    decoding_s: f64,
}

impl<T: AsRef<[f32]> + Send> DecoderPool<T> {
    /// Start `decoders` decoders of `session` on `scope`, sharing `threads` threads: each
    /// decodes at one thread while chunks wait, and once the stream has ended the last chunks
    /// take the threads idle decoders leave (a recording of one chunk is decoded at all of them).
    pub fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        session: &AsrSession<'env>,
        decoders: usize,
        threads: usize,
    ) -> DecoderPool<T>
    where
        T: 'scope,
    {
        let (finished, done) = mpsc::channel::<Finished<T>>();
        let load = Arc::new(Load {
            queued: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        let mut queues = Vec::new();
        for _ in 0..decoders.max(1) {
            let (jobs, queue) = mpsc::sync_channel::<(usize, T)>(QUEUED_PER_DECODER);
            queues.push((jobs, 0));
            let mut decoder = session.decoder();
            let finished = finished.clone();
            let load = Arc::clone(&load);
            scope.spawn(move || {
                while let Ok((index, chunk)) = queue.recv() {
                    load.queued.fetch_sub(1, Ordering::SeqCst);
                    let others = load.busy.fetch_add(1, Ordering::SeqCst);
                    let last_ones = load.closed.load(Ordering::SeqCst)
                        && load.queued.load(Ordering::SeqCst) == 0;
                    let mine = if last_ones {
                        threads.saturating_sub(others).max(1)
                    } else {
                        1
                    };
                    let t = Instant::now();
                    let result = decoder.decode(chunk.as_ref(), mine);
                    let seconds = t.elapsed().as_secs_f64();
                    load.busy.fetch_sub(1, Ordering::SeqCst);
                    let failed = result.is_err();
                    if finished.send((index, chunk, result, seconds)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        DecoderPool {
            queues,
            done,
            load,
            submitted: 0,
            next: 0,
            waiting: BTreeMap::new(),
            decoding_s: 0.0,
        }
    }

    /// Hand a chunk to the decoder with the least audio so far; waits while it has enough
    /// queued.
    pub fn submit(&mut self, chunk: T) -> Result<()> {
        let samples = chunk.as_ref().len();
        let (jobs, assigned) = self
            .queues
            .iter_mut()
            .min_by_key(|(_, assigned)| *assigned)
            .expect("at least one decoder");
        *assigned += samples;
        self.load.queued.fetch_add(1, Ordering::SeqCst);
        if jobs.send((self.submitted, chunk)).is_err() {
            // The decoder stopped: it failed, and says why.
            self.load.queued.fetch_sub(1, Ordering::SeqCst);
            self.collect(true)?;
            return Err(Error::internal("a transcription thread stopped"));
        }
        self.submitted += 1;
        Ok(())
    }

    /// No chunks will come after those about to be submitted (the stream has ended): the last
    /// ones may take the threads idle decoders leave. Without it, a recording of one chunk,
    /// submitted when the stream's end was flushed, was decoded at one thread of two.
    pub fn close(&self) {
        self.load.closed.store(true, Ordering::SeqCst);
    }

    /// The chunks finished so far that follow the last one given back, in order.
    pub fn ready(&mut self) -> Result<Vec<(T, DecodedChunk)>> {
        self.collect(false)?;
        self.take_in_order()
    }

    /// No more chunks: wait for the decoders, and give back every chunk not given back yet,
    /// with the seconds the decoders spent decoding, summed over them.
    pub fn finish(mut self) -> Result<(Vec<(T, DecodedChunk)>, f64)> {
        self.load.closed.store(true, Ordering::SeqCst);
        self.queues.clear();
        while self.next + self.waiting.len() < self.submitted {
            self.collect(true)?;
        }
        let rest = self.take_in_order()?;
        Ok((rest, self.decoding_s))
    }

    /// Move finished chunks into `waiting`; with `block`, wait for at least one. A failed
    /// chunk is reported at once.
    fn collect(&mut self, block: bool) -> Result<()> {
        let mut wait = block;
        loop {
            let (index, chunk, result, seconds) = if wait {
                wait = false;
                self.done
                    .recv()
                    .map_err(|_| Error::internal("the transcription threads stopped"))?
            } else {
                match self.done.try_recv() {
                    Ok(finished) => finished,
                    Err(_) => return Ok(()),
                }
            };
            self.decoding_s += seconds;
            if let Err(e) = &result {
                return Err(e.clone());
            }
            self.waiting.insert(index, (chunk, result));
        }
    }

    fn take_in_order(&mut self) -> Result<Vec<(T, DecodedChunk)>> {
        let mut out = Vec::new();
        while let Some((chunk, result)) = self.waiting.remove(&self.next) {
            out.push((chunk, result?));
            self.next += 1;
        }
        Ok(out)
    }
}
