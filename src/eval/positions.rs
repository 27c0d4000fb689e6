//! Scores for position tagging: per-move precision, recall and F1, macro-F1, the confusion
//! matrix, calibration (expected calibration error) and target extraction.

use serde::Serialize;

use crate::transcript::Move;

#[derive(Debug, Clone, Serialize)]
pub struct ClassScore {
    pub label: Move,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of this move.
    pub support: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub examples: usize,
    pub accuracy: f64,
    /// Mean F1 over `macro_over`.
    pub macro_f1: f64,
    /// The moves the macro average is taken over (those present in the gold labels, unless chosen).
    pub macro_over: Vec<Move>,
    pub classes: Vec<ClassScore>,
    /// confusion[gold][predicted], rows and columns in `Move::ALL` order.
    pub confusion: Vec<Vec<usize>>,
    /// Expected calibration error over 10 confidence bins: how far confidence is from accuracy.
    pub calibration_error: f64,
    /// Mean confidence of the predicted move.
    pub mean_confidence: f64,
    /// Conflict (criticism, opposition or reservation) told from the rest, whichever of the
    /// three it is.
    pub conflict: ClassScore,
}

/// Score predictions (move and confidence) against gold moves.
pub fn score(gold: &[Move], predicted: &[(Move, f32)], macro_over: Option<&[Move]>) -> Report {
    let n = Move::ALL.len();
    let mut confusion = vec![vec![0usize; n]; n];
    for (g, (p, _)) in gold.iter().zip(predicted) {
        confusion[g.index()][p.index()] += 1;
    }
    let classes: Vec<ClassScore> = Move::ALL
        .iter()
        .map(|&m| {
            let i = m.index();
            let tp = confusion[i][i] as f64;
            let gold_n: usize = confusion[i].iter().sum();
            let pred_n: usize = confusion.iter().map(|row| row[i]).sum();
            let precision = if pred_n > 0 { tp / pred_n as f64 } else { 0.0 };
            let recall = if gold_n > 0 { tp / gold_n as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScore {
                label: m,
                precision,
                recall,
                f1,
                support: gold_n,
            }
        })
        .collect();
    let over: Vec<Move> = match macro_over {
        Some(m) => m.to_vec(),
        None => classes
            .iter()
            .filter(|c| c.support > 0)
            .map(|c| c.label)
            .collect(),
    };
    let macro_f1 =
        over.iter().map(|m| classes[m.index()].f1).sum::<f64>() / over.len().max(1) as f64;
    let correct = gold
        .iter()
        .zip(predicted)
        .filter(|(g, (p, _))| g == &p)
        .count();
    // Expected calibration error.
    let mut bins = [(0usize, 0f64, 0usize); 10];
    for (g, (p, c)) in gold.iter().zip(predicted) {
        let b = ((*c as f64 * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += *c as f64;
        bins[b].2 += usize::from(g == p);
    }
    let total = gold.len().max(1) as f64;
    let calibration_error = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|(count, conf, right)| {
            (*count as f64 / total) * (conf / *count as f64 - *right as f64 / *count as f64).abs()
        })
        .sum();
    let (mut tp, mut gold_n, mut pred_n) = (0usize, 0usize, 0usize);
    for (g, (p, _)) in gold.iter().zip(predicted) {
        tp += usize::from(g.is_conflict() && p.is_conflict());
        gold_n += usize::from(g.is_conflict());
        pred_n += usize::from(p.is_conflict());
    }
    let (cp, cr) = (
        tp as f64 / pred_n.max(1) as f64,
        tp as f64 / gold_n.max(1) as f64,
    );
    let conflict = ClassScore {
        label: Move::Criticism,
        precision: cp,
        recall: cr,
        f1: if cp + cr > 0.0 {
            2.0 * cp * cr / (cp + cr)
        } else {
            0.0
        },
        support: gold_n,
    };
    Report {
        conflict,
        examples: gold.len(),
        accuracy: correct as f64 / total,
        macro_f1,
        macro_over: over,
        classes,
        confusion,
        calibration_error,
        mean_confidence: predicted.iter().map(|(_, c)| *c as f64).sum::<f64>() / total,
    }
}

impl Report {
    /// The human-readable table `eval positions` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{:<12} {:>9} {:>7} {:>7} {:>8}\n",
            "move", "precision", "recall", "F1", "support"
        ));
        for c in &self.classes {
            if c.support == 0 && self.confusion.iter().all(|row| row[c.label.index()] == 0) {
                continue;
            }
            s.push_str(&format!(
                "{:<12} {:>9.3} {:>7.3} {:>7.3} {:>8}\n",
                c.label.name(),
                c.precision,
                c.recall,
                c.f1,
                c.support
            ));
        }
        s.push_str(&format!(
            "\nmacro-F1 {:.3} over {} ({} examples); accuracy {:.3}\n",
            self.macro_f1,
            self.macro_over
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", "),
            self.examples,
            self.accuracy
        ));
        s.push_str(&format!(
            "calibration: mean confidence {:.3}, expected calibration error {:.3}\n",
            self.mean_confidence, self.calibration_error
        ));
        if self.conflict.support > 0 {
            s.push_str(&format!(
                "conflict (criticism, opposition, reservation): precision {:.3}, recall {:.3}, F1 {:.3} ({} gold)\n",
                self.conflict.precision, self.conflict.recall, self.conflict.f1, self.conflict.support
            ));
        }
        s.push_str("\nconfusion (rows: gold, columns: predicted)\n");
        s.push_str(&format!("{:<12}", ""));
        for m in Move::ALL {
            s.push_str(&format!(" {:>5}", &m.name()[..5]));
        }
        s.push('\n');
        for m in Move::ALL {
            let row = &self.confusion[m.index()];
            if row.iter().sum::<usize>() == 0 {
                continue;
            }
            s.push_str(&format!("{:<12}", m.name()));
            for v in row {
                s.push_str(&format!(" {v:>5}"));
            }
            s.push('\n');
        }
        s
    }
}

/// Target extraction against gold spans: a found target counts when it overlaps the gold span.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetScore {
    /// Utterances whose gold names a target.
    pub gold: usize,
    /// Utterances where a target was found.
    pub found: usize,
    /// Found and overlapping the gold span.
    pub matched: usize,
}

impl TargetScore {
    pub fn add(&mut self, text: &str, gold: Option<&str>, found: Option<&str>) {
        self.gold += usize::from(gold.is_some());
        self.found += usize::from(found.is_some());
        if let (Some(g), Some(f)) = (gold, found) {
            let span = |s: &str| text.find(s).map(|a| (a, a + s.len()));
            if let (Some((ga, gb)), Some((fa, fb))) = (span(g), span(f)) {
                self.matched += usize::from(fa < gb && ga < fb);
            }
        }
    }
    pub fn precision(&self) -> f64 {
        self.matched as f64 / self.found.max(1) as f64
    }
    pub fn recall(&self) -> f64 {
        self.matched as f64 / self.gold.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_small_confusion() {
        use Move::*;
        let gold = [Support, Support, Opposition, Question];
        let pred = [
            (Support, 0.9),
            (Opposition, 0.6),
            (Opposition, 0.8),
            (Question, 0.99),
        ];
        let r = score(&gold, &pred, None);
        assert_eq!(r.confusion[Support.index()][Opposition.index()], 1);
        let s = &r.classes[Support.index()];
        assert_eq!((s.precision, s.recall), (1.0, 0.5));
        let o = &r.classes[Opposition.index()];
        assert_eq!((o.precision, o.recall), (0.5, 1.0));
        assert!((r.macro_f1 - (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-9);
        assert_eq!(r.accuracy, 0.75);
        assert!(r.calibration_error > 0.0);
    }
}
