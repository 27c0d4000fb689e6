//! report.html: the session on one self-contained page, for reading at a glance who stood
//! where on each issue (a speakers × issues stance matrix), who spoke when (an inline SVG
//! timeline), and the issues, agreements, divergences, decisions and action items, each with
//! the quote behind it linked to its line in the transcript at the bottom.
//!
//! The page is plain HTML and CSS and reads fully without script; a few lines of inline script
//! only open the collapsed transcript when a link points into it. A Content-Security-Policy
//! forbids every fetch, so nothing in a transcript can make the page reach the network, and
//! every piece of text goes through [`esc`].
//!
//! Text spoken in another language carries its `lang`; its English rendering, when the
//! segment was translated, comes under it as secondary text (`<span class="tr" lang="en">`),
//! under quotes and transcript lines alike.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{clock, one_line, Exporter};
use crate::summary::{Evidence, IssueLink, Stance, Summary};
use crate::transcript::{Move, Transcript};

pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, transcript: &Transcript, summary: &Summary) -> String {
        Page::new(transcript, summary).render()
    }
}

/// The page may load nothing at all: only its own inline style and script, and data: images.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// A transcript longer than this starts collapsed, so the report above it stays in reach.
const OPEN_TRANSCRIPT_MAX: usize = 200;

/// Speaker colours (`.c0` to `.c9` in [`STYLE`]); speakers past the tenth reuse them, and their
/// name is always written beside the colour.
const PALETTE: usize = 10;

/// What every section needs: the inputs, whether times are real, speaker colours and the
/// anchors of issues.
struct Page<'a> {
    t: &'a Transcript,
    s: &'a Summary,
    /// False for plain text without times (every segment time is then 0): no clock is shown.
    timed: bool,
    colours: Colours,
    /// Issue key → its index, for `#i-<index>` links from the matrix, decisions and lists.
    issue_ids: BTreeMap<&'a str, usize>,
}

impl<'a> Page<'a> {
    fn new(t: &'a Transcript, s: &'a Summary) -> Self {
        Page {
            t,
            s,
            // The summary drops the duration exactly when the source had no times.
            timed: s.source.duration.is_some(),
            colours: Colours::new(t, s),
            issue_ids: s
                .issues
                .iter()
                .enumerate()
                .map(|(i, issue)| (issue.key.as_str(), i))
                .collect(),
        }
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(64 * 1024 + self.t.segments.len() * 400);
        self.head(&mut out);
        out.push_str("<body>\n");
        self.header(&mut out);
        out.push_str("<main>\n");
        self.matrix(&mut out);
        self.timeline(&mut out);
        self.participants(&mut out);
        self.floor(&mut out);
        self.issues(&mut out);
        self.agreements(&mut out);
        self.divergences(&mut out);
        self.relations(&mut out);
        self.decisions(&mut out);
        self.action_items(&mut out);
        self.transcript(&mut out);
        out.push_str("</main>\n");
        self.footer(&mut out);
        let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
        out
    }

    fn head(&self, out: &mut String) {
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
             <meta name=\"generator\" content=\"{} {}\">\n\
             <title>Session record: {}</title>\n<style>{STYLE}</style>\n</head>\n",
            esc(&self.s.processing.program),
            esc(&self.s.processing.version),
            esc(&self.source_name())
        );
    }

    /// The recording's (or text's) file name, without its folders.
    fn source_name(&self) -> String {
        let path = &self.s.source.path;
        std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned())
    }

    fn header(&self, out: &mut String) {
        let s = self.s;
        let mut facts = vec![format!("<code>{}</code>", esc(&s.source.path))];
        facts.push(match s.source.duration {
            Some(d) => format!("{} long", clock(d)),
            None => "no times".into(),
        });
        facts.push(if s.language.heard.len() > 1 {
            let heard: Vec<String> = s
                .language
                .heard
                .iter()
                .map(|h| format!("{} {:.0}&nbsp;%", esc(&h.code), h.share * 100.0))
                .collect();
            format!("languages heard: {}", heard.join(", "))
        } else {
            match s.language.code.as_str() {
                "und" | "" => "language unknown".into(),
                code => format!("language {}", esc(code)),
            }
        });
        facts.push(match s.speakers.len() {
            0 => "speakers not told apart".into(),
            n => count(n, "speaker"),
        });
        for (n, what) in [
            (s.issues.len(), "issue"),
            (s.decisions.len(), "decision"),
            (s.action_items.len(), "action item"),
            (s.positions.len(), "tagged utterance"),
        ] {
            facts.push(count(n, what));
        }
        let warning = match &s.language.warning {
            Some(w) => format!(
                "<p class=\"warn\" role=\"note\"><strong>Language warning:</strong> {}</p>\n",
                esc(&one_line(w))
            ),
            None => String::new(),
        };
        let _ = write!(
            out,
            "<header>\n<h1>Session record: {}</h1>\n<p class=\"meta\">{}</p>\n{warning}\
             <p class=\"note\">Moves and stances are machine-tagged and can be wrong: every claim \
             links to the quote behind it. A stance marked <span class=\"b m-statement ctx\">(context)\
             </span> with a dashed border was inferred from the issue just discussed, not named by \
             the speaker.</p>\n<nav>",
            esc(&self.source_name()),
            facts.join(" · ")
        );
        for (id, title) in [
            ("stances", "Stances"),
            ("timeline", "Timeline"),
            ("participants", "Participants"),
            ("issues", "Issues"),
            ("agreements", "Agreements"),
            ("divergences", "Divergences"),
            ("decisions", "Decisions"),
            ("actions", "Action items"),
            ("transcript", "Transcript"),
        ] {
            let _ = write!(out, "<a href=\"#{id}\">{title}</a>");
        }
        out.push_str("</nav>\n</header>\n");
    }

    // ---- who stood where ----

    /// Rows: every speaker, then anyone who took a stance without being counted a speaker
    /// ("unknown speaker"). Columns: issues. Cells: the speaker's latest stance.
    fn matrix(&self, out: &mut String) {
        section(out, "stances", "Who stood where");
        if self.s.issues.is_empty() {
            out.push_str(
                "<p class=\"empty\">No paragraph, article, amendment or proposal was named, so \
                 there is no stance matrix.</p>\n</section>\n",
            );
            return;
        }
        out.push_str("<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr><th scope=\"col\">Speaker</th>");
        for (i, issue) in self.s.issues.iter().enumerate() {
            let _ = write!(
                out,
                "<th scope=\"col\"><a href=\"#i-{i}\">{}</a><br>{}</th>",
                esc(&issue.key),
                pill(issue.status.name())
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (name, delegation) in self.matrix_rows() {
            let _ = write!(out, "<tr><th scope=\"row\">{}", self.speaker(name));
            if let Some(d) = delegation.filter(|d| *d != name) {
                let _ = write!(out, " <small>{}</small>", esc(d));
            }
            out.push_str("</th>");
            for issue in &self.s.issues {
                match issue.stances.iter().find(|st| st.speaker == name) {
                    Some(st) => {
                        let _ = write!(
                            out,
                            "<td><a class=\"cell\" href=\"#s-{}\" title=\"{}\">{}</a></td>",
                            st.evidence.segment,
                            esc(&stance_title(st)),
                            badge(st.stance, Some(st.link))
                        );
                    }
                    None => out.push_str("<td class=\"none\"></td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table></div>\n<p class=\"legend\">");
        for m in Move::ALL {
            out.push_str(&badge(m, None));
            out.push(' ');
        }
        out.push_str(
            "· dashed: inferred from context · each badge links to its quote (hover for it) · \
             issue status: ",
        );
        for status in ["agreed", "converging", "contested", "open"] {
            out.push_str(&pill(status));
            out.push(' ');
        }
        out.push_str("</p>\n</section>\n");
    }

    /// Matrix rows: (name, delegation).
    fn matrix_rows(&self) -> Vec<(&str, Option<&str>)> {
        let mut rows: Vec<(&str, Option<&str>)> = self
            .s
            .speakers
            .iter()
            .map(|p| (p.name.as_str(), p.delegation.as_deref()))
            .collect();
        for st in self.s.issues.iter().flat_map(|i| &i.stances) {
            if !rows.iter().any(|(n, _)| *n == st.speaker) {
                rows.push((&st.speaker, st.delegation.as_deref()));
            }
        }
        rows
    }

    // ---- who spoke when ----

    fn timeline(&self, out: &mut String) {
        section(out, "timeline", "Who spoke when");
        if !self.timed {
            out.push_str(
                "<p class=\"empty\">No timeline: the transcript has no times.</p>\n</section>\n",
            );
            return;
        }
        let turns = self.turns();
        let end = turns.iter().map(|t| t.2).fold(0.0, f64::max);
        let duration = self.s.source.duration.unwrap_or(0.0).max(end);
        if turns.is_empty() || duration <= 0.0 {
            out.push_str(
                "<p class=\"empty\">No timeline: nothing timed was said.</p>\n</section>\n",
            );
            return;
        }
        // Rows in colour order (first appearance), so the timeline reads like the matrix.
        let mut rows: Vec<&str> = Vec::new();
        for name in &self.colours.order {
            if turns.iter().any(|t| &t.0 == name) {
                rows.push(name);
            }
        }
        for t in &turns {
            if !rows.contains(&t.0.as_str()) {
                rows.push(&t.0);
            }
        }
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|name| Row {
                label: name.to_string(),
                class: self.colours.class(name),
                spans: turns
                    .iter()
                    .filter(|t| t.0 == name)
                    .map(|t| (t.1, t.2))
                    .collect(),
            })
            .collect();
        let marks: Vec<Mark> = self
            .s
            .decisions
            .iter()
            .filter_map(|d| {
                let at = d.evidence.start?;
                let mut what = d.kind.clone();
                if let Some(issue) = &d.issue {
                    let _ = write!(what, ": {issue}");
                }
                Some(Mark {
                    at,
                    segment: d.evidence.segment,
                    title: format!(
                        "Decision {what} at {} — “{}”{}",
                        clock(at),
                        one_line(&d.evidence.quote),
                        english_title(&d.evidence)
                    ),
                })
            })
            .collect();
        out.push_str("<div class=\"scroll\">");
        out.push_str(&timeline_svg(&rows, &marks, duration));
        out.push_str("</div>\n");
        if !marks.is_empty() {
            out.push_str("<p class=\"legend\">▼ decision (links to its line)</p>\n");
        }
        out.push_str("</section>\n");
    }

    /// (speaker, start, end) of every turn: diarization's turns when there are any, else the
    /// segments (under their speaker, or one row for all speech when nobody was told apart).
    fn turns(&self) -> Vec<(String, f64, f64)> {
        if let Some(d) = self.t.diarization.as_ref().filter(|d| !d.turns.is_empty()) {
            return d
                .turns
                .iter()
                .map(|t| (t.speaker.clone(), t.start, t.end))
                .collect();
        }
        self.t
            .segments
            .iter()
            .filter(|s| s.end > s.start && !s.text.trim().is_empty())
            .map(|s| {
                let who = s.speaker.clone().unwrap_or_else(|| "speech".into());
                (who, s.start, s.end)
            })
            .collect()
    }

    // ---- participants ----

    fn participants(&self, out: &mut String) {
        section(out, "participants", "Participants");
        if self.s.speakers.is_empty() {
            out.push_str("<p class=\"empty\">Speakers were not told apart.</p>\n</section>\n");
            return;
        }
        // Without times, talk time, pace and overlaps are unknown: their columns are left out.
        let timed = self.timed;
        let share_of = if timed { "talk time" } else { "words" };
        let mut head = vec!["<th>Speaker</th>".to_string(), "<th>Delegation</th>".into()];
        if timed {
            head.push("<th>Talk time</th>".into());
        }
        head.push(format!("<th title=\"Share of all {share_of}\">Share</th>"));
        head.extend(["<th>Turns</th>".into(), "<th>Words</th>".into()]);
        // Languages only when more than one was heard.
        let languages = self.s.language.heard.len() > 1;
        if languages {
            head.push("<th title=\"Most speech first\">Languages</th>".into());
        }
        if timed {
            head.push("<th>Words/min</th>".into());
        }
        head.push("<th>Questions</th>".into());
        if timed {
            head.push(
                "<th title=\"Turns begun while another speaker was still speaking\">Spoke over others</th>"
                    .into(),
            );
            head.push(
                "<th title=\"Turns another speaker began to speak over\">Spoken over</th>".into(),
            );
        }
        let _ = write!(
            out,
            "<div class=\"scroll\"><table class=\"stats\">\n<thead><tr>{}</tr></thead>\n<tbody>\n",
            head.concat()
        );
        let n = |v: String| format!("<td class=\"n\">{v}</td>");
        for p in &self.s.speakers {
            let share = (p.share * 100.0).clamp(0.0, 100.0);
            let mut row = vec![
                format!("<th scope=\"row\">{}</th>", self.speaker(&p.name)),
                format!("<td>{}</td>", esc(p.delegation.as_deref().unwrap_or(""))),
            ];
            if timed {
                row.push(n(p.talk_time_s.map_or_else(String::new, clock)));
            }
            row.push(n(format!(
                "<svg class=\"bar\" viewBox=\"0 0 100 8\" width=\"64\" height=\"8\" aria-hidden=\"true\">\
                 <rect class=\"bg\" width=\"100\" height=\"8\"/><rect class=\"{}\" width=\"{share:.1}\" \
                 height=\"8\"/></svg> {share:.0}&nbsp;%",
                self.colours.class(&p.name)
            )));
            row.extend([n(p.turns.to_string()), n(p.words.to_string())]);
            if languages {
                row.push(format!("<td>{}</td>", esc(&p.languages.join(", "))));
            }
            if timed {
                row.push(n(p
                    .words_per_minute
                    .map_or_else(String::new, |w| format!("{w:.0}"))));
            }
            row.push(n(p.questions.to_string()));
            if timed {
                row.extend([n(p.interruptions.to_string()), n(p.interrupted.to_string())]);
            }
            let _ = writeln!(out, "<tr>{}</tr>", row.concat());
        }
        out.push_str("</tbody>\n</table></div>\n</section>\n");
    }

    /// Who was named from the chair's words, with the cue that named them.
    fn floor(&self, out: &mut String) {
        let named: Vec<_> = self
            .s
            .speakers
            .iter()
            .filter_map(|p| Some((p, p.floor.as_ref()?)))
            .collect();
        if named.is_empty() {
            return;
        }
        section(out, "floor", "Who had the floor");
        out.push_str(
            "<p class=\"meta\">Named from what the chair said, without enrolled voices; an \
             enrolled voice or a names file takes precedence.</p>\n<ul class=\"claims\">\n",
        );
        let chair = named
            .iter()
            .find(|(_, f)| f.role == crate::transcript::FloorRole::Chair)
            .map(|(p, _)| p.name.clone());
        for (p, f) in &named {
            let was = f
                .renamed_from
                .as_deref()
                .map(|w| format!(" (was {})", esc(w)))
                .unwrap_or_default();
            let cue = |c: &crate::transcript::FloorCue| {
                self.said(&Evidence {
                    segment: c.segment,
                    speaker: chair.clone(),
                    start: self.timed.then_some(c.start),
                    end: None,
                    quote: c.quote.clone(),
                    translation: None,
                })
            };
            let what = match f.role {
                crate::transcript::FloorRole::Chair => format!(
                    "chaired: gave the floor {}, first {}",
                    count(f.cue_count, "time"),
                    f.cues.first().map(cue).unwrap_or_default()
                ),
                crate::transcript::FloorRole::Delegation => format!(
                    "{} — {}",
                    esc(&f.name),
                    f.cues.iter().map(cue).collect::<Vec<_>>().join("; ")
                ),
            };
            let _ = write!(out, "<li>{}{was}: {what}", self.speaker(&p.name));
            if !f.disagreements.is_empty() {
                let _ = write!(
                    out,
                    " <span class=\"meta\">(also given the floor as {}: the most frequent won)</span>",
                    f.disagreements
                        .iter()
                        .map(|c| esc(&c.delegation))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</section>\n");
    }

    /// Who criticised, opposed, supported or aligned with whom.
    fn relations(&self, out: &mut String) {
        section(out, "relations", "Between delegations");
        if self.s.relations.is_empty() {
            out.push_str(
                "<p class=\"empty\">No delegation criticised, opposed, supported or aligned with another by name.</p>\n</section>\n",
            );
            return;
        }
        out.push_str("<ul class=\"claims\">\n");
        for r in &self.s.relations {
            let times = if r.count > 1 {
                format!(
                    " <span class=\"meta\">({})</span>",
                    count(r.count, "sentence")
                )
            } else {
                String::new()
            };
            let quotes: Vec<String> = r.evidence.iter().map(|e| self.quote(e)).collect();
            let _ = writeln!(
                out,
                "<li>{} {} <b>{}</b>{times} — {}</li>",
                self.speaker(&r.from),
                r.kind.verb(),
                esc(&r.to),
                quotes.join("; ")
            );
        }
        out.push_str("</ul>\n</section>\n");
    }

    // ---- issues ----

    fn issues(&self, out: &mut String) {
        section(out, "issues", "Issues");
        if self.s.issues.is_empty() {
            out.push_str(
                "<p class=\"empty\">No paragraph, article, amendment or proposal was named.</p>\n",
            );
        }
        for (i, issue) in self.s.issues.iter().enumerate() {
            let _ = write!(
                out,
                "<article class=\"issue\" id=\"i-{i}\">\n<h3>{} {} <small>{}</small></h3>\n\
                 <p class=\"reason\">{}</p>\n",
                esc(&issue.key),
                pill(issue.status.name()),
                esc(&issue.kind),
                esc(&sentence(&one_line(&issue.status_reason)))
            );
            if !issue.mentions.is_empty() {
                let mentions: Vec<String> = issue
                    .mentions
                    .iter()
                    .map(|m| format!("<q>{}</q>", esc(&one_line(m))))
                    .collect();
                let _ = writeln!(
                    out,
                    "<p class=\"mentions\">Referred to as {}.</p>",
                    mentions.join(", ")
                );
            }
            if !issue.stances.is_empty() {
                out.push_str("<h4>Latest stances</h4>\n");
                out.push_str(&self.stance_list(&issue.stances));
            }
            if issue.evolution.len() > 1 {
                out.push_str("<h4>How it evolved</h4>\n<ol class=\"evo\">");
                for st in &issue.evolution {
                    let _ = write!(
                        out,
                        "<li title=\"{}\">{} <a class=\"cell\" href=\"#s-{}\">{}</a> {}</li>",
                        esc(&stance_title(st)),
                        self.speaker(&st.speaker),
                        st.evidence.segment,
                        badge(st.stance, Some(st.link)),
                        self.time_link(&st.evidence)
                    );
                }
                out.push_str("</ol>\n");
            }
            out.push_str("</article>\n");
        }
        out.push_str("</section>\n");
    }

    /// Stances, one a line: speaker, badge, quote, time.
    fn stance_list(&self, list: &[Stance]) -> String {
        let mut out = String::from("<ul class=\"claims\">\n");
        for st in list {
            let _ = writeln!(
                out,
                "<li>{} {} {}</li>",
                self.speaker(&st.speaker),
                badge(st.stance, Some(st.link)),
                self.quote(&st.evidence)
            );
        }
        out.push_str("</ul>\n");
        out
    }

    fn agreements(&self, out: &mut String) {
        section(out, "agreements", "Agreements");
        if self.s.agreements.is_empty() {
            out.push_str("<p class=\"empty\">None found.</p>\n");
        }
        for a in &self.s.agreements {
            let names: Vec<String> = a.speakers.iter().map(|n| self.speaker(n)).collect();
            let _ = write!(
                out,
                "<div class=\"claim\"><p>{}: all for it: {}</p>\n{}</div>\n",
                self.issue_link(&a.issue),
                names.join(", "),
                self.stance_list(&a.evidence)
            );
        }
        out.push_str("</section>\n");
    }

    fn divergences(&self, out: &mut String) {
        section(out, "divergences", "Divergences");
        if self.s.divergences.is_empty() {
            out.push_str("<p class=\"empty\">None found.</p>\n");
        }
        for d in &self.s.divergences {
            let side = |names: &[String]| -> String {
                let list: Vec<String> = names.iter().map(|n| self.speaker(n)).collect();
                if list.is_empty() {
                    "nobody".into()
                } else {
                    list.join(", ")
                }
            };
            let _ = write!(
                out,
                "<div class=\"claim\"><p>{} ({}): for {}; against {}</p>\n{}</div>\n",
                self.issue_link(&d.issue),
                esc(&d.kind),
                side(&d.in_favour),
                side(&d.against),
                self.stance_list(&d.evidence)
            );
        }
        out.push_str("</section>\n");
    }

    fn decisions(&self, out: &mut String) {
        section(out, "decisions", "Decisions");
        if self.s.decisions.is_empty() {
            out.push_str("<p class=\"empty\">None announced.</p>\n</section>\n");
            return;
        }
        out.push_str("<ul class=\"claims\">\n");
        for d in &self.s.decisions {
            let _ = write!(out, "<li><b class=\"kind\">{}</b>", esc(&d.kind));
            if let Some(issue) = &d.issue {
                let _ = write!(out, " {}", self.issue_link(issue));
            }
            if let Some(c) = &d.condition {
                let _ = write!(out, ", <i>{}</i>", esc(&one_line(c)));
            }
            let _ = writeln!(out, " — {}</li>", self.said(&d.evidence));
        }
        out.push_str("</ul>\n</section>\n");
    }

    fn action_items(&self, out: &mut String) {
        section(out, "actions", "Action items");
        if self.s.action_items.is_empty() {
            out.push_str("<p class=\"empty\">None found.</p>\n</section>\n");
            return;
        }
        out.push_str("<ul class=\"claims\">\n");
        for a in &self.s.action_items {
            let owner = a.owner.as_deref().unwrap_or("(unnamed)");
            let _ = write!(
                out,
                "<li><b>{}</b> will {}",
                esc(owner),
                esc(&one_line(&a.action))
            );
            if let Some(due) = &a.due {
                let _ = write!(out, " <i>(due: {})</i>", esc(&one_line(due)));
            }
            let _ = writeln!(out, " — {}</li>", self.said(&a.evidence));
        }
        out.push_str("</ul>\n</section>\n");
    }

    // ---- the transcript every quote links into ----

    fn transcript(&self, out: &mut String) {
        let n = self.t.segments.len();
        let open = if n <= OPEN_TRANSCRIPT_MAX {
            " open"
        } else {
            ""
        };
        let lang = match self.t.language.code.as_str() {
            "und" | "" => String::new(),
            code => format!(" lang=\"{}\"", esc(code)),
        };
        let _ =
            write!(
            out,
            "<details id=\"transcript\"{open}>\n<summary><h2>Transcript</h2> <span class=\"meta\">\
             {}, click to show or hide</span></summary>\n<div class=\"segs{}{}\"{lang}>\n",
            count(n, "utterance"),
            if self.timed { "" } else { " untimed" },
            // Nobody named: no speaker column at all.
            if self.t.segments.iter().all(|s| s.speaker.is_none()) { " anon" } else { "" }
        );
        // Ids must be unique; a transcript repeating an id keeps the first line as the target.
        let mut seen = BTreeSet::new();
        for seg in &self.t.segments {
            let id = if seen.insert(seg.id) {
                format!(" id=\"s-{}\"", seg.id)
            } else {
                String::new()
            };
            let who = seg.speaker.as_deref();
            // A line in another language than the transcript's says which.
            let spoken = seg.language.as_deref().filter(|l| !l.is_empty());
            let lang = match spoken {
                Some(l) if Some(l) != self.transcript_lang() => {
                    format!(" lang=\"{}\"", esc(l))
                }
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<div class=\"seg {}\"{id}><a class=\"t\" href=\"#s-{}\">{}</a><span class=\"sp\">{}</span>\
                 <span class=\"tx\"{lang}>{}{}</span><span class=\"pos\">",
                who.map_or_else(|| "cx".into(), |w| self.colours.class(w)),
                seg.id,
                self.when(seg.id, Some(seg.start)),
                esc(who.unwrap_or("")),
                esc(&one_line(&seg.text)),
                english(seg.translation.as_deref())
            );
            if let Some(p) = &seg.position {
                let _ = write!(
                    out,
                    "<span class=\"b m-{}\" title=\"{} with confidence {:.0}%\">{} {} {:.0}%</span>",
                    p.label.name(),
                    p.label.name(),
                    p.confidence * 100.0,
                    glyph(p.label),
                    p.label.name(),
                    p.confidence * 100.0
                );
                if let Some(target) = &p.target {
                    let _ = write!(
                        out,
                        " <span class=\"tgt\" title=\"{}\">→ {}</span>",
                        esc(&target.text),
                        esc(&target.key)
                    );
                }
            }
            out.push_str("</span></div>\n");
        }
        out.push_str("</div>\n</details>\n");
    }

    fn footer(&self, out: &mut String) {
        let p = &self.s.processing;
        let _ = write!(
            out,
            "<footer>Made by {} {} ({}) in {:.1} s",
            esc(&p.program),
            esc(&p.version),
            esc(&p.command),
            p.total_s
        );
        if let Some(t) = &self.s.source.transcript {
            let _ = write!(
                out,
                " from <code>{}</code> ({})",
                esc(&t.path),
                esc(&t.format)
            );
        }
        if !self.s.models.is_empty() {
            let models: Vec<String> = self
                .s
                .models
                .iter()
                .map(|m| format!("{} ({})", esc(&m.name), esc(&m.role)))
                .collect();
            let _ = write!(out, ". Models: {}", models.join(", "));
        }
        out.push_str(".</footer>\n");
    }

    // ---- small pieces ----

    /// A speaker's name in their colour.
    fn speaker(&self, name: &str) -> String {
        format!(
            "<span class=\"sp {}\">{}</span>",
            self.colours.class(name),
            esc(name)
        )
    }

    /// An issue's name, linked to its section.
    fn issue_link(&self, key: &str) -> String {
        match self.issue_ids.get(key) {
            Some(i) => format!("<a class=\"issue-ref\" href=\"#i-{i}\">{}</a>", esc(key)),
            None => format!("<b>{}</b>", esc(key)),
        }
    }

    /// "0:01:05", or "utterance 4" when there are no times.
    fn when(&self, segment: usize, start: Option<f64>) -> String {
        match start.filter(|_| self.timed) {
            Some(t) => clock(t),
            None => format!("utterance {}", segment + 1),
        }
    }

    /// The time of a quote, linked to its line in the transcript.
    fn time_link(&self, e: &Evidence) -> String {
        format!(
            "<a class=\"t\" href=\"#s-{}\" title=\"Show it in the transcript\">{}</a>",
            e.segment,
            self.when(e.segment, e.start)
        )
    }

    /// The transcript's language, when known.
    fn transcript_lang(&self) -> Option<&str> {
        match self.t.language.code.as_str() {
            "und" | "" => None,
            code => Some(code),
        }
    }

    /// A quote and its linked time, and under them its English when it was translated.
    fn quote(&self, e: &Evidence) -> String {
        // The page is in English: a quote in another language says which.
        let spoken = self
            .t
            .segments
            .iter()
            .find(|s| s.id == e.segment)
            .and_then(|s| s.language.as_deref())
            .filter(|l| !l.is_empty())
            .or(self.transcript_lang());
        let lang = match spoken {
            Some(l) if l != "en" => format!(" lang=\"{}\"", esc(l)),
            _ => String::new(),
        };
        format!(
            "<q{lang}>{}</q> {}{}",
            esc(&one_line(&e.quote)),
            self.time_link(e),
            english(e.translation.as_deref())
        )
    }

    /// A quote with who said it, when known.
    fn said(&self, e: &Evidence) -> String {
        match &e.speaker {
            Some(who) => format!("{}: {}", self.speaker(who), self.quote(e)),
            None => self.quote(e),
        }
    }
}

/// Speaker colours in order of first appearance: the summary's speakers, then any other name
/// diarization or the segments use.
struct Colours {
    order: Vec<String>,
}

impl Colours {
    fn new(t: &Transcript, s: &Summary) -> Self {
        let mut order: Vec<String> = Vec::new();
        let names = s
            .speakers
            .iter()
            .map(|p| p.name.as_str())
            .chain(
                t.diarization
                    .iter()
                    .flat_map(|d| d.speakers.iter().map(|sp| sp.label.as_str())),
            )
            .chain(t.segments.iter().filter_map(|seg| seg.speaker.as_deref()));
        for name in names {
            if !order.iter().any(|n| n == name) {
                order.push(name.to_string());
            }
        }
        Colours { order }
    }

    /// `c<n>` for a known speaker, `cx` (grey) for anyone else.
    fn class(&self, name: &str) -> String {
        match self.order.iter().position(|n| n == name) {
            Some(i) => format!("c{}", i % PALETTE),
            None => "cx".into(),
        }
    }
}

// ---- the timeline as inline SVG ----

/// Width of the drawing in SVG units; the page scales it to fit.
const SVG_W: f64 = 1000.0;
/// Room for speaker names at the left, and a margin at the right for the last tick's label.
const LABEL_W: f64 = 130.0;
const RIGHT_PAD: f64 = 24.0;
const PLOT_W: f64 = SVG_W - LABEL_W - RIGHT_PAD;
const ROW_H: f64 = 20.0;
const BAR_H: f64 = 14.0;
/// Band above the rows for decision markers.
const MARK_H: f64 = 14.0;
const AXIS_H: f64 = 22.0;

/// One timeline row: a speaker and their turns (start, end).
struct Row {
    label: String,
    class: String,
    spans: Vec<(f64, f64)>,
}

/// A decision marker: when, which segment to link to, and what the tooltip says.
struct Mark {
    at: f64,
    segment: usize,
    title: String,
}

/// The timeline: one row per speaker with a bar per turn, decision markers above, a time axis
/// below. Turns closer than a unit apart are drawn as one bar (its tooltip counts them), so a
/// three-hour session with thousands of turns stays a few hundred bars per row at most.
fn timeline_svg(rows: &[Row], marks: &[Mark], duration: f64) -> String {
    let scale = PLOT_W / duration;
    let x = |t: f64| LABEL_W + t.clamp(0.0, duration) * scale;
    let top = if marks.is_empty() { 4.0 } else { MARK_H + 4.0 };
    let rows_bottom = top + rows.len() as f64 * ROW_H;
    let height = rows_bottom + AXIS_H;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {SVG_W} {height:.0}\" \
         role=\"img\" aria-labelledby=\"tl-title\"><title id=\"tl-title\">Who spoke when, over {}</title>",
        clock(duration)
    );
    // Grid and axis first, so bars and markers are drawn over them.
    let step = tick_step(duration);
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{LABEL_W}\" y1=\"{rows_bottom:.1}\" x2=\"{:.1}\" y2=\"{rows_bottom:.1}\"/>",
        LABEL_W + PLOT_W
    );
    // Ticks by count, not by summing, so the last one is not lost to rounding.
    let ticks = (duration / step + 1e-6).floor() as usize;
    for tick in (0..=ticks).map(|k| k as f64 * step) {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{0:.1}\" y1=\"{top:.1}\" x2=\"{0:.1}\" y2=\"{1:.1}\"/>\
             <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3}</text>",
            x(tick),
            rows_bottom + 4.0,
            rows_bottom + 16.0,
            clock(tick)
        );
    }
    out.push_str("</g>\n");
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW_H;
        let _ = write!(
            out,
            "<g class=\"{}\"><text class=\"who\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            row.class,
            LABEL_W - 8.0,
            y + BAR_H - 3.0,
            esc(&row.label),
            esc(&shorten(&row.label, 18))
        );
        for (start, end, n) in merge_spans(&row.spans, 1.0 / scale) {
            let turns = if n > 1 {
                format!(", {n} turns")
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR_H}\"><title>{}: {}–{}{turns}</title></rect>",
                x(start),
                ((end - start) * scale).max(1.0),
                esc(&row.label),
                clock(start),
                clock(end)
            );
        }
        out.push_str("</g>\n");
    }
    for m in marks {
        let mx = x(m.at);
        let _ = writeln!(
            out,
            "<a href=\"#s-{}\"><line class=\"mark\" x1=\"{mx:.1}\" y1=\"{:.1}\" x2=\"{mx:.1}\" y2=\"{rows_bottom:.1}\"/>\
             <path class=\"mark\" d=\"M{:.1} 2h10l-5 {:.0}z\"><title>{}</title></path></a>",
            m.segment,
            MARK_H,
            mx - 5.0,
            MARK_H - 4.0,
            esc(&m.title)
        );
    }
    out.push_str("</svg>");
    out
}

/// Sorted turns with those less than `gap` seconds apart joined: (start, end, turns joined).
fn merge_spans(spans: &[(f64, f64)], gap: f64) -> Vec<(f64, f64, usize)> {
    let mut sorted: Vec<(f64, f64)> = spans.iter().map(|&(s, e)| (s, e.max(s))).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64, usize)> = Vec::new();
    for (start, end) in sorted {
        match out.last_mut() {
            Some(last) if start <= last.1 + gap => {
                last.1 = last.1.max(end);
                last.2 += 1;
            }
            _ => out.push((start, end, 1)),
        }
    }
    out
}

/// Seconds between axis ticks: the smallest round step giving at most 12 ticks (every 10 s for
/// a minute, every 5 min for an hour, every 15 min for three hours).
fn tick_step(duration: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    STEPS
        .into_iter()
        .find(|step| duration / step <= 12.0)
        .unwrap_or_else(|| (duration / 12.0 / 3600.0).ceil() * 3600.0)
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

// ---- badges ----

/// A glyph per move, so badges are not told apart by colour alone.
fn glyph(m: Move) -> &'static str {
    match m {
        Move::Proposal => "+",
        Move::Support => "✓",
        Move::Opposition => "✗",
        Move::Criticism => "!",
        Move::Reservation => "~",
        Move::Concession => "↘",
        Move::Question => "?",
        Move::Procedural => "§",
        Move::Statement => "·",
    }
}

/// A move as a badge: glyph and name in the move's colour, dashed when inferred from context.
fn badge(m: Move, link: Option<IssueLink>) -> String {
    let context = if link == Some(IssueLink::Context) {
        " ctx"
    } else {
        ""
    };
    format!(
        "<span class=\"b m-{}{context}\">{} {}</span>",
        m.name(),
        glyph(m),
        m.name()
    )
}

/// An issue status as a pill.
fn pill(status: &str) -> String {
    format!("<span class=\"pill st-{0}\">{0}</span>", esc(status))
}

/// The tooltip of a stance: who, what, how sure, how it was tied to the issue, and the quote.
fn stance_title(st: &Stance) -> String {
    let (mark, why) = match st.link {
        IssueLink::Named => ("", ""),
        IssueLink::Owner => (
            "",
            "\nTied to the issue through the delegation that proposed it.",
        ),
        IssueLink::Context => (
            " (context)",
            "\nInferred from the issue just discussed: the words do not name it.",
        ),
    };
    let when = match st.evidence.start {
        Some(t) => clock(t),
        None => format!("utterance {}", st.evidence.segment + 1),
    };
    format!(
        "{}: {}{mark}, {:.0}% sure, at {when}: “{}”{}{why}",
        st.speaker,
        st.stance,
        st.confidence * 100.0,
        one_line(&st.evidence.quote),
        english_title(&st.evidence)
    )
}

/// The English of a translated quote for a tooltip: a line of its own, or nothing.
fn english_title(e: &Evidence) -> String {
    match &e.translation {
        Some(t) => format!("\nEnglish: “{}”", one_line(t)),
        None => String::new(),
    }
}

/// The English rendering of a line or quote, as secondary text under it; nothing without one.
fn english(translation: Option<&str>) -> String {
    match translation.map(one_line).filter(|t| !t.is_empty()) {
        Some(t) => format!(
            "<span class=\"tr\" lang=\"en\"><span class=\"trl\">English</span> {}</span>",
            esc(&t)
        ),
        None => String::new(),
    }
}

fn section(out: &mut String, id: &str, title: &str) {
    let _ = write!(out, "<section id=\"{id}\">\n<h2>{title}</h2>\n");
}

/// Capitalised and ending in a stop, as the summary's reasons are written as clauses.
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '"', '!', '?', '”']) {
        out.push('.');
    }
    out
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The one HTML escape, for text and for attribute values (always double-quoted here).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Opens the collapsed transcript when a link, or the address, points into it; the browser
/// then scrolls to the line and `:target` highlights it. Printing opens every section.
const SCRIPT: &str = r#"
(function () {
  function reveal(id) {
    var el = id ? document.getElementById(id) : null;
    var d = el ? el.closest("details") : null;
    if (d && !d.open) { d.open = true; }
    return el;
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[href^='#']") : null;
    if (a) { reveal(a.getAttribute("href").slice(1)); }
  });
  function fromAddress() {
    var el = reveal(location.hash.slice(1));
    if (el) { el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", fromAddress);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  fromAddress();
})();
"#;

const STYLE: &str = r#"
:root { --fg: #1d2328; --muted: #5d6770; --line: #d9dee3; --soft: #f5f7f9; --hl: #fff2b8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 76rem; padding: 1rem 1.25rem 3rem; color: var(--fg);
  background: #fff; font-size: 15px; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: .3rem 0; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; padding-bottom: .2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .3rem; }
h4 { font-size: .85rem; margin: .6rem 0 .2rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
h3 small, .matrix small { color: var(--muted); font-weight: normal; }
p { margin: .3rem 0; }
a { color: #1f5fa8; }
code { font-size: .9em; overflow-wrap: anywhere; }
.meta, .note, .legend, .empty, .mentions, footer { color: var(--muted); }
.note { font-size: .9rem; }
.warn { margin: .6rem 0; padding: .45rem .75rem; border: 1px solid #e0b100; border-left: 5px solid #b3261e;
  background: #fff4d6; color: #4a2f00; }
.warn strong { color: #b3261e; }
.tr { display: block; margin-top: .1rem; color: var(--muted); font-size: .92em; font-style: italic; }
.trl { font-style: normal; font-size: .7rem; font-weight: 600; letter-spacing: .04em;
  text-transform: uppercase; margin-right: .3em; padding: 0 .3em; border: 1px solid var(--line);
  border-radius: .25em; }
.legend { font-size: .85rem; margin-top: .5rem; line-height: 2; }
nav { margin: .6rem 0 0; display: flex; flex-wrap: wrap; gap: .3rem .9rem; font-size: .9rem; }
footer { margin-top: 2.5rem; padding-top: .5rem; border-top: 1px solid var(--line); font-size: .8rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { padding: .3rem .55rem; border: 1px solid var(--line); }
thead th { background: var(--soft); font-weight: 600; }
tbody th { text-align: left; font-weight: normal; white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.stats thead th { font-size: .85rem; }

/* Speaker colours: one per speaker, the same everywhere. */
.c0 { --c: #2563a8; } .c1 { --c: #c85a12; } .c2 { --c: #2e8b57; } .c3 { --c: #b8323a; }
.c4 { --c: #7b4fb0; } .c5 { --c: #8b5a2b; } .c6 { --c: #c2418f; } .c7 { --c: #4a5a68; }
.c8 { --c: #7f7a00; } .c9 { --c: #138695; } .cx { --c: #8a939b; }
.sp { color: var(--c); font-weight: 600; white-space: nowrap; }
.sp::before { content: ""; display: inline-block; width: .65em; height: .65em; margin-right: .3em;
  border-radius: 2px; background: var(--c); }

/* Moves: colour, glyph and name; dashed when inferred from context. */
.b { display: inline-block; padding: 0 .45em; border: 1px solid var(--m); border-radius: .3em;
  background: var(--mb); color: var(--m); font-size: .82rem; line-height: 1.5; white-space: nowrap; }
.b.ctx { border-style: dashed; border-width: 1.5px; }
.m-proposal { --m: #1f5fa8; --mb: #e4eefa; } .m-support { --m: #1e7b34; --mb: #e2f3e6; }
.m-opposition { --m: #b3261e; --mb: #fbe5e3; } .m-criticism { --m: #8e1b5a; --mb: #f9e3ee; } .m-reservation { --m: #935400; --mb: #fdf0d8; }
.m-concession { --m: #6f3fa8; --mb: #efe6f9; } .m-question { --m: #0d6f7a; --mb: #dff2f4; }
.m-procedural { --m: #58636d; --mb: #eef0f2; } .m-statement { --m: #6b6b6b; --mb: #f6f6f6; }
.pill { display: inline-block; padding: 0 .55em; border-radius: 1em; color: #fff; font-size: .72rem;
  font-weight: 600; letter-spacing: .03em; text-transform: uppercase; line-height: 1.6; }
.st-agreed { background: #1e7b34; } .st-converging { background: #2f6db5; }
.st-contested { background: #b3261e; } .st-open { background: #6b7280; }

/* The stance matrix. */
.matrix th, .matrix td { text-align: center; vertical-align: middle; }
.matrix thead th { min-width: 8.5rem; font-size: .9rem; }
.matrix thead th:first-child { min-width: 0; text-align: left; }
.matrix tbody th { text-align: left; }
.matrix td.none { background: var(--soft); }
a.cell { text-decoration: none; }
a.cell:hover .b, a.cell:focus .b { box-shadow: 0 0 0 2px var(--m); }

/* The timeline. */
svg.timeline { display: block; width: 100%; min-width: 640px; height: auto; font-size: 11px; }
svg.timeline rect { fill: var(--c); }
svg.timeline .who { fill: var(--c); font-weight: 600; }
svg.timeline .axis line { stroke: #9aa3ab; }
svg.timeline .axis .grid { stroke: #e6e9ec; }
svg.timeline .axis text { fill: var(--muted); }
svg.timeline line.mark { stroke: #111; stroke-dasharray: 2 3; opacity: .45; }
svg.timeline path.mark { fill: #111; }
svg.bar { vertical-align: middle; }
svg.bar rect { fill: var(--c); } svg.bar rect.bg { fill: #e8ebee; }

/* Issues and claims. */
.issue { padding: .2rem 0 .6rem; border-bottom: 1px dashed var(--line); }
.reason { font-style: italic; }
ul.claims { margin: .2rem 0 .6rem; padding-left: 1.2rem; }
ul.claims li { margin: .25rem 0; }
.claim > p { margin-top: .6rem; }
q { quotes: "“" "”"; }
a.t { font-variant-numeric: tabular-nums; white-space: nowrap; font-size: .85rem; }
ol.evo { list-style: none; margin: .2rem 0; padding: 0; display: flex; flex-wrap: wrap; gap: .35rem .3rem; align-items: center; }
ol.evo li + li::before { content: "→"; color: var(--muted); margin-right: .3rem; }
.kind { text-transform: capitalize; }

/* The transcript. */
#transcript { margin-top: 1.8rem; }
#transcript > summary { cursor: pointer; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
#transcript > summary h2 { display: inline; border: 0; margin: 0; padding: 0; }
#transcript > summary .meta { font-size: .85rem; }
.segs { margin-top: .5rem; }
.seg { display: grid; grid-template-columns: var(--tw, 4.6rem) 9rem minmax(0, 1fr) auto; gap: 0 .8rem;
  align-items: baseline; padding: .3rem .5rem; margin: .15rem 0; border-left: 4px solid var(--c);
  scroll-margin-top: 2rem; }
.segs.untimed { --tw: 6.6rem; }
.segs.anon .seg { grid-template-columns: var(--tw, 4.6rem) minmax(0, 1fr) auto; }
.segs.anon .sp, .sp:empty::before { display: none; }
.seg:nth-child(even) { background: #fafbfc; }
.seg:target { background: var(--hl); outline: 2px solid #d9a400; }
.seg .sp { overflow: hidden; text-overflow: ellipsis; }
.seg .tx { overflow-wrap: anywhere; }
.seg .pos { text-align: right; white-space: nowrap; }
.tgt { font-size: .8rem; color: var(--muted); }

@media (max-width: 700px) {
  body { padding: .6rem; font-size: 14px; }
  .seg, .segs.anon .seg { grid-template-columns: auto minmax(0, 1fr); }
  .seg .tx, .seg .pos { grid-column: 1 / -1; text-align: left; }
}
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
  .issue, .seg, tr { break-inside: avoid; }
  .seg:target { outline: 0; }
}
/* Closed details print their content too (browsers that know ::details-content). */
@media print { details::details-content { content-visibility: visible; display: block; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;
    use crate::summary::{self, Context, Processing};
    use crate::transcript::{Position, Target, Turn};

    fn position(label: Move, target: Option<&str>) -> Position {
        Position {
            label,
            confidence: 0.8,
            scores: Move::ALL
                .iter()
                .map(|&m| (m, if m == label { 0.8 } else { 0.0 }))
                .collect(),
            target: target.map(|t| Target {
                text: t.into(),
                key: t.to_lowercase(),
                kind: "paragraph".into(),
            }),
            sentences: Vec::new(),
        }
    }

    /// A tagged session with speakers and nasty text.
    fn session(timed: bool) -> (Transcript, Summary) {
        let mut t = fixture::transcript();
        let lines: [(&str, &str, Move, Option<&str>); 6] = [
            (
                "Chair",
                "We now turn to paragraph 3.",
                Move::Procedural,
                Some("paragraph 3"),
            ),
            (
                "Brazil",
                "We support paragraph 3.",
                Move::Support,
                Some("paragraph 3"),
            ),
            (
                "Kenya \"K\" <&>",
                "We cannot accept paragraph 3.",
                Move::Opposition,
                Some("paragraph 3"),
            ),
            (
                "Brazil",
                "<script>alert(1)</script> Is <this> A & B?",
                Move::Question,
                None,
            ),
            (
                "Kenya \"K\" <&>",
                "We cannot accept this.",
                Move::Opposition,
                None,
            ),
            (
                "Chair",
                "Paragraph 3 is agreed. The secretariat will circulate a revised text.",
                Move::Procedural,
                Some("paragraph 3"),
            ),
        ];
        t.segments = lines
            .iter()
            .enumerate()
            .map(|(i, (who, text, m, target))| {
                let mut s = t.segments[0].clone();
                s.id = i;
                (s.start, s.end) = if timed {
                    (i as f64 * 10.0, i as f64 * 10.0 + 8.0)
                } else {
                    (0.0, 0.0)
                };
                s.text = text.to_string();
                s.words = Vec::new();
                s.speaker = Some(who.to_string());
                s.position = Some(position(*m, *target));
                s
            })
            .collect();
        t.source.duration = if timed { 60.0 } else { 0.0 };
        let s = summary::build(
            &t,
            Context {
                timed,
                recording_known: timed,
                analysed_from: None,
                processing: Processing::new("analyze"),
            },
        );
        (t, s)
    }

    fn every_evidence(s: &Summary) -> Vec<&Evidence> {
        let stances = s
            .issues
            .iter()
            .flat_map(|i| i.stances.iter().chain(&i.evolution))
            .chain(s.agreements.iter().flat_map(|a| &a.evidence))
            .chain(s.divergences.iter().flat_map(|d| &d.evidence));
        s.positions
            .iter()
            .map(|p| &p.evidence)
            .chain(stances.map(|st| &st.evidence))
            .chain(s.decisions.iter().map(|d| &d.evidence))
            .chain(s.action_items.iter().map(|a| &a.evidence))
            .collect()
    }

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(esc(r#"<b>&"'</b>"#), "&lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;");
        let (t, s) = session(true);
        let html = HtmlExporter.render(&t, &s);
        assert!(
            !html.contains("<script>alert"),
            "segment text must be escaped"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Is &lt;this&gt; A &amp; B?"));
        // The only script is the page's own.
        assert_eq!(html.matches("<script").count(), 1);
        // A speaker name with quotes and brackets, in text and in title attributes.
        assert!(!html.contains("Kenya \"K\""));
        assert!(!html.contains("<&>"));
        assert!(html.contains("Kenya &quot;K&quot; &lt;&amp;&gt;"));
        // A stance inferred from context says so in its tooltip, not by its dashes alone.
        assert!(html
            .contains("title=\"Kenya &quot;K&quot; &lt;&amp;&gt;: opposition (context), 80% sure"));
    }

    #[test]
    fn every_cited_segment_has_an_anchor() {
        for timed in [true, false] {
            let (t, s) = session(timed);
            let evidence = every_evidence(&s);
            assert!(
                !s.issues.is_empty() && !evidence.is_empty(),
                "the session must cite quotes"
            );
            let html = HtmlExporter.render(&t, &s);
            for e in evidence {
                assert!(
                    html.contains(&format!("id=\"s-{}\"", e.segment)),
                    "no anchor for segment {}",
                    e.segment
                );
                assert!(html.contains(&format!("href=\"#s-{}\"", e.segment)));
            }
            assert!(html.contains("<table class=\"matrix\">"));
        }
    }

    #[test]
    fn untimed_has_no_timeline_and_counts_utterances() {
        let (t, s) = session(false);
        let html = HtmlExporter.render(&t, &s);
        assert!(!html.contains("<svg class=\"timeline\""));
        assert!(html.contains("No timeline: the transcript has no times."));
        assert!(html.contains(">utterance 3</a>"));
        assert!(!html.contains(">0:00:00</a>"));
        let (t, s) = session(true);
        let html = HtmlExporter.render(&t, &s);
        assert!(html.contains("<svg class=\"timeline\""));
        assert!(html.contains(">0:00:10</a>"));
    }

    #[test]
    fn page_is_self_contained() {
        let (t, s) = session(true);
        let html = HtmlExporter.render(&t, &s);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains(&format!("content=\"{CSP}\"")));
        // Inline SVG needs no namespace: nothing names the web at all.
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains(" src="));
    }

    #[test]
    fn no_issues_no_matrix() {
        let t = fixture::transcript();
        let mut s = fixture::summary();
        s.issues.clear();
        let html = HtmlExporter.render(&t, &s);
        assert!(!html.contains("<table class=\"matrix\">"));
        assert!(html.contains("no stance matrix"));
    }

    #[test]
    fn long_sessions_stay_small() {
        // Three hours, 2000 turns among 8 speakers.
        let mut t = fixture::transcript();
        let turns: Vec<Turn> = (0..2000)
            .map(|i| Turn {
                start: i as f64 * 5.4,
                end: i as f64 * 5.4 + 4.0 + (i % 3) as f64,
                speaker: format!("Delegate {}", i % 8),
            })
            .collect();
        t.diarization = Some(crate::transcript::Diarization {
            model: t.model.clone(),
            segmentation: None,
            threshold: 0.3,
            speech_s: 9000.0,
            overlap_s: 0.0,
            speakers: Vec::new(),
            turns,
        });
        t.source.duration = 10800.0;
        let s = summary::build(
            &t,
            Context {
                timed: true,
                recording_known: true,
                analysed_from: None,
                processing: Processing::new("run"),
            },
        );
        let html = HtmlExporter.render(&t, &s);
        let svg = &html[html.find("<svg class=\"timeline\"").unwrap()..];
        let svg = &svg[..svg.find("</svg>").unwrap()];
        assert_eq!(svg.matches("<g class=\"c").count(), 8);
        let bars = svg.matches("<rect").count();
        assert!((8..=2000).contains(&bars), "{bars} bars");
        assert!(svg.len() < 300_000, "timeline is {} bytes", svg.len());
        // Every 15 minutes: 0:00:00 to 3:00:00.
        assert_eq!(svg.matches("text-anchor=\"middle\"").count(), 13);
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(66.0), 10.0);
        assert_eq!(tick_step(3600.0), 300.0);
        assert_eq!(tick_step(2.0 * 3600.0), 600.0);
        assert_eq!(tick_step(3.0 * 3600.0), 900.0);
        assert_eq!(tick_step(30.0 * 3600.0), 3.0 * 3600.0);
    }

    #[test]
    fn close_turns_merge() {
        let merged = merge_spans(&[(5.0, 6.0), (0.0, 1.0), (1.2, 2.0), (10.0, 11.0)], 0.5);
        assert_eq!(merged, vec![(0.0, 2.0, 2), (5.0, 6.0, 1), (10.0, 11.0, 1)]);
    }

    #[test]
    fn languages_warning_and_translations_are_shown() {
        let (t, s) = fixture::bilingual();
        let html = HtmlExporter.render(&t, &s);
        assert!(
            html.contains("languages heard: en 53&nbsp;%, fr 47&nbsp;%"),
            "{html}"
        );
        assert!(html.contains(
            "<p class=\"warn\" role=\"note\"><strong>Language warning:</strong> speech that \
             may not be English</p>"
        ));
        assert!(html.contains("<th title=\"Most speech first\">Languages</th>"));
        let english = "<span class=\"tr\" lang=\"en\"><span class=\"trl\">English</span> We \
                       cannot accept paragraph 3.</span>";
        // Under the quote, which says its language...
        assert!(html.contains("<q lang=\"fr\">Nous ne pouvons pas accepter le paragraphe 3.</q>"));
        assert!(html.contains(&format!("</a>{english}</li>")), "{html}");
        // ...and under the transcript line.
        assert!(html.contains(&format!(
            "<span class=\"tx\" lang=\"fr\">Nous ne pouvons pas accepter le paragraphe 3.{english}</span>"
        )));
        assert!(html.contains("\nEnglish: “We cannot accept paragraph 3.”"));
        // English needs no lang of its own on an English page.
        assert!(html.contains("<q>We support paragraph 3.</q>"));
        // One language: no column, no warning.
        let html = HtmlExporter.render(&fixture::transcript(), &fixture::summary());
        assert!(html.contains("language en"));
        assert!(!html.contains(">Languages</th>") && !html.contains("class=\"warn\""));
    }
}
