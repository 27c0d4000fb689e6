#!/usr/bin/env bash
# Enrolment recordings for the sample's five speakers: voices/<Speaker>.opus, each speaker
# reading the same neutral paragraph (not words from the session) in the espeak-ng voice the
# session script gives them. `rapporteur voices add` turns each into a voiceprint, and `run`
# then names the sample's speakers (see scripts/demo and tests/diarize.rs).
#
# Needs espeak-ng, sox and opusenc (Debian: espeak-ng, sox, opus-tools).
# Usage: samples/make-voices.sh   (works from any current directory)
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
export LC_ALL=C

readonly TEXT="For the record, our delegation would like to thank the secretariat for the \
documents circulated last week. We have studied them with care, we have consulted our \
capital, and we are ready to work with all colleagues in a spirit of compromise."

for tool in espeak-ng:espeak-ng sox:sox opusenc:opus-tools; do
    command -v "${tool%%:*}" >/dev/null || { echo "error: install ${tool#*:}" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p voices
# One line per speaker: the first turn of each in the session script.
grep -v '^#' negotiation.script.tsv | tail -n +2 | awk -F'\t' 'NF >= 5 && !seen[$1]++' |
while IFS=$'\t' read -r speaker voice pitch speed _; do
    printf '%s\n' "$TEXT" | espeak-ng -v "$voice" -p "$pitch" -s "$speed" --stdin -w "$tmp/raw.wav"
    sox -R -D "$tmp/raw.wav" -r 48000 -c 1 -b 16 "$tmp/clip.wav" silence 1 0.05 -55d reverse \
        silence 1 0.05 -55d reverse gain -n -1
    opusenc --quiet --bitrate 24 --speech --comp 10 --serial 1 \
        --title "$speaker enrolment" --artist "rapporteur project (espeak-ng)" \
        "$tmp/clip.wav" "voices/$speaker.opus"
    printf '%-7s %-18s p=%-3s s=%-4s %s bytes\n' "$speaker" "$voice" "$pitch" "$speed" \
        "$(stat -c %s "voices/$speaker.opus")"
done
