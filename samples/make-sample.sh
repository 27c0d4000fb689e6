#!/usr/bin/env bash
# Regenerate the synthetic negotiation sample in this folder:
#
#   negotiation.opus  - Ogg Opus, mono, 48 kHz, 24 kbit/s (the sample itself)
#   negotiation.rttm  - reference speaker turns (RTTM), from measured clip lengths
#   negotiation.txt   - reference transcript, one "Speaker: text" line per turn
#
# Input: negotiation.script.tsv (speaker, espeak-ng voice, pitch, speed, text).
# Needs espeak-ng, sox/soxi and opusenc/opusdec (Debian: espeak-ng, sox, opus-tools).
# Usage: samples/make-sample.sh   (works from any current directory)
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
export LC_ALL=C

# ---- settings -------------------------------------------------------------
readonly SCRIPT=negotiation.script.tsv
readonly NAME=negotiation          # RTTM file id and output basename
readonly RATE=48000                # Opus works natively at 48 kHz
readonly BITRATE=24                # kbit/s
readonly LEAD_IN=0.50              # silence before the first turn (s)
readonly TAIL=0.80                 # silence after the last turn (s)
# Silence between turns (s), used in order and cycled; all within 0.4-1.0 s.
readonly GAPS=(0.60 0.85 0.50 0.95 0.70 0.45 1.00 0.55 0.80 0.65 0.75 0.50 0.90 0.60 0.70)
readonly MIN_SECONDS=55 MAX_SECONDS=70

# ---- tools ----------------------------------------------------------------
need() { # need COMMAND DEBIAN-PACKAGE
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "error: '$1' not found. Install it with: sudo apt-get install $2" >&2
        exit 1
    fi
}
need espeak-ng espeak-ng
need sox sox
need soxi sox
need opusenc opus-tools
need opusdec opus-tools
need awk mawk

[[ -r $SCRIPT ]] || { echo "error: $PWD/$SCRIPT not found" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rapporteur-sample.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

silence() { # silence SECONDS OUT.wav   (exact sample count at $RATE)
    local n
    n=$(awk -v s="$1" -v r="$RATE" 'BEGIN { printf "%d", s * r + 0.5 }')
    sox -R -D -n -r "$RATE" -c 1 -b 16 "$2" trim 0s "${n}s"   # -D: true digital silence
}

# ---- synthesise each turn -------------------------------------------------
parts=()          # files to concatenate, in order
pos=0             # running position in samples
turn=0
: >"$tmp/$NAME.rttm"
: >"$tmp/$NAME.txt"

silence "$LEAD_IN" "$tmp/lead.wav"
parts+=("$tmp/lead.wav")
pos=$((pos + $(soxi -s "$tmp/lead.wav")))

lineno=0
while IFS=$'\t' read -r speaker voice pitch speed text <&3; do
    lineno=$((lineno + 1))
    text=${text%$'\r'}
    [[ -z ${speaker// /} || $speaker == \#* || $speaker == speaker ]] && continue
    if [[ -z $text || $speaker =~ [[:space:]] || ! $pitch =~ ^[0-9]+$ || ! $speed =~ ^[0-9]+$ ]]; then
        echo "error: $SCRIPT line $lineno: want speaker<TAB>voice<TAB>pitch<TAB>speed<TAB>text" \
             "(speaker without spaces, numeric pitch and speed)" >&2
        exit 1
    fi

    if ((turn > 0)); then
        gap=${GAPS[$(((turn - 1) % ${#GAPS[@]}))]}
        silence "$gap" "$tmp/gap$turn.wav"
        parts+=("$tmp/gap$turn.wav")
        pos=$((pos + $(soxi -s "$tmp/gap$turn.wav")))
    fi
    turn=$((turn + 1))

    raw="$tmp/raw$turn.wav"
    clip="$tmp/turn$turn.wav"
    printf '%s\n' "$text" | espeak-ng -v "$voice" -p "$pitch" -s "$speed" --stdin -w "$raw"
    # Trim espeak's leading/trailing silence so the RTTM times are tight,
    # then resample to $RATE mono 16 bit (-D: no dither, keeps it repeatable).
    sox -R -D "$raw" -c 1 -b 16 "$clip" \
        silence 1 0.005 -55d reverse silence 1 0.005 -55d reverse rate -v "$RATE"
    n=$(soxi -s "$clip")
    ((n > 0)) || { echo "error: turn $turn ($speaker) synthesised to nothing" >&2; exit 1; }
    parts+=("$clip")

    awk -v id="$NAME" -v s="$pos" -v n="$n" -v r="$RATE" -v spk="$speaker" 'BEGIN {
        printf "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n", id, s / r, n / r, spk }' \
        >>"$tmp/$NAME.rttm"
    printf '%s: %s\n' "$speaker" "$text" >>"$tmp/$NAME.txt"
    printf '  turn %2d  %-7s %-9s p=%-3s s=%-3s %6.3f s\n' "$turn" "$speaker" "$voice" "$pitch" "$speed" \
        "$(awk -v n="$n" -v r="$RATE" 'BEGIN { printf "%.3f", n / r }')"
    pos=$((pos + n))
done 3<"$SCRIPT"

((turn > 0)) || { echo "error: no turns in $SCRIPT" >&2; exit 1; }
silence "$TAIL" "$tmp/tail.wav"
parts+=("$tmp/tail.wav")

# ---- assemble, normalise, encode -------------------------------------------
sox -R -D "${parts[@]}" "$tmp/joined.wav"
sox -R -D "$tmp/joined.wav" "$tmp/$NAME.wav" gain -n -1
opusenc --quiet --bitrate "$BITRATE" --speech --comp 10 --serial 1 \
    --title "rapporteur synthetic negotiation sample" \
    --artist "rapporteur project (espeak-ng)" \
    "$tmp/$NAME.wav" "$tmp/$NAME.opus"

# ---- checks ---------------------------------------------------------------
total=$(soxi -s "$tmp/$NAME.wav")
seconds=$(awk -v n="$total" -v r="$RATE" 'BEGIN { printf "%.3f", n / r }')
if ! awk -v s="$seconds" -v lo="$MIN_SECONDS" -v hi="$MAX_SECONDS" 'BEGIN { exit !(s >= lo && s <= hi) }'; then
    echo "error: sample is $seconds s long, want $MIN_SECONDS-$MAX_SECONDS s; edit $SCRIPT" >&2
    exit 1
fi
# Debian's sox cannot read Opus, so decode with opusdec and measure the raw PCM.
rms=$(opusdec --quiet --rate "$RATE" "$tmp/$NAME.opus" - 2>/dev/null |
      sox -t raw -r "$RATE" -e signed -b 16 -c 1 - -n stat 2>&1 |
      awk '/^RMS +amplitude/ { print $3 }')
if ! awk -v r="${rms:-0}" 'BEGIN { exit !(r > 0.01) }'; then
    echo "error: decoded sample looks silent (RMS amplitude ${rms:-?})" >&2
    exit 1
fi

mv "$tmp/$NAME.opus" "$tmp/$NAME.rttm" "$tmp/$NAME.txt" .
echo "wrote $NAME.opus ($(stat -c %s "$NAME.opus") bytes, $seconds s, $turn turns, decoded RMS $rms)," \
     "$NAME.rttm, $NAME.txt"
