//! Loss-run lengths: are lost queries independent, or do they come in bursts?
//!
//! Queries are numbered in the order they are sent; completions may arrive out of order, so a
//! small reorder buffer releases results in send order. A run is a maximal sequence of
//! consecutive lost queries. With independent loss at rate `p`, run lengths are geometric with
//! mean `1 / (1 - p)`; a measured mean well above that means bursts (a queue overflowing, a
//! link flapping), which is the kind of loss that defeats retries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tracks loss runs for one server.
#[derive(Debug, Default)]
pub struct LossRuns {
    next: u64,
    pending: BTreeMap<u64, bool>,
    current: u64,
    runs: BTreeMap<u64, u64>,
    sent: u64,
    lost: u64,
}

/// Loss statistics of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossStats {
    /// Queries whose result is known.
    pub sent: u64,
    /// Queries that got no reply in time.
    pub lost: u64,
    /// `lost / sent`.
    pub loss_rate: f64,
    /// Run length -> number of runs of that length.
    pub runs: BTreeMap<u64, u64>,
    /// Longest run.
    pub longest_run: u64,
    /// Mean run length measured.
    pub mean_run_length: f64,
    /// Mean run length expected if losses were independent at the same rate.
    pub independent_mean_run_length: f64,
    /// `no_loss`, `independent`, `bursty`, or `too_few_runs` to tell.
    pub verdict: String,
}

impl LossRuns {
    /// Records the result of query number `seq` (numbered from 0 in send order).
    pub fn record(&mut self, seq: u64, lost: bool) {
        self.pending.insert(seq, lost);
        while let Some(lost) = self.pending.remove(&self.next) {
            self.advance(lost);
            self.next += 1;
        }
    }

    fn advance(&mut self, lost: bool) {
        self.sent += 1;
        if lost {
            self.lost += 1;
            self.current += 1;
        } else {
            self.close_run();
        }
    }

    fn close_run(&mut self) {
        if self.current > 0 {
            *self.runs.entry(self.current).or_default() += 1;
            self.current = 0;
        }
    }

    /// The statistics so far, counting results still waiting for an earlier one in order.
    pub fn stats(&self) -> LossStats {
        let mut copy = LossRuns {
            next: self.next,
            pending: BTreeMap::new(),
            current: self.current,
            runs: self.runs.clone(),
            sent: self.sent,
            lost: self.lost,
        };
        for lost in self.pending.values() {
            copy.advance(*lost);
        }
        copy.close_run();
        copy.finish()
    }

    fn finish(self) -> LossStats {
        let loss_rate = if self.sent == 0 {
            0.0
        } else {
            self.lost as f64 / self.sent as f64
        };
        let nruns: u64 = self.runs.values().sum();
        let mean_run_length = if nruns == 0 {
            0.0
        } else {
            self.lost as f64 / nruns as f64
        };
        let independent_mean_run_length = if loss_rate < 1.0 {
            1.0 / (1.0 - loss_rate)
        } else {
            f64::INFINITY
        };
        let verdict = if self.lost == 0 {
            "no_loss"
        } else if nruns < 5 {
            "too_few_runs"
        } else if mean_run_length > 1.5 * independent_mean_run_length {
            "bursty"
        } else {
            "independent"
        };
        LossStats {
            sent: self.sent,
            lost: self.lost,
            loss_rate,
            longest_run: self.runs.keys().next_back().copied().unwrap_or(0),
            runs: self.runs,
            mean_run_length,
            independent_mean_run_length: if independent_mean_run_length.is_finite() {
                independent_mean_run_length
            } else {
                0.0
            },
            verdict: verdict.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(pattern: &str) -> LossStats {
        let mut l = LossRuns::default();
        // Complete in reverse order within pairs to exercise the reorder buffer.
        let bits: Vec<bool> = pattern.chars().map(|c| c == 'x').collect();
        for pair in (0..bits.len()).collect::<Vec<_>>().chunks(2) {
            for &i in pair.iter().rev() {
                l.record(i as u64, bits[i]);
            }
        }
        l.stats()
    }

    #[test]
    fn runs_are_counted_in_send_order() {
        let s = feed(".xx.x...xxx.");
        assert_eq!(s.sent, 12);
        assert_eq!(s.lost, 6);
        assert_eq!(s.runs, BTreeMap::from([(1, 1), (2, 1), (3, 1)]));
        assert_eq!(s.longest_run, 3);
        assert_eq!(s.mean_run_length, 2.0);
    }

    #[test]
    fn bursts_are_told_from_independent_loss() {
        let bursty = feed(&".........xxxxx".repeat(6));
        assert_eq!(bursty.verdict, "bursty");
        let independent = feed(&"....x".repeat(10));
        assert_eq!(independent.verdict, "independent");
        assert_eq!(feed("....").verdict, "no_loss");
    }

    #[test]
    fn a_run_still_open_at_the_end_counts() {
        let s = feed("..xx");
        assert_eq!(s.runs, BTreeMap::from([(2, 1)]));
    }
}
