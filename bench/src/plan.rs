//! What a run measures: the scenarios, their sizes (full or quick), and the fault
//! rules the server applies during each.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

/// The suffix the server synthesises answers under; every name asked ends with it.
pub const SUFFIX: &str = "bench.test.";
/// Names under this label are dropped by the server in the deadline and memory scenarios.
pub const DROP_LABEL: &str = "drop";

/// One scenario run against one peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scenario {
    /// Closed loop: `concurrency` lookups in flight, unique names, for `duration`.
    Throughput {
        /// Lookups in flight at once.
        concurrency: usize,
        /// How long lookups are started for.
        #[serde(with = "millis")]
        duration: Duration,
    },
    /// Open loop at a fixed rate while the server loses queries.
    Tail {
        /// The loss pattern.
        loss: Loss,
        /// Lookups started.
        lookups: u64,
        /// Lookups started per second.
        rate: u64,
    },
    /// `concurrent` lookups at once against a server that drops them all.
    Deadline {
        /// Lookups started together.
        concurrent: usize,
    },
    /// `concurrent` lookups in flight against a dropping server: memory and descriptors.
    Memory {
        /// Lookups started together.
        concurrent: usize,
    },
    /// A fresh process builds the resolver from a resolv.conf and resolves one name.
    ColdStart,
}

/// A loss pattern injected by faultdns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Each query dropped independently with probability 1%.
    OnePercent,
    /// Each query dropped independently with probability 10%.
    TenPercent,
    /// Gilbert-Elliott bursts: 5% of queries dropped, in runs of 20 on average.
    Bursty,
}

impl Loss {
    /// Every pattern, in table order.
    pub const ALL: [Loss; 3] = [Loss::OnePercent, Loss::TenPercent, Loss::Bursty];

    /// The faultdns rule that produces the pattern.
    pub fn rule(self) -> &'static str {
        match self {
            Loss::OnePercent => "drop p=0.01",
            Loss::TenPercent => "drop p=0.1",
            Loss::Bursty => "drop burst=20 loss=0.05",
        }
    }

    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Loss::OnePercent => "1% loss",
            Loss::TenPercent => "10% loss",
            Loss::Bursty => "bursty 5% (runs of 20)",
        }
    }
}

impl Scenario {
    /// The faultdns rules in force while this scenario runs.
    pub fn rules(&self) -> Vec<String> {
        match self {
            Scenario::Throughput { .. } | Scenario::ColdStart => vec![],
            Scenario::Tail { loss, .. } => vec![loss.rule().to_owned()],
            Scenario::Deadline { .. } | Scenario::Memory { .. } => {
                vec![format!("drop name=*.{DROP_LABEL}.{SUFFIX}")]
            }
        }
    }

    /// Lookups that will be in flight at once, at most (sizes thread pools).
    pub fn max_in_flight(&self) -> usize {
        match self {
            Scenario::Throughput { concurrency, .. } => *concurrency,
            // Sized for the worst loss: the pool must not be what limits the open loop.
            Scenario::Tail { .. } => 1024,
            Scenario::Deadline { concurrent } | Scenario::Memory { concurrent } => *concurrent,
            Scenario::ColdStart => 1,
        }
    }

    /// A short label for tables and progress lines.
    pub fn label(&self) -> String {
        match self {
            Scenario::Throughput { concurrency, .. } => format!("throughput c={concurrency}"),
            Scenario::Tail { loss, .. } => format!("tail {}", loss.label()),
            Scenario::Deadline { concurrent } => format!("deadline x{concurrent}"),
            Scenario::Memory { concurrent } => format!("memory x{concurrent}"),
            Scenario::ColdStart => "cold start".to_owned(),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Sizes of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizes {
    /// Concurrency levels of the throughput scenario.
    pub concurrency: Vec<usize>,
    /// How long each throughput level runs, per round.
    pub throughput_for: Duration,
    /// Rounds of each throughput level (peers interleaved); the median round is reported.
    pub throughput_rounds: usize,
    /// Lookups per loss pattern.
    pub tail_lookups: u64,
    /// Rate of the loss scenario.
    pub tail_rate: u64,
    /// Lookups started together in the deadline scenario.
    pub deadline_concurrent: usize,
    /// Lookups in flight in the memory scenario.
    pub memory_concurrent: usize,
    /// Fresh processes per peer for cold start.
    pub cold_runs: usize,
    /// How long dnsperf runs.
    pub dnsperf_for: Duration,
}

impl Sizes {
    /// The sizes of a real measurement.
    pub fn full() -> Sizes {
        Sizes {
            concurrency: vec![1, 64, 1024],
            throughput_for: Duration::from_secs(3),
            throughput_rounds: 3,
            tail_lookups: 20_000,
            tail_rate: 1_000,
            deadline_concurrent: 1_000,
            memory_concurrent: 10_000,
            cold_runs: 20,
            dnsperf_for: Duration::from_secs(10),
        }
    }

    /// Small sizes for checking that everything runs (minutes, not a measurement).
    pub fn quick() -> Sizes {
        Sizes {
            concurrency: vec![1, 64, 1024],
            throughput_for: Duration::from_millis(1_000),
            throughput_rounds: 1,
            tail_lookups: 2_000,
            tail_rate: 1_000,
            deadline_concurrent: 200,
            memory_concurrent: 2_000,
            cold_runs: 3,
            dnsperf_for: Duration::from_secs(2),
        }
    }

    /// Every scenario at these sizes, in report order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        let mut all: Vec<Scenario> = self
            .concurrency
            .iter()
            .map(|&concurrency| Scenario::Throughput {
                concurrency,
                duration: self.throughput_for,
            })
            .collect();
        all.extend(Loss::ALL.iter().map(|&loss| Scenario::Tail {
            loss,
            lookups: self.tail_lookups,
            rate: self.tail_rate,
        }));
        all.push(Scenario::Deadline {
            concurrent: self.deadline_concurrent,
        });
        all.push(Scenario::Memory {
            concurrent: self.memory_concurrent,
        });
        all.push(Scenario::ColdStart);
        all
    }
}

/// Serialise a `Duration` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_planned() {
        let all = Sizes::full().scenarios();
        assert_eq!(all.len(), 3 + 3 + 3);
        assert!(all.contains(&Scenario::Memory { concurrent: 10_000 }));
        assert!(all.contains(&Scenario::Deadline { concurrent: 1_000 }));
        for s in &all {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(&serde_json::from_str::<Scenario>(&json).unwrap(), s);
        }
    }

    #[test]
    fn rules_parse_in_faultdns() {
        for s in Sizes::quick().scenarios() {
            for rule in s.rules() {
                rule.parse::<faultdns::Rule>()
                    .unwrap_or_else(|e| panic!("{rule}: {e}"));
            }
        }
    }
}
