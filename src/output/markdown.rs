//! report.md: the rapporteur's summary for reading: participants, issues with each speaker's
//! stance, agreements, divergences, decisions, action items, and an index of every quote the
//! report cites, with its time. Claims cite quotes as `[Q3]`. A quote spoken in another
//! language and translated is followed by its English, in italics: `*English: "..."*`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{clock, Exporter};
use crate::summary::{Evidence, Stance, Summary};
use crate::transcript::Transcript;

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, _transcript: &Transcript, s: &Summary) -> String {
        let quotes = QuoteIndex::new(s);
        let mut out = String::new();
        let name = std::path::Path::new(&s.source.path)
            .file_name()
            .map_or_else(
                || s.source.path.clone(),
                |n| n.to_string_lossy().into_owned(),
            );
        let _ = writeln!(out, "# Session record: {}\n", text(&name));
        let mut about = vec![format!("Source `{}`", s.source.path.replace('`', "'"))];
        if let Some(d) = s.source.duration {
            about.push(format!("{} long", clock(d)));
        }
        if s.language.heard.len() > 1 {
            about.push(format!("languages heard: {}", heard(s)));
        } else if s.language.code != "und" {
            about.push(format!("language {}", text(&s.language.code)));
        }
        about.push(format!(
            "{} speaker{}, {} tagged utterance{}, {} issue{}",
            s.speakers.len(),
            plural(s.speakers.len()),
            s.positions.len(),
            plural(s.positions.len()),
            s.issues.len(),
            plural(s.issues.len())
        ));
        let _ = writeln!(out, "{}.\n", about.join("; "));
        if let Some(w) = &s.language.warning {
            let _ = writeln!(out, "> **Warning:** {}\n", text(w));
        }
        let _ = writeln!(
            out,
            "Moves and stances are machine-tagged; every claim cites its quote ([Q1], ...), \
             listed with its time at the end. A stance marked *(context)* was inferred from the \
             issue just discussed, not named by the speaker.\n"
        );

        out.push_str("## Participants\n\n");
        if s.speakers.is_empty() {
            out.push_str("Speakers were not told apart.\n\n");
        } else {
            // The delegation column only when some speaker has one other than their name.
            let delegations = s
                .speakers
                .iter()
                .any(|p| p.delegation.as_ref().is_some_and(|d| d != &p.name));
            let (head, rule) = if delegations {
                ("| Delegation ", "|---")
            } else {
                ("", "")
            };
            // The languages column only when more than one language was heard.
            let languages = s.language.heard.len() > 1;
            let (lhead, lrule) = if languages {
                ("| Languages ", "|---")
            } else {
                ("", "")
            };
            let _ = writeln!(out, "| Speaker {head}{lhead}| Talk time | Share | Turns | Words | Words/min | Questions | Spoke over others |");
            let _ = writeln!(out, "|---{rule}{lrule}|---:|---:|---:|---:|---:|---:|---:|");
            for p in &s.speakers {
                let mut delegation = if delegations {
                    format!(" {} |", cell(p.delegation.as_deref().unwrap_or("")))
                } else {
                    String::new()
                };
                if languages {
                    let _ = write!(delegation, " {} |", cell(&p.languages.join(", ")));
                }
                let _ = writeln!(
                    out,
                    "| {} |{delegation} {} | {:.0} % | {} | {} | {} | {} | {} |",
                    cell(&p.name),
                    p.talk_time_s.map_or("".into(), clock),
                    p.share * 100.0,
                    p.turns,
                    p.words,
                    p.words_per_minute.map_or("".into(), |w| format!("{w:.0}")),
                    p.questions,
                    p.interruptions
                );
            }
            out.push('\n');
        }

        let floor = s.speakers.iter().filter_map(|p| {
            let f = p.floor.as_ref()?;
            let was = f
                .renamed_from
                .as_deref()
                .map(|w| format!(" (was {})", text(w)))
                .unwrap_or_default();
            let cue = |c: &crate::transcript::FloorCue| {
                let at = if s.source.duration.is_some() {
                    clock(c.start)
                } else {
                    format!("utterance {}", c.segment + 1)
                };
                format!("\"{}\" ({at})", text(&c.quote))
            };
            Some(match f.role {
                crate::transcript::FloorRole::Chair => format!(
                    "**{}**{was}: chaired, gave the floor {} time{}, first {}",
                    text(&p.name),
                    f.cue_count,
                    plural(f.cue_count),
                    f.cues.first().map(cue).unwrap_or_default()
                ),
                crate::transcript::FloorRole::Delegation => {
                    let mut line = format!(
                        "**{}**{was}: {} — {}",
                        text(&p.name),
                        text(&f.name),
                        f.cues.iter().map(cue).collect::<Vec<_>>().join("; ")
                    );
                    if !f.disagreements.is_empty() {
                        let _ = write!(
                            line,
                            " (also given the floor as {}; the most frequent won)",
                            text(
                                &f.disagreements
                                    .iter()
                                    .map(|c| c.delegation.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        );
                    }
                    line
                }
            })
        });
        let floor: Vec<String> = floor.collect();
        if !floor.is_empty() {
            bullets(&mut out, "Who had the floor", "", floor.into_iter());
        }

        out.push_str("## Issues\n\n");
        if s.issues.is_empty() {
            out.push_str("No paragraph, article, amendment or proposal was named.\n\n");
        }
        for issue in &s.issues {
            let _ = writeln!(out, "### {} — {}\n", text(&issue.key), issue.status.name());
            let reason = text(&issue.status_reason);
            let stop = if reason.ends_with(['.', '"', '!', '?']) {
                ""
            } else {
                "."
            };
            let _ = writeln!(out, "{}{stop}\n", capitalised(&reason));
            if !issue.mentions.is_empty() {
                let mentions: Vec<String> = issue
                    .mentions
                    .iter()
                    .map(|m| format!("\"{}\"", text(m)))
                    .collect();
                let _ = writeln!(out, "Referred to as {}.\n", mentions.join(", "));
            }
            if !issue.stances.is_empty() {
                out.push_str("| Speaker | Latest stance | Quote |\n|---|---|---|\n");
                for st in &issue.stances {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} |",
                        cell(&speaker(st)),
                        stance(st),
                        quotes.cite(&st.evidence, true).replace('|', "\\|")
                    );
                }
                out.push('\n');
            }
            if issue.evolution.len() > issue.stances.len() {
                let steps: Vec<String> = issue
                    .evolution
                    .iter()
                    .map(|st| {
                        format!(
                            "{} {} {}",
                            text(&st.speaker),
                            st.stance,
                            quotes.cite(&st.evidence, false)
                        )
                    })
                    .collect();
                let _ = writeln!(out, "How it evolved: {}.\n", steps.join(" → "));
            }
        }

        let agreements = s.agreements.iter().map(|a| {
            format!(
                "**{}**: {} — {}",
                text(&a.issue),
                text(&a.speakers.join(", ")),
                stances(&a.evidence, &quotes)
            )
        });
        bullets(&mut out, "Agreements", "None found.", agreements);

        let divergences = s.divergences.iter().map(|d| {
            format!(
                "**{}** ({}): {} for, {} against — {}",
                text(&d.issue),
                d.kind,
                text(&d.in_favour.join(", ")),
                text(&d.against.join(", ")),
                stances(&d.evidence, &quotes)
            )
        });
        bullets(&mut out, "Divergences", "None found.", divergences);

        let relations = s.relations.iter().map(|r| {
            let times = if r.count > 1 {
                format!(" ({} sentences)", r.count)
            } else {
                String::new()
            };
            let quotes: Vec<String> = r.evidence.iter().map(|e| quotes.cite(e, true)).collect();
            format!(
                "**{}** {} **{}**{times} — {}",
                text(&r.from),
                r.kind.verb(),
                text(&r.to),
                quotes.join("; ")
            )
        });
        bullets(
            &mut out,
            "Between delegations",
            "No delegation criticised, opposed, supported or aligned with another by name.",
            relations,
        );

        let decisions = s.decisions.iter().map(|d| {
            let mut line = format!("**{}**", d.kind);
            if let Some(issue) = &d.issue {
                let _ = write!(line, " {}", text(issue));
            }
            if let Some(c) = &d.condition {
                let _ = write!(line, ", {}", text(c));
            }
            format!("{line} — {}", quotes.cite(&d.evidence, true))
        });
        bullets(&mut out, "Decisions", "None announced.", decisions);

        let actions = s.action_items.iter().map(|a| {
            let owner = a.owner.as_deref().unwrap_or("(unnamed)");
            let due = a
                .due
                .as_deref()
                .map(|d| format!(" (due: {})", text(d)))
                .unwrap_or_default();
            format!(
                "**{}** will {}{due} — {}",
                text(owner),
                text(&a.action),
                quotes.cite(&a.evidence, false)
            )
        });
        bullets(&mut out, "Action items", "None found.", actions);

        out.push_str("## Quote index\n\n");
        if quotes.list.is_empty() {
            out.push_str("No quotes cited.\n");
        }
        for (n, e) in quotes.list.iter().enumerate() {
            let _ = write!(
                out,
                "- **Q{}** {} {}: \"{}\"",
                n + 1,
                when(e),
                text(e.speaker.as_deref().unwrap_or("?")),
                text(&e.quote)
            );
            // The English under the quote: a hard line break, then the item's next line.
            match &e.translation {
                Some(english) => {
                    let _ = writeln!(out, "\\\n  *English: \"{}\"*", text(english));
                }
                None => out.push('\n'),
            }
        }
        out
    }
}

/// A `## title` section of one bullet per item, or the `empty` sentence when there are none.
fn bullets(out: &mut String, title: &str, empty: &str, items: impl Iterator<Item = String>) {
    let _ = writeln!(out, "## {title}\n");
    let mut any = false;
    for item in items {
        let _ = writeln!(out, "- {item}");
        any = true;
    }
    if any {
        out.push('\n');
    } else {
        let _ = writeln!(out, "{empty}\n");
    }
}

/// Every quote the report cites, numbered in order of time.
struct QuoteIndex<'a> {
    list: Vec<&'a Evidence>,
    number: BTreeMap<(usize, &'a str), usize>,
}

impl<'a> QuoteIndex<'a> {
    fn new(s: &'a Summary) -> Self {
        let mut list: Vec<&Evidence> = Vec::new();
        let cited = s
            .issues
            .iter()
            .flat_map(|i| i.evolution.iter().chain(&i.stances))
            .chain(s.agreements.iter().flat_map(|a| &a.evidence))
            .chain(s.divergences.iter().flat_map(|d| &d.evidence))
            .map(|st| &st.evidence)
            .chain(s.decisions.iter().map(|d| &d.evidence))
            .chain(s.action_items.iter().map(|a| &a.evidence))
            .chain(s.relations.iter().flat_map(|r| &r.evidence));
        for e in cited {
            if !list
                .iter()
                .any(|x| x.segment == e.segment && x.quote == e.quote)
            {
                list.push(e);
            }
        }
        list.sort_by(|a, b| {
            (a.segment, a.start.unwrap_or(0.0))
                .partial_cmp(&(b.segment, b.start.unwrap_or(0.0)))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let number = list
            .iter()
            .enumerate()
            .map(|(n, e)| ((e.segment, e.quote.as_str()), n + 1))
            .collect();
        QuoteIndex { list, number }
    }

    /// `[Q3]`, with the quote itself when `full`.
    fn cite(&self, e: &Evidence, full: bool) -> String {
        let n = self
            .number
            .get(&(e.segment, e.quote.as_str()))
            .copied()
            .unwrap_or(0);
        if full {
            let english = e
                .translation
                .as_deref()
                .map(|t| format!(" *(English: \"{}\")*", text(t)))
                .unwrap_or_default();
            format!("\"{}\"{english} [Q{n}, {}]", text(&e.quote), when(e))
        } else {
            format!("[Q{n}]")
        }
    }
}

/// The languages heard with their shares: `fr 62 %, en 38 %`.
fn heard(s: &Summary) -> String {
    s.language
        .heard
        .iter()
        .map(|h| format!("{} {:.0} %", text(&h.code), h.share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn when(e: &Evidence) -> String {
    match e.start {
        Some(t) => clock(t),
        None => format!("utterance {}", e.segment + 1),
    }
}

fn speaker(st: &Stance) -> String {
    match &st.delegation {
        Some(d) if d != &st.speaker => format!("{} ({d})", st.speaker),
        _ => st.speaker.clone(),
    }
}

fn stance(st: &Stance) -> String {
    match st.link {
        crate::summary::IssueLink::Context => format!("{} *(context)*", st.stance),
        _ => st.stance.to_string(),
    }
}

fn stances(list: &[Stance], quotes: &QuoteIndex) -> String {
    list.iter()
        .map(|st| {
            format!(
                "{} {} {}",
                text(&st.speaker),
                stance(st),
                quotes.cite(&st.evidence, false)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Text in running Markdown: one line, with the characters that would start markup escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::one_line(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text in a table cell: also without pipes.
fn cell(s: &str) -> String {
    text(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn languages_warning_and_translations_are_shown() {
        let (t, s) = fixture::bilingual();
        let md = MarkdownExporter.render(&t, &s);
        assert!(md.contains("; languages heard: en 53 %, fr 47 %; "), "{md}");
        assert!(
            md.contains("\n> **Warning:** speech that may not be English\n"),
            "{md}"
        );
        assert!(md.contains("| Speaker | Languages | Talk time |"), "{md}");
        assert!(md.contains("| France | fr |"), "{md}");
        // In the stance table, beside the quote; in the quote index, on the line under it.
        assert!(
            md.contains(
                "\"Nous ne pouvons pas accepter le paragraphe 3.\" *(English: \"We cannot accept \
                 paragraph 3.\")* [Q2, 1:02:03]"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "France: \"Nous ne pouvons pas accepter le paragraphe 3.\"\\\n  *English: \"We \
                 cannot accept paragraph 3.\"*\n"
            ),
            "{md}"
        );
        // One language: as before, no column.
        let md = MarkdownExporter.render(&fixture::transcript(), &fixture::summary());
        assert!(md.contains("; language en; "), "{md}");
        assert!(!md.contains("Languages") && !md.contains("Warning"));
    }
}
