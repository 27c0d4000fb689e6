//! The `rapporteur` binary: parse the command line, call the library, map errors to exit codes.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use cli::{
    BatchArgs, BatchCommand, Cli, Command, EvalCommand, ModelsCommand, PipelineArgs, RunArgs,
    TagArgs, TrainCommand, VoicesCommand,
};
use rapporteur::asr::{AsrOptions, LoadOptions};
use rapporteur::audio::{DecodeOptions, VadParams};
use rapporteur::batch;
use rapporteur::error::io_cause;
use rapporteur::models::{self, FetchOptions, Quantization};
use rapporteur::output::Format;
use rapporteur::pipeline::{self, DiarizeOptions, Pipeline, PositionOptions, RunOptions};
use rapporteur::progress::Progress;
use rapporteur::speakers::names::Names;
use rapporteur::speakers::VoiceStore;
use rapporteur::{Error, ErrorKind};

fn main() -> ExitCode {
    rapporteur::memory::return_freed_memory_promptly();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Tag(_)
            | Command::Analyze(_)
            | Command::Train(_)
            | Command::Eval(EvalCommand::Positions(_))
    ) {
        // The text encoder runs one batch per core itself; candle splitting each matrix product
        // across the cores as well only adds contention (measured: 11.6 s against 15.0 s for
        // 1,000 utterances). Set before any thread exists; an explicit setting is kept.
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            std::env::set_var("RAYON_NUM_THREADS", "1");
        }
    }
    rapporteur::interrupt::install_handler();
    let code = match cli.command {
        Command::Run(args) => run(*args),
        Command::Batch(args) => batch_command(*args),
        Command::Decode { input, output } => report(decode_command(&input, &output)),
        Command::Models(cmd) => report(models_command(cmd)),
        Command::Eval(cmd) => report(eval_command(cmd)),
        Command::Voices(cmd) => report(voices_command(cmd)),
        Command::Relabel { dir, names } => report(relabel_command(&dir, &names)),
        Command::Tag(args) => report(tag_command(args)),
        Command::Analyze(args) => report(analyze_command(args)),
        Command::Schema => {
            print!("{}", rapporteur::summary::json_schema());
            0
        }
        Command::Train(cmd) => report(train_command(cmd)),
    };
    ExitCode::from(code as u8)
}

/// Print an error as the single line `rapporteur: <path>: <cause>` and return its exit code.
fn report(result: Result<(), Error>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rapporteur: {e}");
            e.kind.exit_code()
        }
    }
}

fn run(args: RunArgs) -> i32 {
    // Made first: with `--progress json` every line on stderr, errors too, is JSON.
    let progress = Progress::new(args.progress, args.quiet, args.inputs.len());
    // A run that fails before writing anything leaves no empty output folder behind.
    let created = CreatedDir::note(&args.output);
    let code = run_inputs(&args, &progress);
    created.remove_if_empty(code);
    code
}

fn run_inputs(args: &RunArgs, progress: &Progress) -> i32 {
    let fail_all = |e: &Error| {
        for input in &args.inputs {
            emit_failure(args, progress, input, e);
        }
        e.kind.exit_code()
    };
    let threads = args
        .threads
        .unwrap_or_else(rapporteur::asr::default_threads);
    let opts = match run_options(&args.pipeline, threads) {
        Ok(o) => o,
        Err(e) => return fail_all(&e),
    };
    if args
        .inputs
        .iter()
        .filter(|i| rapporteur::fsutil::is_std_stream(i))
        .count()
        > 1
    {
        return fail_all(&Error::usage("standard input (-) can be read only once"));
    }
    // The output root must be writable before any time is spent transcribing.
    if let Err(e) = check_writable_dir(&args.output) {
        return fail_all(&e);
    }
    let pipeline = match Pipeline::new(opts) {
        Ok(p) => p,
        Err(e) => return fail_all(&e),
    };
    if !args.quiet {
        for w in pipeline.warnings() {
            progress.println(&format!("rapporteur: {w}"));
        }
    }
    // `-` is standard input: its folder is called `stdin`.
    let dirs = pipeline::output_dirs(&args.inputs, &args.output);
    let mut exit = 0;
    for (input, dir) in args.inputs.iter().zip(&dirs) {
        match process_input(&pipeline, input, dir, &args.output, progress) {
            Ok(rep) => {
                if !args.quiet {
                    let speech = rep
                        .speech
                        .as_ref()
                        .map(|s| format!("{:.1} s of speech, ", s.speech_s))
                        .unwrap_or_default();
                    let speakers = match rep.speakers.len() {
                        0 => String::new(),
                        n => format!(
                            "{n} speaker{} ({}), ",
                            if n == 1 { "" } else { "s" },
                            rep.speakers.join(", ")
                        ),
                    };
                    // Speed as the bars show it: seconds of audio per second of work.
                    progress.println(&format!(
                        "rapporteur: {} -> {} ({:.1} s of audio, {speech}{speakers}{} words, {:.1}x real time)",
                        input.display(),
                        dir.display(),
                        rep.duration,
                        rep.words,
                        1.0 / rep.timings.real_time_factor.max(1e-9)
                    ));
                    for note in &rep.notes {
                        progress.println(&format!("rapporteur: {}: {note}", input.display()));
                    }
                    let c = &rep.carried_over;
                    let mut said = Vec::new();
                    if !c.replaced.is_empty() {
                        said.push(format!("replaced {}", c.replaced.join(", ")));
                    }
                    if !c.kept.is_empty() {
                        said.push(format!(
                            "kept from the earlier run (not asked for this time): {}",
                            c.kept.join(", ")
                        ));
                    }
                    if !said.is_empty() {
                        progress.println(&format!(
                            "rapporteur: {}: {}",
                            dir.display(),
                            said.join("; ")
                        ));
                    }
                }
                if args.json {
                    let mut value = serde_json::to_value(&rep).unwrap_or_default();
                    value["status"] = "ok".into();
                    println_flush(&value.to_string());
                }
            }
            Err(e) => {
                emit_failure(args, progress, input, &e);
                if e.kind == ErrorKind::Interrupted {
                    // Nothing of this input was left behind; the rest are not started.
                    return e.kind.exit_code();
                }
                if exit == 0 {
                    exit = e.kind.exit_code();
                }
            }
        }
    }
    exit
}

/// One input of `run`. Standard input is first copied into an owner-only temporary file in
/// the output root (the decoders need to seek; the recording is confidential, so it goes
/// nowhere else), removed afterwards whatever happens; the result names it `-`.
fn process_input(
    pipeline: &Pipeline,
    input: &Path,
    dir: &Path,
    root: &Path,
    progress: &Progress,
) -> Result<pipeline::RunReport, Error> {
    if !rapporteur::fsutil::is_std_stream(input) {
        return pipeline.process(input, dir, progress);
    }
    let shown = Path::new("-");
    std::fs::create_dir_all(root).map_err(|e| {
        Error::output(
            root,
            format!("cannot create output folder: {}", io_cause(&e)),
        )
    })?;
    let mut spool = tempfile::Builder::new()
        .prefix(".rapporteur-stdin-")
        .tempfile_in(root)
        .map_err(|e| Error::output(root, format!("cannot write here: {}", io_cause(&e))))?;
    let _forced_exit_removes = rapporteur::interrupt::Temporary::register(spool.path());
    std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
        .map_err(|e| Error::input(shown, format!("reading standard input: {}", io_cause(&e))))?;
    rapporteur::interrupt::check()?;
    let rec = pipeline::RecordingOptions {
        shown_as: Some(shown.to_path_buf()),
        ..Default::default()
    };
    let spooled = spool.path().to_path_buf();
    pipeline
        .process_as(&spooled, dir, progress, &rec, None)
        .map_err(|mut e| {
            // Errors name what the user gave, not the temporary copy.
            if e.path.as_deref() == Some(spooled.as_path()) {
                e.path = Some(shown.to_path_buf());
            }
            e
        })
}

/// An output folder this run is about to create, removed again at the end if the run failed
/// and left it empty (a usage error or a missing model once left an empty `-o` folder).
struct CreatedDir(Option<PathBuf>);

impl CreatedDir {
    fn note(dir: &Path) -> CreatedDir {
        CreatedDir((!dir.exists()).then(|| dir.to_path_buf()))
    }

    fn remove_if_empty(self, exit_code: i32) {
        let Some(dir) = self.0.filter(|_| exit_code != 0) else {
            return;
        };
        // A batch's lock files alone do not make the folder worth keeping.
        let names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        let only_locks = names.iter().all(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(batch::lock::LOCK_FILE))
        });
        if only_locks {
            for p in &names {
                let _ = std::fs::remove_file(p);
            }
        }
        // Only an empty folder can be removed: anything written stays.
        let _ = std::fs::remove_dir(dir);
    }
}

/// The pipeline's settings from the options `run` and `batch` share.
fn run_options(args: &PipelineArgs, threads: usize) -> Result<RunOptions, Error> {
    let prompt = match (&args.prompt, &args.glossary) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(file)) => Some(read_glossary(file)?),
        (None, None) => None,
    };
    if !(args.max_duration.is_finite() && args.max_duration >= 0.0) {
        return Err(Error::usage(format!(
            "--max-duration ({}) must be a number of seconds, or 0 for no limit",
            args.max_duration
        )));
    }
    Ok(RunOptions {
        model: args.model.clone(),
        asr: AsrOptions {
            language: Some(args.language.clone()).filter(|l| l != "auto"),
            threads,
            prompt,
            beam_size: args.beam_size,
            trim_audio_ctx: !args.full_audio_ctx,
            translate: args.translate,
        },
        load: LoadOptions {
            flash_attn: args.flash_attn,
        },
        formats: if args.format.is_empty() {
            let mut f = Format::DEFAULT.to_vec();
            if !args.no_diarize {
                f.push(Format::Rttm);
            }
            f
        } else {
            dedup(args.format.clone())
        },
        decode: DecodeOptions {
            max_duration: (args.max_duration > 0.0).then_some(args.max_duration),
        },
        vad: (!args.no_vad).then(|| VadParams {
            threshold: args.vad_threshold,
            neg_threshold: args
                .vad_neg_threshold
                .unwrap_or((args.vad_threshold - 0.15).max(0.01)),
            min_speech_ms: args.vad_min_speech_ms,
            min_silence_ms: args.vad_min_silence_ms,
            pad_ms: args.vad_pad_ms,
            max_speech_s: args.vad_max_speech,
        }),
        diarize: if args.no_diarize {
            None
        } else {
            Some(diarize_options(args)?)
        },
        positions: (!args.no_positions).then(|| PositionOptions {
            head: args.positions_head.clone(),
        }),
        layout: args.layout.layout()?,
    })
}

/// Recordings at once and threads each: whichever is given sets the other from the cores.
/// By default one recording per core with one thread each: `cargo bench --bench batch`
/// measured 1.17-1.36x the throughput of one recording at a time with every thread on 2
/// cores (a recogniser thread scales less than perfectly; separate recordings do).
fn batch_budget(jobs: Option<usize>, threads: Option<usize>) -> Result<(usize, usize), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if jobs == Some(0) || threads == Some(0) {
        return Err(Error::usage(
            "--jobs and --threads-per-job must be at least 1",
        ));
    }
    Ok(match (jobs, threads) {
        (Some(j), Some(t)) => (j, t),
        (Some(j), None) => (j, (cores / j).max(1)),
        (None, Some(t)) => ((cores / t).max(1), t),
        (None, None) => {
            let t = DEFAULT_THREADS_PER_JOB.min(cores);
            ((cores / t).max(1), t)
        }
    })
}

/// Transcription threads per recording when neither --jobs nor --threads-per-job is given.
const DEFAULT_THREADS_PER_JOB: usize = 1;

fn batch_command(args: BatchArgs) -> i32 {
    if let Some(BatchCommand::MergeIndex { out, output, json }) = &args.command {
        return match merge_index_command(out, output.as_deref(), *json) {
            Ok(code) => code,
            Err(e) => report(Err(e)),
        };
    }
    // A batch that cannot start (no model, a bad manifest) leaves no empty OUT behind.
    let created = args.output.as_deref().map(CreatedDir::note);
    // Made first: with `--progress json` every line on stderr, errors too, is JSON.
    let mut progress = Progress::new(args.progress, args.quiet, 0);
    let code = match batch_run(&args, &mut progress) {
        Ok(code) => code,
        Err(e) => {
            let line = format!("rapporteur: {e}");
            progress.error(e.path.as_deref(), &line, e.kind.exit_code());
            e.kind.exit_code()
        }
    };
    if let Some(created) = created {
        created.remove_if_empty(code);
    }
    code
}

fn batch_run(args: &BatchArgs, progress: &mut Progress) -> Result<i32, Error> {
    if args.sources.is_empty() {
        return Err(Error::usage(
            "batch needs folders, manifests or recordings to process (or the subcommand merge-index)",
        ));
    }
    let Some(out) = &args.output else {
        return Err(Error::usage("batch needs an output folder: -o OUT_DIR"));
    };
    let (jobs, threads) = batch_budget(args.jobs, args.threads_per_job)?;
    let opts = run_options(&args.pipeline, threads)?;
    let filter = batch::Filter::new(&args.include, &args.exclude)?;
    let listed = batch::sources::list(&args.sources, out, &filter)?;
    let all = listed.len();
    let listed: Vec<batch::Listed> = match args.shard {
        Some(s) => listed.into_iter().filter(|l| s.takes(&l.key)).collect(),
        None => listed,
    };
    if all == 0 {
        let sources: Vec<String> = args
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::input(
            &args.sources[0],
            format!(
                "no recordings found in {} (looked for {}{})",
                sources.join(", "),
                rapporteur::audio::RECORDING_EXTENSIONS.join(", "),
                if args.include.is_empty() && args.exclude.is_empty() {
                    ""
                } else {
                    ", after --include/--exclude"
                }
            ),
        ));
    }
    // Locked before models load or files are hashed: a second run stops at once.
    let lock = if args.dry_run {
        None
    } else {
        Some(batch::lock::lock(out, args.shard)?)
    };
    let pipeline = Pipeline::new(opts)?;
    let say = |progress: &Progress, line: &str| {
        if !args.quiet {
            progress.println(&format!("rapporteur: {line}"));
        }
    };
    for w in pipeline.warnings() {
        say(progress, w);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = batch::plan(&pipeline, listed, out, args.resume, args.shard, cores);
    if args.dry_run {
        if args.json {
            for p in &plan {
                println_flush(&serde_json::to_string(&p.entry).unwrap_or_default());
            }
        }
        progress.print_block(&batch::report::plan_table(&plan));
        let counts = batch::report::counts(plan.iter().map(|p| &p.entry));
        progress.println(&format!(
            "rapporteur: dry run: {} to process, {} done earlier, {} skipped, {} failing; nothing written",
            counts[3].1, counts[0].1, counts[2].1, counts[1].1
        ));
        return Ok(0);
    }
    // Leftovers of a killed run: everything in OUT when this run owns it, else only those of
    // this shard's folders (the other shards may be writing beside them).
    let folders: Vec<PathBuf> = plan.iter().filter_map(|p| p.folder.clone()).collect();
    let swept = match args.shard {
        None => batch::done::sweep(out, None),
        Some(_) => batch::done::sweep(out, Some(&folders)),
    };
    for line in &swept {
        say(progress, line);
    }
    let pending = plan
        .iter()
        .filter(|p| p.entry.status == batch::Status::Pending)
        .count();
    // Names a person gave with `relabel` are their work: a redo says what becomes of them.
    for p in plan.iter().filter(|p| {
        p.entry.status == batch::Status::Pending && p.redo.is_some() && !p.redo_loses.is_empty()
    }) {
        progress.println(&format!(
            "rapporteur: {}: redone ({}); the names relabel gave it ({}) go again to the voices they belong to, and a name that finds none is reported{}",
            p.folder.as_deref().unwrap_or(out).display(),
            p.redo.as_deref().unwrap_or_default(),
            p.redo_loses.join(", "),
            if args.resume { "" } else { " (add --resume to keep the folder as it is)" }
        ));
    }
    let kept = plan.iter().filter(|p| p.entry.resumed).count();
    let redo = plan
        .iter()
        .filter(|p| p.redo.is_some() && p.entry.status == batch::Status::Pending)
        .count();
    say(progress, &format!(
        "batch of {} recording{}{} into {}: {pending} to process ({jobs} at a time, {threads} thread{} each){}{}",
        plan.len(),
        if plan.len() == 1 { "" } else { "s" },
        args.shard.map(|s| format!(" (shard {s} of {all} listed)")).unwrap_or_default(),
        out.display(),
        if threads == 1 { "" } else { "s" },
        if kept > 0 { format!(", {kept} kept from an earlier run") } else { String::new() },
        if redo > 0 && !args.resume { format!(", {redo} with an earlier result redone (add --resume to keep complete ones)") } else { String::new() },
    ));
    if args.json {
        // Those decided before processing (kept, skipped, failed to read): with the lines of
        // the recordings as they finish, stdout has one line per recording.
        for p in plan
            .iter()
            .filter(|p| p.entry.status != batch::Status::Pending)
        {
            println_flush(&serde_json::to_string(&p.entry).unwrap_or_default());
        }
    }
    progress.set_inputs(pending);
    let progress = &*progress;
    let settings = batch::RunSettings {
        out: out.clone(),
        shard: args.shard,
        jobs,
    };
    let mut finished = 0;
    let outcome = batch::execute(&pipeline, &plan, &settings, progress, &mut |entry| {
        finished += 1;
        if !args.quiet || entry.status == batch::Status::Failed {
            progress.println(&format!(
                "rapporteur: {}",
                batch::report::finished_line(entry, finished, pending, out)
            ));
        }
        if args.json {
            println_flush(&serde_json::to_string(entry).unwrap_or_default());
        }
    })?;
    drop(lock);
    progress.print_block(&batch::report::final_table(&outcome, jobs, threads));
    if rapporteur::interrupt::is_set() {
        return Ok(ErrorKind::Interrupted.exit_code());
    }
    Ok(batch::exit_code(&outcome.entries))
}

/// Merge the shards' indexes; like a batch, exit 6 when a recording failed or is not finished.
fn merge_index_command(out: &Path, to: Option<&Path>, json: bool) -> Result<i32, Error> {
    let merged = batch::index::merge(out, to)?;
    if json {
        for e in &merged.entries {
            println_flush(&serde_json::to_string(e).unwrap_or_default());
        }
    }
    let counts = batch::report::counts(&merged.entries);
    eprintln!(
        "rapporteur: merged {} shard index{} into {}: {} recordings: {} ok, {} failed, {} skipped, {} pending",
        merged.shards,
        if merged.shards == 1 { "" } else { "es" },
        merged.path.display(),
        merged.entries.len(),
        counts[0].1,
        counts[1].1,
        counts[2].1,
        counts[3].1
    );
    for e in merged
        .entries
        .iter()
        .filter(|e| e.status == batch::Status::Failed)
    {
        eprintln!(
            "rapporteur: failed: {}",
            e.error.as_deref().unwrap_or(&e.key)
        );
    }
    if counts[3].1 > 0 {
        eprintln!(
            "rapporteur: {}: {} recording{} not finished: run their shards again with --resume",
            out.display(),
            counts[3].1,
            if counts[3].1 == 1 { "" } else { "s" }
        );
    }
    Ok(batch::exit_code(&merged.entries))
}

fn diarize_options(args: &PipelineArgs) -> Result<DiarizeOptions, Error> {
    let mut d = DiarizeOptions::default();
    d.params.speakers = args.speakers;
    d.params.min_speakers = args.min_speakers;
    d.params.max_speakers = args.max_speakers;
    if let Some(t) = args.speaker_threshold {
        d.params.threshold = t;
    }
    if let Some(t) = args.voice_threshold {
        if !(-1.0..=1.0).contains(&t) {
            return Err(Error::usage(format!(
                "--voice-threshold ({t}) must lie between -1 and 1 (a cosine similarity)"
            )));
        }
        d.match_threshold = t;
    }
    d.voices = args.voices.clone();
    d.floor_names = !args.no_floor_names;
    if let Some(path) = &args.names {
        d.names =
            Some(Names::load(path).map_err(|e| Error::new(ErrorKind::Usage, Some(path), e.cause))?);
    }
    Ok(d)
}

fn voices_command(cmd: VoicesCommand) -> Result<(), Error> {
    match cmd {
        VoicesCommand::Add {
            name,
            files,
            delegation,
            voices,
        } => {
            let store = VoiceStore::at(voices.as_deref());
            let (voice, warnings) =
                pipeline::enrol_voice(&name, delegation, &files, &DecodeOptions::default())?;
            for w in warnings {
                eprintln!("rapporteur: {w}");
            }
            let replaced = store
                .load_all(None)
                .map(|all| all.iter().any(|v| v.name.eq_ignore_ascii_case(&voice.name)))
                .unwrap_or(false);
            let path = store.add(&voice)?;
            eprintln!(
                "rapporteur: {} voice {:?} from {:.1} s of speech ({} windows) -> {}",
                if replaced { "replaced" } else { "enrolled" },
                voice.name,
                voice.speech_s,
                voice.windows,
                path.display()
            );
            Ok(())
        }
        VoicesCommand::List { voices, json } => {
            let store = VoiceStore::at(voices.as_deref());
            let all = store.load_all(None)?;
            if json {
                let list: Vec<serde_json::Value> = all
                    .iter()
                    .map(|v| {
                        serde_json::json!({
                            "name": v.name, "delegation": v.delegation, "speech_s": v.speech_s,
                            "model": v.model, "model_sha256": v.model_sha256,
                            "sources": v.sources,
                        })
                    })
                    .collect();
                println_flush(&serde_json::Value::from(list).to_string());
            } else if all.is_empty() {
                eprintln!(
                    "rapporteur: no enrolled voices in {} (add one with `rapporteur voices add NAME FILE`)",
                    store.dir.display()
                );
            } else {
                println_flush(&format!(
                    "{:<28} {:<24} {:>8}  sources",
                    "name", "delegation", "speech"
                ));
                for v in &all {
                    println_flush(&format!(
                        "{:<28} {:<24} {:>6.1} s  {}",
                        v.name,
                        v.delegation.as_deref().unwrap_or("-"),
                        v.speech_s,
                        v.sources.len()
                    ));
                }
            }
            Ok(())
        }
        VoicesCommand::Remove { name, voices } => {
            let path = VoiceStore::at(voices.as_deref()).remove(&name)?;
            eprintln!("rapporteur: removed voice {name:?} ({})", path.display());
            Ok(())
        }
    }
}

fn relabel_command(dir: &Path, names: &Path) -> Result<(), Error> {
    let names = Names::load(names)?;
    // A batch folder stays finished: its done marker is brought up to date with the files.
    let before = batch::done::sums(dir).unwrap_or_default();
    let done = pipeline::relabel(dir, &names)?;
    let marked = batch::done::note_relabel(dir, &before, &names.describe())?;
    for (name, ids) in &done.merged {
        eprintln!(
            "rapporteur: {} are all called {name:?} now: merged into one speaker (turns, talk time and stances counted together)",
            ids.join(", ")
        );
    }
    eprintln!(
        "rapporteur: renamed speakers in {} ({} files rewritten{})",
        dir.display(),
        done.files.len(),
        if marked {
            "; its batch done marker was updated, so --resume keeps it"
        } else {
            ""
        }
    );
    Ok(())
}

fn emit_failure(args: &RunArgs, progress: &Progress, input: &Path, e: &Error) {
    progress.error(Some(input), &format!("rapporteur: {e}"), e.kind.exit_code());
    if args.json {
        let value = serde_json::json!({
            "input": input,
            "status": "error",
            "error": e.to_string(),
            "exit_code": e.kind.exit_code(),
        });
        println_flush(&value.to_string());
    }
}

fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn dedup(formats: Vec<rapporteur::output::Format>) -> Vec<rapporteur::output::Format> {
    let mut seen = Vec::new();
    for f in formats {
        if !seen.contains(&f) {
            seen.push(f);
        }
    }
    seen
}

/// Whether results can be written into `dir`, without creating it: it is a folder that takes
/// a file, or it can be created in its nearest existing ancestor, which takes a file.
fn check_writable_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::output(
            dir,
            "cannot create output folder: exists and is not a folder",
        ));
    }
    let mut probe_in = dir;
    while !probe_in.exists() {
        match probe_in.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe_in = p,
            _ => {
                probe_in = Path::new(".");
                break;
            }
        }
    }
    if !probe_in.is_dir() {
        return Err(Error::output(
            dir,
            format!(
                "cannot create output folder: {} is not a folder",
                probe_in.display()
            ),
        ));
    }
    tempfile::Builder::new()
        .prefix(".rapporteur-probe-")
        .tempfile_in(probe_in)
        .map(drop)
        .map_err(|e| {
            Error::output(
                dir,
                format!("output folder is not writable: {}", io_cause(&e)),
            )
        })
}

/// A glossary file: one term per line, `#` comments; joined into the recogniser's prompt.
fn read_glossary(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            Some(path),
            format!("cannot read glossary: {}", io_cause(&e)),
        )
    })?;
    let terms: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    if terms.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            Some(path),
            "glossary has no terms",
        ));
    }
    Ok(format!("{}.", terms.join(", ")))
}

fn decode_command(input: &Path, output: &Path) -> Result<(), Error> {
    let t0 = std::time::Instant::now();
    // `-o -` is standard output, for `rapporteur decode x.opus -o - | sox -t wav - ...`.
    let to_stdout = rapporteur::fsutil::is_std_stream(output);
    let (info, samples) = if to_stdout {
        rapporteur::audio::decode_to_wav_stream(
            input,
            &mut std::io::stdout().lock(),
            &DecodeOptions::default(),
        )?
    } else {
        rapporteur::audio::decode_to_wav(input, output, &DecodeOptions::default())?
    };
    let output = if to_stdout {
        Path::new("<stdout>")
    } else {
        output
    };
    let decode_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "rapporteur: {} ({} {}, {} Hz, {} ch) -> {} ({:.1} s of 16 kHz mono; decoded in {:.3} s)",
        input.display(),
        info.container,
        info.codec,
        info.sample_rate,
        info.channels,
        output.display(),
        samples as f64 / rapporteur::audio::SAMPLE_RATE as f64,
        decode_s
    );
    Ok(())
}

fn models_command(cmd: ModelsCommand) -> Result<(), Error> {
    match cmd {
        ModelsCommand::List { json } => {
            let entries = models::list();
            if json {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "name": e.name, "kind": e.kind, "quantization": e.quantization,
                            "installed": e.installed.is_some(),
                            "path": e.installed.as_ref().map(|i| i.path.clone()),
                            "size": e.installed.as_ref().map(|i| i.size),
                            "sha256": e.installed.as_ref().map(|i| i.sha256.clone()),
                            "description": e.description,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows).unwrap());
                return Ok(());
            }
            println!("models folder: {}", models::models_dir().display());
            println!(
                "{:<16} {:<8} {:<6} {:<10} {:>9}  DESCRIPTION",
                "NAME", "KIND", "QUANT", "STATUS", "SIZE"
            );
            for e in entries {
                let (status, size) = match &e.installed {
                    Some(i) => ("installed", format!("{:.1} MB", i.size as f64 / 1e6)),
                    None => ("missing", "-".into()),
                };
                println!(
                    "{:<16} {:<8} {:<6} {:<10} {:>9}  {}",
                    e.name,
                    e.kind,
                    e.quantization.map(|q| q.as_str()).unwrap_or("-"),
                    status,
                    size,
                    e.description
                );
            }
            Ok(())
        }
        ModelsCommand::Fetch {
            names,
            all,
            quantize,
            wheels,
            force,
        } => {
            let names: Vec<String> = if all {
                models::manifest()
                    .models
                    .iter()
                    .map(|m| m.name.clone())
                    .collect()
            } else if names.is_empty() {
                models::DEFAULTS.iter().map(|s| s.to_string()).collect()
            } else {
                names
            };
            let opts = FetchOptions {
                quantization: quantize.as_deref().and_then(Quantization::parse),
                wheels,
                force,
            };
            for name in names {
                models::fetch(&name, &opts)?;
            }
            Ok(())
        }
        ModelsCommand::Import {
            ct2_dir,
            name,
            quantize,
        } => {
            let quant = Quantization::parse(&quantize).unwrap_or(Quantization::Q8_0);
            let m = models::import(&ct2_dir, &name, quant)?;
            eprintln!(
                "rapporteur: installed {} ({quant}, {:.1} MB): {}",
                m.name,
                m.size as f64 / 1e6,
                m.path.display()
            );
            Ok(())
        }
    }
}

fn tag_command(args: TagArgs) -> Result<(), Error> {
    use rapporteur::utterances;
    let stdin = args
        .input
        .as_deref()
        .is_none_or(rapporteur::fsutil::is_std_stream);
    let (name, text) = if stdin {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::input(Path::new("<stdin>"), io_cause(&e)))?;
        ("<stdin>".to_string(), text)
    } else {
        let path = args.input.as_ref().expect("not stdin");
        (path.display().to_string(), read_text(path)?)
    };
    let list =
        utterances::read(&name, &text, args.from).map_err(|e| Error::input(Path::new(&name), e))?;
    let tagger = rapporteur::positions::PositionTagger::load(args.head.as_deref())?;
    let mut out = String::new();
    // The tagger reads English: an utterance's translation when it has one.
    let texts: Vec<&str> = list.iter().map(|u| u.english_text()).collect();
    let positions = tagger.tag(&texts)?;
    for (u, p) in list.iter().zip(positions) {
        let mut obj = u.extra.clone();
        if let Some(s) = &u.speaker {
            obj.insert("speaker".into(), s.clone().into());
        }
        if let Some(t) = u.start {
            obj.insert("start".into(), t.into());
        }
        if let Some(t) = u.end {
            obj.insert("end".into(), t.into());
        }
        obj.insert("text".into(), u.text.clone().into());
        if let Some(l) = &u.language {
            obj.insert("language".into(), l.clone().into());
        }
        if let Some(t) = &u.translation {
            obj.insert("translation".into(), t.clone().into());
        }
        obj.insert(
            "position".into(),
            serde_json::to_value(&p).expect("serialisable"),
        );
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    match &args.output {
        Some(path) => rapporteur::fsutil::write_atomic(path, out.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::output(Path::new("<stdout>"), io_cause(&e)))
        }
    }
}

fn analyze_command(args: cli::AnalyzeArgs) -> Result<(), Error> {
    let output = match &args.output {
        Some(dir) => dir.clone(),
        None => {
            let parent = args
                .input
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if args
                .input
                .file_name()
                .is_some_and(|n| n == "transcript.json")
            {
                parent.to_path_buf()
            } else {
                // Into `rapporteur-out/<name>` where the command runs, as `run` writes: a
                // folder beside the input landed in source trees and read-only shares.
                let stem = args
                    .input
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .filter(|s| !s.is_empty() && !s.starts_with('.'))
                    .unwrap_or_else(|| "analysis".into());
                Path::new(cli::DEFAULT_OUTPUT).join(stem)
            }
        }
    };
    if output.exists() && !output.is_dir() {
        return Err(Error::output(&output, "exists and is not a folder"));
    }
    let opts = rapporteur::pipeline::AnalyzeOptions {
        from: args.from,
        formats: if args.format.is_empty() {
            Format::REPORTS.to_vec()
        } else {
            dedup(args.format.clone())
        },
        positions: (!args.no_positions).then(|| PositionOptions {
            head: args.positions_head.clone(),
        }),
        retag: args.retag,
        floor_names: !args.no_floor_names,
        layout: args.layout.layout()?,
    };
    let rep = rapporteur::pipeline::analyze(&args.input, &output, &opts)?;
    if !args.quiet {
        let speakers = match rep.speakers.len() {
            0 => "no speakers named".to_string(),
            n => format!("{n} speaker{}", if n == 1 { "" } else { "s" }),
        };
        eprintln!(
            "rapporteur: {} ({}) -> {}: {} utterances ({} tagged now), {speakers}, {} issue{}, {} decision{}, {} action item{}",
            args.input.display(),
            rep.format,
            output.display(),
            rep.utterances,
            rep.tagged,
            rep.issues,
            if rep.issues == 1 { "" } else { "s" },
            rep.decisions,
            if rep.decisions == 1 { "" } else { "s" },
            rep.action_items,
            if rep.action_items == 1 { "" } else { "s" },
        );
        if rep.named_from_floor > 0 {
            eprintln!(
                "rapporteur: {}: {} speaker{} named from the chair's words (see the report)",
                args.input.display(),
                rep.named_from_floor,
                if rep.named_from_floor == 1 { "" } else { "s" },
            );
        }
        for note in &rep.notes {
            eprintln!("rapporteur: {}: {note}", args.input.display());
        }
    }
    if args.json {
        println_flush(&serde_json::to_string(&rep).unwrap_or_default());
    }
    Ok(())
}

fn train_command(cmd: TrainCommand) -> Result<(), Error> {
    match cmd {
        TrainCommand::Positions {
            data,
            out,
            seed,
            epochs,
            hidden,
        } => {
            use rapporteur::positions::head::TrainParams;
            if epochs == 0 || hidden == 0 {
                return Err(Error::usage("--epochs and --hidden must be at least 1"));
            }
            let params = TrainParams {
                seed,
                epochs,
                hidden,
                ..TrainParams::default()
            };
            let outcome = rapporteur::positions::train::train(&data, &out, &params, |line| {
                eprintln!("rapporteur: {line}")
            })?;
            eprintln!(
                "rapporteur: wrote {} (trained on {} utterances; the temperature was fitted on {} of them held back from a first run; seed {seed})",
                out.display(),
                outcome.examples + outcome.calibration,
                outcome.calibration
            );
            for (source, n) in outcome.per_source {
                eprintln!("rapporteur:   {source}: {n}");
            }
            Ok(())
        }
    }
}

fn eval_positions(args: cli::EvalPositionsArgs) -> Result<(), Error> {
    let cli::EvalPositionsArgs {
        data,
        split,
        head,
        classes,
        no_split,
        source,
        cross_validate,
        json,
    } = args;
    let (head, source, cross_validate) = (
        head.as_deref(),
        source.as_deref(),
        cross_validate.map(usize::from),
    );
    use rapporteur::eval::positions::{score, TargetScore};
    use rapporteur::positions::{data as pdata, PositionTagger};
    use rapporteur::transcript::Move;
    let macro_over: Vec<Move> = classes
        .iter()
        .map(|c| {
            Move::parse(c).ok_or_else(|| {
                Error::usage(format!(
                    "--classes: unknown move {c:?} (known: {})",
                    Move::ALL.map(|m| m.name()).join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut tagger = PositionTagger::load(head)?;
    tagger.split_sentences = !no_split;
    let started = std::time::Instant::now();
    let (examples, positions) = match cross_validate {
        Some(k) => rapporteur::positions::train::cross_validate(
            &data,
            k,
            &Default::default(),
            &mut tagger,
            |line| eprintln!("rapporteur: {line}"),
        )?,
        None => {
            let mut examples = Vec::new();
            for f in &data {
                examples.extend(pdata::load(f, split)?);
            }
            let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
            let positions = tagger.tag(&texts)?;
            (examples, positions)
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let (examples, positions): (Vec<_>, Vec<_>) = examples
        .into_iter()
        .zip(positions)
        .filter(|(e, _)| {
            (macro_over.is_empty() || macro_over.contains(&e.label))
                && source.is_none_or(|s| e.source.split(':').next() == Some(s))
        })
        .unzip();
    if examples.is_empty() {
        return Err(Error::usage(
            "no labelled utterances in that split of the --data files",
        ));
    }
    let gold: Vec<Move> = examples.iter().map(|e| e.label).collect();
    let predicted: Vec<(Move, f32)> = positions.iter().map(|p| (p.label, p.confidence)).collect();
    let report = score(
        &gold,
        &predicted,
        (!macro_over.is_empty()).then_some(macro_over.as_slice()),
    );
    let mut target = TargetScore::default();
    let with_targets = examples.iter().any(|e| e.target.is_some());
    if with_targets {
        for (e, p) in examples.iter().zip(&positions) {
            target.add(
                &e.text,
                e.target.as_deref(),
                p.target.as_ref().map(|t| t.text.as_str()),
            );
        }
    }
    // Per source, when the data mixes several: each is judged on its own.
    let mut families: Vec<&str> = examples
        .iter()
        .map(|e| e.source.split(':').next().unwrap_or(""))
        .collect();
    families.sort_unstable();
    families.dedup();
    let per_source: Vec<(String, rapporteur::eval::positions::Report)> = if families.len() > 1 {
        families
            .iter()
            .map(|f| {
                let (g, p): (Vec<Move>, Vec<(Move, f32)>) = examples
                    .iter()
                    .zip(&predicted)
                    .filter(|(e, _)| e.source.split(':').next() == Some(f))
                    .map(|(e, p)| (e.label, *p))
                    .unzip();
                (f.to_string(), score(&g, &p, None))
            })
            .collect()
    } else {
        Vec::new()
    };
    // Criticisms whose gold target names a party: is that party the target found?
    let (mut party_gold, mut party_named) = (0usize, 0usize);
    for (e, p) in examples.iter().zip(&positions) {
        let gold_party = e
            .target
            .as_deref()
            .filter(|_| e.label == Move::Criticism)
            .and_then(|t| {
                rapporteur::parties::find_all(t)
                    .first()
                    .map(|f| f.party.key)
            });
        if let Some(key) = gold_party {
            party_gold += 1;
            party_named += usize::from(
                p.target
                    .as_ref()
                    .is_some_and(|t| t.kind == "party" && t.key == key),
            );
        }
    }
    let mut text = String::new();
    if json {
        let mut v = serde_json::to_value(&report).expect("serialisable");
        if with_targets {
            v["targets"] = serde_json::to_value(&target).expect("serialisable");
        }
        if party_gold > 0 {
            v["criticised_party"] = serde_json::json!({ "gold": party_gold, "named": party_named });
        }
        if !per_source.is_empty() {
            v["per_source"] = per_source
                .iter()
                .map(|(f, r)| (f.clone(), serde_json::to_value(r).expect("serialisable")))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        v["seconds"] = elapsed.into();
        text = format!("{v}\n");
    } else {
        text.push_str(&report.render());
        if with_targets {
            text.push_str(&format!(
                "\ntargets: found {} where the data names {}; {} overlap the named span (precision {:.3}, recall {:.3})\n",
                target.found,
                target.gold,
                target.matched,
                target.precision(),
                target.recall()
            ));
        }
        if party_gold > 0 {
            text.push_str(&format!(
                "criticised party named in the target: {party_named} of {party_gold} criticisms whose gold target names one ({:.1} %)\n",
                100.0 * party_named as f64 / party_gold as f64
            ));
        }
        if !per_source.is_empty() {
            text.push_str("\nper source      n  macro-F1  conflict P  conflict R\n");
            for (f, r) in &per_source {
                text.push_str(&format!(
                    "{f:<12} {:>4} {:>9.3} {:>11.3} {:>11.3}\n",
                    r.examples, r.macro_f1, r.conflict.precision, r.conflict.recall
                ));
            }
        }
        text.push_str(&format!(
            "\n{} utterances tagged in {:.2} s ({:.0} per second)\n",
            examples.len(),
            elapsed,
            examples.len() as f64 / elapsed.max(1e-9)
        ));
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

fn eval_command(cmd: EvalCommand) -> Result<(), Error> {
    match cmd {
        EvalCommand::Positions(args) => eval_positions(args),
        EvalCommand::Wer {
            reference,
            hypothesis,
            json,
        } => {
            let reference_text = read_spoken_text(&reference)?;
            let hypothesis_text = read_spoken_text(&hypothesis)?;
            let stats = rapporteur::eval::wer::wer(&reference_text, &hypothesis_text);
            if json {
                let mut v = serde_json::to_value(stats).unwrap();
                v["wer"] = stats.wer().into();
                println!("{v}");
            } else {
                println!(
                    "WER {:.2} % ({} substitutions, {} deletions, {} insertions over {} reference words)",
                    stats.wer() * 100.0,
                    stats.substitutions,
                    stats.deletions,
                    stats.insertions,
                    stats.reference_words
                );
            }
            Ok(())
        }
        EvalCommand::Der {
            reference,
            hypothesis,
            collar,
            ignore_overlap,
            uem,
            json,
        } => {
            use rapporteur::eval::der;
            if !(0.0..=5.0).contains(&collar) {
                return Err(Error::usage("--collar must be between 0 and 5 seconds"));
            }
            let parse = |path: &PathBuf| {
                der::parse_rttm(&read_text(path)?)
                    .map_err(|e| Error::input(path, format!("not an RTTM file: {e}")))
            };
            let r = parse(&reference)?;
            let h = parse(&hypothesis)?;
            if r.is_empty() {
                return Err(Error::input(&reference, "no SPEAKER turns"));
            }
            let uem = match &uem {
                Some(path) => Some(
                    der::parse_uem(&read_text(path)?)
                        .map_err(|e| Error::input(path, format!("not a UEM file: {e}")))?,
                ),
                None => None,
            };
            let opts = der::DerOptions {
                collar,
                ignore_overlap,
                uem,
            };
            let s = der::der(&r, &h, &opts);
            if json {
                let mut v = serde_json::to_value(s).unwrap();
                v["der"] = s.der().into();
                println!("{v}");
            } else {
                let pct = |x: f64| 100.0 * x / s.scored_speech.max(1e-9);
                println!(
                    "DER {:.3} % (missed {:.3} %, false alarm {:.3} %, confusion {:.3} %; {:.1} s of scored speech)",
                    s.der() * 100.0,
                    pct(s.missed),
                    pct(s.false_alarm),
                    pct(s.confusion),
                    s.scored_speech
                );
            }
            Ok(())
        }
    }
}

fn read_text(path: &PathBuf) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::input(path, io_cause(&e)))
}

/// The words said in a reference or hypothesis: plain text, `Speaker: text` lines,
/// subtitles, JSON Lines, a transcript.json or WhisperX JSON (see `eval::wer::spoken_text`).
fn read_spoken_text(path: &PathBuf) -> Result<String, Error> {
    let text = read_text(path)?;
    let words = rapporteur::eval::wer::spoken_text(&path.display().to_string(), &text)
        .map_err(|e| Error::input(path, e))?;
    if words.trim().is_empty() {
        return Err(Error::input(path, "has no words to score"));
    }
    Ok(words)
}
