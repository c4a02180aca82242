//! Parsers for the kernel's counter files, pure functions of their text.
//!
//! Every parser takes the whole file as `&str` and returns a value or a [`FormatError`] saying
//! what was unexpected; none panics on any input (the fuzz targets call them on arbitrary
//! bytes). Formats, as each kernel writes them:
//!
//! - `/proc/net/snmp`: pairs of lines per protocol, `Udp: Name Name ...` then `Udp: 1 2 ...`,
//!   decimal. Read by name: older kernels lack `InCsumErrors`, `IgnoredMulti`, `MemErrors`.
//! - `/proc/net/stat/nf_conntrack`: a header line of column names, then one line per possible
//!   CPU of 8-digit hexadecimal 32-bit values. The column set differs between kernels (2.6 had
//!   16 columns ending in `expect_delete`; 3.x and 4.x added `search_restart`; 5.x renamed
//!   `searched` to `clashres` and later `delete_list` to `chainlength`), so columns are read by
//!   their header name, never by position. `entries` is the table's fill (the same on every
//!   line), not a counter.
//! - `/proc/net/softnet_stat`: no header; one line per online CPU of 8-digit hexadecimal 32-bit
//!   values whose meaning is their position (`net/core/net-procfs.c`, `softnet_seq_show`):
//!   0 `processed`, 1 `dropped` (the CPU's input backlog was full, `netdev_max_backlog`, or its
//!   flow limit hit), 2 `time_squeeze` (the receive softirq ran out of budget or time with work
//!   left), 3-7 zero (once fastroute), 8 zero (once `cpu_collision`), 9 `received_rps`,
//!   10 `flow_limit_count`, 11 backlog length (5.10+), 12 the CPU's number (5.10+), 13 and 14
//!   input and process queue lengths (6.x). Older kernels write fewer columns (2.6.32: 9, 3.11:
//!   11, 5.10: 13; the test inputs are real files of each). Offline CPUs are not listed, so a line is
//!   matched to its CPU by column 12 where there is one, else by its position.

use std::fmt;

use crate::netstat::UdpCounters;

/// A counter file whose text is not in any format this module knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn bad(reason: impl Into<String>) -> FormatError {
    FormatError(reason.into())
}

/// The `Udp:` counters of `/proc/net/snmp` (IPv4 UDP; `UdpLite:` is not read).
pub fn snmp_udp(text: &str) -> Result<UdpCounters, FormatError> {
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let header: Vec<&str> = udp
        .next()
        .ok_or_else(|| bad("no `Udp:` lines"))?
        .split_whitespace()
        .skip(1)
        .collect();
    let values: Vec<&str> = udp
        .next()
        .ok_or_else(|| bad("a `Udp:` header without values"))?
        .split_whitespace()
        .skip(1)
        .collect();
    if header.len() != values.len() {
        return Err(bad(format!(
            "`Udp:` has {} names but {} values",
            header.len(),
            values.len()
        )));
    }
    let get = |key: &str| -> Result<u64, FormatError> {
        match header.iter().position(|h| *h == key) {
            // Absent on this kernel: counted as zero growth.
            None => Ok(0),
            Some(i) => values[i]
                .parse()
                .map_err(|_| bad(format!("`Udp: {key}` is not a counter: {:?}", values[i]))),
        }
    };
    if !header.contains(&"InErrors") {
        return Err(bad("`Udp:` lines without InErrors"));
    }
    Ok(UdpCounters {
        in_errors: get("InErrors")?,
        rcvbuf_errors: get("RcvbufErrors")?,
        sndbuf_errors: get("SndbufErrors")?,
        no_ports: get("NoPorts")?,
    })
}

/// `/proc/net/stat/nf_conntrack`: the columns by name and one row of values per CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackStat {
    /// Column names as the kernel's header gives them, `entries` left out.
    pub columns: Vec<String>,
    /// Per CPU, one value per column of [`columns`](Self::columns).
    pub cpus: Vec<Vec<u32>>,
    /// The `entries` column (the table's fill in this network namespace), when present.
    pub entries: Option<u32>,
}

impl ConntrackStat {
    /// The sum over CPUs of column `name` (`None` when this kernel has no such column).
    pub fn total(&self, name: &str) -> Option<u64> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.cpus.iter().map(|row| u64::from(row[i])).sum())
    }
}

/// Parses `/proc/net/stat/nf_conntrack`.
pub fn conntrack_stat(text: &str) -> Result<ConntrackStat, FormatError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("empty"))?
        .split_whitespace()
        .collect();
    if header.is_empty()
        || header
            .iter()
            .any(|h| h.len() == 8 && u32::from_str_radix(h, 16).is_ok())
    {
        return Err(bad("no header line of column names"));
    }
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(bad(format!("column `{name}` appears twice")));
        }
    }
    let entries_at = header.iter().position(|h| *h == "entries");
    let columns: Vec<String> = header
        .iter()
        .filter(|h| **h != "entries")
        .map(|h| h.to_string())
        .collect();
    let mut cpus = Vec::new();
    let mut entries = None;
    for (n, line) in lines.enumerate() {
        let values: Vec<&str> = line.split_whitespace().collect();
        if values.len() != header.len() {
            return Err(bad(format!(
                "CPU line {} has {} values for {} columns",
                n + 1,
                values.len(),
                header.len()
            )));
        }
        let mut row = Vec::with_capacity(columns.len());
        for (i, v) in values.iter().enumerate() {
            let value = u32::from_str_radix(v, 16)
                .map_err(|_| bad(format!("CPU line {}: {v:?} is not hexadecimal", n + 1)))?;
            if Some(i) == entries_at {
                entries = Some(value);
            } else {
                row.push(value);
            }
        }
        cpus.push(row);
    }
    if cpus.is_empty() {
        return Err(bad("a header without CPU lines"));
    }
    Ok(ConntrackStat {
        columns,
        cpus,
        entries,
    })
}

/// One CPU's line of `/proc/net/softnet_stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftnetCpu {
    /// The CPU's number (column 12) on kernels that write it, else the line's position.
    pub cpu: u32,
    /// Column 0: packets taken off the input queue.
    pub processed: u32,
    /// Column 1: packets dropped because the CPU's input backlog was full.
    pub dropped: u32,
    /// Column 2: times the receive softirq stopped with work left (budget or time spent).
    pub time_squeeze: u32,
}

/// Parses `/proc/net/softnet_stat` (see the module docs for the columns).
pub fn softnet_stat(text: &str) -> Result<Vec<SoftnetCpu>, FormatError> {
    let mut cpus = Vec::new();
    for (n, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let values = line
            .split_whitespace()
            .map(|v| u32::from_str_radix(v, 16))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| bad(format!("line {} is not hexadecimal values", n + 1)))?;
        if values.len() < 3 {
            return Err(bad(format!(
                "line {} has {} values, fewer than the 3 every kernel writes",
                n + 1,
                values.len()
            )));
        }
        let position = u32::try_from(n).unwrap_or(u32::MAX);
        cpus.push(SoftnetCpu {
            cpu: values.get(12).copied().unwrap_or(position),
            processed: values[0],
            dropped: values[1],
            time_squeeze: values[2],
        });
    }
    if cpus.is_empty() {
        return Err(bad("no CPU lines"));
    }
    Ok(cpus)
}

/// A sysctl holding one decimal number (`nf_conntrack_count`, `nf_conntrack_max`).
pub fn number(text: &str) -> Result<u64, FormatError> {
    text.trim()
        .parse()
        .map_err(|_| bad(format!("not a number: {:?}", text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real files: this machine's kernel (6.18: `clashres` ... `chainlength`, 15 softnet
    // columns), and captures published with other parsers' tests (see fixtures/README.md).
    const CT_6_18: &str = include_str!("fixtures/nf_conntrack-6.18");
    const CT_5_X: &str = include_str!("fixtures/nf_conntrack-5.x");
    const CT_4_X: &str = include_str!("fixtures/nf_conntrack-4.x");
    const CT_2_6: &str = include_str!("fixtures/nf_conntrack-2.6");
    const SN_6_18: &str = include_str!("fixtures/softnet_stat-6.18");
    const SN_6_4: &str = include_str!("fixtures/softnet_stat-6.4.7");
    const SN_5_10: &str = include_str!("fixtures/softnet_stat-5.10.47");
    const SN_3_11: &str = include_str!("fixtures/softnet_stat-3.11");
    const SN_2_6: &str = include_str!("fixtures/softnet_stat-2.6.32");
    const SNMP_6_18: &str = include_str!("fixtures/snmp-6.18");

    #[test]
    fn conntrack_columns_are_read_by_name_on_every_kernel() {
        // 6.18, captured here after 262,094 inserts and 50 drops of a full table.
        let s = conntrack_stat(CT_6_18).unwrap();
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.entries, Some(0x40000));
        assert_eq!(s.total("insert"), Some(262_094));
        assert_eq!(s.total("drop"), Some(50));
        assert_eq!(s.total("insert_failed"), Some(0));
        assert_eq!(s.total("chainlength"), Some(0));
        assert_eq!(s.total("searched"), None);
        assert_eq!(s.columns.len(), 16, "every column but entries");
        // 5.x: `clashres`, and still `delete_list`.
        let s = conntrack_stat(CT_5_X).unwrap();
        assert_eq!(s.total("clashres"), Some(4));
        assert_eq!(s.total("insert_failed"), Some(7));
        assert_eq!(s.total("drop"), Some(7));
        assert!(s.total("delete_list").is_some() && s.total("chainlength").is_none());
        // 4.x: `searched`, four CPUs.
        let s = conntrack_stat(CT_4_X).unwrap();
        assert_eq!(s.cpus.len(), 4);
        assert_eq!(s.total("invalid"), Some(3 + 2 + 1 + 0x2f));
        assert_eq!(s.total("ignore"), Some(22_666 + 22_180 + 22_740 + 22_152));
        assert_eq!(s.total("search_restart"), Some(7));
        assert_eq!(s.total("clashres"), None);
        // 2.6: 16 columns, no search_restart, a space before each line's end.
        let s = conntrack_stat(CT_2_6).unwrap();
        assert_eq!(s.columns.len(), 15);
        assert_eq!(s.total("insert_failed"), Some(1));
        assert_eq!(s.total("drop"), Some(3));
        assert_eq!(s.total("early_drop"), Some(1));
        assert_eq!(s.total("search_restart"), None);
    }

    #[test]
    fn softnet_columns_by_position_on_every_kernel() {
        let sum = |cpus: &[SoftnetCpu]| {
            cpus.iter()
                .map(|c| (u64::from(c.dropped), u64::from(c.time_squeeze)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        };
        let here = softnet_stat(SN_6_18).unwrap();
        assert_eq!(here.len(), 2);
        assert_eq!(
            (here[0].cpu, here[1].cpu),
            (0, 1),
            "column 12 numbers the CPU"
        );
        let s = softnet_stat(SN_6_4).unwrap();
        assert_eq!((s[1].cpu, sum(&s)), (1, (0, 0x3d + 0x4f)));
        let s = softnet_stat(SN_5_10).unwrap();
        assert_eq!((s[1].cpu, sum(&s)), (1, (0, 0x383 + 0xc1)));
        let s = softnet_stat(SN_3_11).unwrap();
        assert_eq!(s.len(), 8);
        assert_eq!(s[7].cpu, 7, "no CPU column: numbered by position");
        assert_eq!(s[0].processed, 0x22be3);
        let s = softnet_stat(SN_2_6).unwrap();
        assert_eq!((s.len(), sum(&s)), (6, (0, 12)));
    }

    #[test]
    fn snmp_udp_by_name() {
        let c = snmp_udp(SNMP_6_18).unwrap();
        assert_eq!(
            (c.in_errors, c.rcvbuf_errors, c.no_ports),
            (49_363, 49_363, 351_648)
        );
        // 2.6 kernels wrote six names; the ones they lack count as zero.
        let old = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                   Udp: 10 2 3 9 1 0\n";
        assert_eq!(snmp_udp(old).unwrap().rcvbuf_errors, 1);
    }

    #[test]
    fn unexpected_text_is_an_error_not_a_panic() {
        for text in [
            "",
            "\n\n",
            "entries drop\n",
            "entries drop\n0000000g 00000001\n",
            "entries drop\n00000001\n",
            "entries drop drop\n00000001 00000001 00000001\n",
            "00000001 00000002\n",
            "entries\n100000000\n",
        ] {
            assert!(conntrack_stat(text).is_err(), "{text:?}");
        }
        for text in ["", "0000000z 0 0", "00000001 00000002", "1 2 3\n\u{0}"] {
            assert!(softnet_stat(text).is_err(), "{text:?}");
        }
        for text in [
            "",
            "Udp: InErrors\n",
            "Udp: InErrors RcvbufErrors\nUdp: 1\n",
            "Udp: InErrors\nUdp: -1\n",
            "Udp: NoPorts\nUdp: 1\n",
        ] {
            assert!(snmp_udp(text).is_err(), "{text:?}");
        }
        assert!(number("262144\n").is_ok_and(|n| n == 262_144));
        assert!(number("-1").is_err() && number("").is_err());
    }
}
