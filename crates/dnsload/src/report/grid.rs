//! Failures per host per time bucket: the data of the host-by-time picture.
//!
//! Basic algorithm: failure events are counted in buckets of wall-clock time, per host and per
//! class, as they stream in. Bucket widths come from one chain of readable units (1 s, 5 s,
//! 10 s, 30 s, 1 min, ... 1 day, each a multiple of the one before), so when the events span
//! more than [`MAX_FINE`] buckets the counts are folded into the next width up, exactly. The
//! grid therefore holds at most about `hosts x MAX_FINE` cells however long the input is. At
//! the end the counts are folded once more into the widths shown: about 20 buckets for the
//! text, at most [`MAX_COLUMNS`] columns for the picture. A `--bucket` width is kept as given.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::class::Class;
use crate::records::ClassCounts;

/// Readable bucket widths in ms, each a multiple of the one before.
const STEPS: [u64; 12] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 21_600_000,
    43_200_000, 86_400_000,
];
/// Most buckets the events may span before the grid folds to the next width.
const MAX_FINE: u64 = 1000;
/// Most buckets a `--bucket` width may give (it is kept as given, so it is bounded instead).
pub(super) const MAX_FIXED: u64 = 100_000;
/// Most columns in the picture: at 1000 px wide, a column is still several pixels.
pub(super) const MAX_COLUMNS: u64 = 100;
/// Buckets the text aims at.
const TEXT_BUCKETS: u64 = 20;

/// Failures per host per time bucket, as they stream in.
#[derive(Debug)]
pub(super) struct Grid {
    width_ms: u64,
    fixed: bool,
    lo: u64,
    hi: u64,
    hosts: HashMap<String, usize>,
    cells: Vec<BTreeMap<u64, u64>>,
    classes: BTreeMap<u64, ClassCounts>,
}

/// What the grid cannot hold.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TooManyBuckets {
    pub(super) span_ms: u64,
}

/// One host's row of the picture.
#[derive(Debug, Clone, Serialize)]
pub struct HostTimeRow {
    /// Host label.
    pub host: String,
    /// Failures in each column.
    pub failures: Vec<u64>,
}

/// Failures per host per column of time: the host-by-time picture's data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostTime {
    /// Width of a column, seconds.
    pub bucket_s: f64,
    /// Start of the first column, ms since the epoch.
    pub start_unix_ms: u64,
    /// Number of columns.
    pub columns: usize,
    /// Every host of the ranking, in its order (most failing first).
    pub rows: Vec<HostTimeRow>,
    /// Failures of every host by class, per column.
    pub classes: Vec<ClassCounts>,
}

impl Grid {
    /// A grid choosing its own widths, or keeping `bucket_ms` when given (not zero).
    pub(super) fn new(bucket_ms: Option<u64>) -> Self {
        Grid {
            width_ms: bucket_ms.unwrap_or(STEPS[0]),
            fixed: bucket_ms.is_some(),
            lo: u64::MAX,
            hi: 0,
            hosts: HashMap::new(),
            cells: Vec::new(),
            classes: BTreeMap::new(),
        }
    }

    /// Counts one failure of `host` that started at `t_ms`.
    pub(super) fn add(
        &mut self,
        host: &str,
        t_ms: u64,
        class: Class,
    ) -> Result<(), TooManyBuckets> {
        let (lo, hi) = (self.lo.min(t_ms), self.hi.max(t_ms));
        let span_ms = hi - lo;
        if self.fixed {
            if span_ms / self.width_ms > MAX_FIXED {
                return Err(TooManyBuckets { span_ms });
            }
        } else {
            while span_ms / self.width_ms > MAX_FINE {
                match STEPS.iter().find(|w| **w > self.width_ms) {
                    Some(wider) => self.fold(*wider),
                    None => break,
                }
            }
        }
        (self.lo, self.hi) = (lo, hi);
        let index = match self.hosts.get(host) {
            Some(i) => *i,
            None => {
                self.hosts.insert(host.to_string(), self.cells.len());
                self.cells.push(BTreeMap::new());
                self.cells.len() - 1
            }
        };
        let bucket = t_ms / self.width_ms * self.width_ms;
        *self.cells[index].entry(bucket).or_default() += 1;
        self.classes.entry(bucket).or_default().add(class, 1);
        Ok(())
    }

    /// Folds every count into buckets `width` wide (a multiple of the current width).
    fn fold(&mut self, width: u64) {
        let refold = |m: &BTreeMap<u64, u64>| {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                *out.entry(k / width * width).or_insert(0u64) += v;
            }
            out
        };
        for row in &mut self.cells {
            *row = refold(row);
        }
        let mut classes: BTreeMap<u64, ClassCounts> = BTreeMap::new();
        for (k, v) in &self.classes {
            let to = classes.entry(k / width * width).or_default();
            for c in Class::ALL {
                to.add(c, v.get(c));
            }
        }
        self.classes = classes;
        self.width_ms = width;
    }

    /// Whether no failure was counted.
    pub(super) fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    /// The width of the text's buckets: the one given, or about a twentieth of the span.
    pub(super) fn text_width_ms(&self) -> u64 {
        if self.fixed {
            return self.width_ms;
        }
        let span = self.hi.saturating_sub(self.lo);
        readable_width(span, TEXT_BUCKETS).max(self.width_ms)
    }

    /// Failures of every host by class, per text bucket (only buckets with failures).
    pub(super) fn over_time(&self) -> (u64, Vec<(u64, ClassCounts)>) {
        let width = self.text_width_ms();
        let mut out: BTreeMap<u64, ClassCounts> = BTreeMap::new();
        for (k, v) in &self.classes {
            let to = out.entry(k / width * width).or_default();
            for c in Class::ALL {
                to.add(c, v.get(c));
            }
        }
        (width, out.into_iter().collect())
    }

    /// The picture's columns, with a row for every host of `ranking` in its order.
    pub(super) fn host_time(&self, ranking: &[&str]) -> HostTime {
        if self.is_empty() {
            return HostTime {
                rows: ranking
                    .iter()
                    .map(|h| HostTimeRow {
                        host: h.to_string(),
                        failures: Vec::new(),
                    })
                    .collect(),
                ..HostTime::default()
            };
        }
        let fine = self.width_ms;
        let first = self.lo / fine * fine;
        let last = self.hi / fine * fine;
        let span = last - first;
        // A readable width giving at most MAX_COLUMNS columns (at least the grid's own), then,
        // if the span is beyond every readable width, a multiple of it.
        let base = if self.fixed {
            fine
        } else {
            readable_width(span, MAX_COLUMNS).max(fine)
        };
        let needed = u128::from(span / base) + 1;
        let factor = needed.div_ceil(u128::from(MAX_COLUMNS)).max(1);
        let column = u64::try_from(u128::from(base) * factor).unwrap_or(u64::MAX);
        let columns = usize::try_from(span / column + 1).unwrap_or(usize::MAX);
        let col = |bucket: u64| usize::try_from((bucket - first) / column).unwrap_or(0);
        let rows = ranking
            .iter()
            .map(|host| {
                let mut failures = vec![0u64; columns];
                if let Some(i) = self.hosts.get(*host) {
                    for (bucket, n) in &self.cells[*i] {
                        let c = col(*bucket).min(columns - 1);
                        failures[c] = failures[c].saturating_add(*n);
                    }
                }
                HostTimeRow {
                    host: host.to_string(),
                    failures,
                }
            })
            .collect();
        let mut classes = vec![ClassCounts::default(); columns];
        for (bucket, counts) in &self.classes {
            let to = &mut classes[col(*bucket).min(columns - 1)];
            for c in Class::ALL {
                to.add(c, counts.get(c));
            }
        }
        HostTime {
            bucket_s: column as f64 / 1e3,
            start_unix_ms: first,
            columns,
            rows,
            classes,
        }
    }
}

/// The narrowest readable width giving at most `buckets` buckets over `span_ms` (the widest
/// when none does).
fn readable_width(span_ms: u64, buckets: u64) -> u64 {
    STEPS
        .into_iter()
        .find(|w| span_ms / w < buckets)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_readable_units() {
        assert_eq!(readable_width(10_000, 20), 1_000);
        assert_eq!(readable_width(600_000, 20), 60_000);
        assert_eq!(readable_width(599_999, 20), 30_000);
        assert_eq!(readable_width(3_600_000 * 24, 20), 21_600_000);
        assert_eq!(readable_width(u64::MAX, 20), 86_400_000);
    }

    #[test]
    fn folding_keeps_every_count_and_bounds_the_grid() {
        let mut g = Grid::new(None);
        let t0 = 1_767_225_600_000u64;
        // One failure a second for a day on one host, one every 10 s on another.
        for s in 0..86_400u64 {
            g.add("a", t0 + s * 1000, Class::Timeout).unwrap();
            if s % 10 == 0 {
                g.add("b", t0 + s * 1000 + 1, Class::Nxdomain).unwrap();
            }
        }
        assert!(g.cells.iter().all(|row| row.len() as u64 <= MAX_FINE + 1));
        let total: u64 = g.cells.iter().flat_map(|r| r.values()).sum();
        assert_eq!(total, 86_400 + 8_640);
        let ht = g.host_time(&["a", "b", "c"]);
        assert!(ht.columns as u64 <= MAX_COLUMNS, "{}", ht.columns);
        assert_eq!(ht.rows[0].failures.iter().sum::<u64>(), 86_400);
        assert_eq!(ht.rows[1].failures.iter().sum::<u64>(), 8_640);
        assert!(ht.rows[2].failures.iter().all(|n| *n == 0));
        let by_class: u64 = ht.classes.iter().map(|c| c.failures()).sum();
        assert_eq!(by_class, 86_400 + 8_640);
        assert_eq!((ht.bucket_s, ht.columns), (1800.0, 48));
        let (width, text) = g.over_time();
        assert_eq!(width, 21_600_000);
        assert_eq!(text.len(), 4);
    }

    #[test]
    fn columns_line_up_with_time() {
        let mut g = Grid::new(None);
        let t0 = 1_767_225_600_000u64;
        g.add("a", t0, Class::Timeout).unwrap();
        g.add("b", t0 + 14_500, Class::Timeout).unwrap();
        let ht = g.host_time(&["b", "a"]);
        assert_eq!((ht.bucket_s, ht.columns, ht.start_unix_ms), (1.0, 15, t0));
        assert_eq!(ht.rows[0].host, "b");
        assert_eq!(ht.rows[0].failures[14], 1);
        assert_eq!(ht.rows[1].failures[0], 1);
    }

    #[test]
    fn a_given_width_is_kept_and_bounded() {
        let mut g = Grid::new(Some(7_000));
        g.add("a", 0, Class::Timeout).unwrap();
        g.add("a", 700_000, Class::Timeout).unwrap();
        let ht = g.host_time(&["a"]);
        // 101 buckets of 7 s: two to a column.
        assert_eq!((ht.bucket_s, ht.columns), (14.0, 51));
        assert_eq!(g.over_time().0, 7_000);
        let mut g = Grid::new(Some(1));
        g.add("a", 0, Class::Timeout).unwrap();
        assert!(g.add("a", 10_000_000, Class::Timeout).is_err());
        // Far apart events with the widest readable width: columns are a multiple of it.
        let mut g = Grid::new(None);
        g.add("a", 0, Class::Timeout).unwrap();
        g.add("a", u64::MAX, Class::Timeout).unwrap();
        let ht = g.host_time(&["a"]);
        assert!(ht.columns as u64 <= MAX_COLUMNS);
        assert_eq!(ht.rows[0].failures.iter().sum::<u64>(), 2);
    }
}
