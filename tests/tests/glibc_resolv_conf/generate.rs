//! Seeded resolv.conf files, realistic and hostile.
//!
//! Every file comes from one `ChaCha8Rng` seeded with the run's seed, so a seed and a file
//! number name the same bytes on every machine. What they cover:
//! - line endings `\n`, `\r\n`, `\r` and none at the end of the file, alone or mixed; blank
//!   lines, indented lines, NUL bytes, bytes that are not UTF-8, lines of 10 KiB;
//! - comments starting with `#` or `;`, at the start of a line and after values;
//! - spaces and tabs (and `\v`, `\f`, `\r`, which glibc does not treat as separators) between
//!   keyword and values; keywords misspelt, upper-case, glued to their value or alone;
//! - IPv4 in every form `inet_aton` and glibc's parser accept or reject: octal, hex, 1 to 5
//!   parts, values one past each part's limit, trailing garbage;
//! - IPv6 full, compressed, with an IPv4 tail, malformed, and with zones of every kind (an
//!   interface name that exists or not, numbers at and past `u32::MAX`, signs, empty, on
//!   link-local, multicast, loopback and global addresses);
//! - stubborn's `IP:PORT` and `[IPv6]:PORT` forms, good and bad;
//! - 0 to 40 name servers; `search` and `domain` in every order, with 0 to 40 domains, labels
//!   and names at and past their length limits, leading and trailing dots, root, comment words;
//! - every option with good, bad, huge and negative values, unknown and misspelt options, and
//!   options glibc knows but stubborn does not use;
//! - empty files, comments only, binary junk.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Host name without a dot: glibc finds no fallback search domain in it.
pub const PLAIN_HOSTNAME: &str = "stubborn-probe";
/// Host name whose domain glibc uses as the search list when a file gives none. No generated
/// file names this domain, so seeing it in glibc's list means glibc took it from the host name.
pub const DOTTED_HOSTNAME: &str = "probe.fallback.invalid";
/// The domain glibc takes from [`DOTTED_HOSTNAME`].
pub const HOSTNAME_DOMAIN: &str = "fallback.invalid";

/// One generated file and the host name its probe runs under.
pub struct Generated {
    pub text: Vec<u8>,
    pub hostname: &'static str,
}

/// The files of one run: `count` files from `seed`.
pub fn files(seed: u64, count: usize) -> Vec<Generated> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    (0..count).map(|_| g.file()).collect()
}

struct Gen {
    rng: ChaCha8Rng,
}

/// How the lines of a file end.
#[derive(Clone, Copy)]
enum Endings {
    Lf,
    CrLf,
    Cr,
    Mixed,
    LfNoFinal,
}

const IFACES: [&str; 10] = [
    "lo",
    "lo",
    "eth0",
    "ens3",
    "nosuchif0",
    "LO",
    "lo ",
    "averyveryverylonginterfacename",
    "",
    "lo%eth0",
];

const ZONE_NUMBERS: [&str; 14] = [
    "0",
    "1",
    "2",
    "99",
    "01",
    "007",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "+1",
    "-1",
    "1x",
    " 1",
    "0x1",
];

const IPV4_FIXED: [&str; 48] = [
    "127.0.0.1",
    "10.0.0.1",
    "192.168.1.1",
    "0.0.0.0",
    "255.255.255.255",
    "127.1",
    "10.1.2",
    "127.0.1",
    "2130706433",
    "4294967295",
    "4294967296",
    "0x7f.0.0.1",
    "0X7F.0.0.1",
    "0x7f000001",
    "0x7F.1",
    "010.0.0.1",
    "0177.0.0.1",
    "01.02.03.04",
    "08.1.1.1",
    "09.0.0.1",
    "1.2.3.08",
    "0x",
    "0x.1.1.1",
    "0xg.1.1.1",
    "256.0.0.1",
    "1.256.0.1",
    "1.2.3.256",
    "1.2.65535",
    "1.2.65536",
    "1.16777215",
    "1.16777216",
    "0xffffffff",
    "0x100000000",
    "99999999999999999999",
    "1.2.3.4.5",
    "1.2.3.4.",
    ".1.2.3",
    "1..2.3",
    "1.2.3.4x",
    "1.2.3.4/24",
    "+1.2.3.4",
    "-1.2.3.4",
    "1.2.3.0x4",
    "1.2.3.04",
    "1.2.3.4\u{b}",
    "1.2.3.4\u{c}",
    "\u{661}.\u{662}.\u{663}.\u{664}",
    "1.2.3.4\u{a0}",
];

const IPV6_FIXED: [&str; 40] = [
    "::1",
    "::",
    "fe80::1",
    "FE80::1",
    "fe80::",
    "febf::1",
    "fec0::1",
    "ff02::1",
    "ff01::1",
    "ff12::1",
    "ff05::1",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "2001:4860:4860::8888",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    ":1::",
    "1:",
    ":::",
    "1:::2",
    "::ffff:1.2.3.4",
    "::ffff:127.0.0.1",
    "::1.2.3.4",
    "::ffff:01.2.3.4",
    "::ffff:1.2.3",
    "::ffff:1.2.3.4.5",
    "::ffff:256.1.1.1",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "12345::1",
    "00001::1",
    "0001:0002::",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8::",
    "[::1]",
    "::1]",
    "fe80::1::",
];

const DOMAINS: [&str; 40] = [
    "example.com",
    "corp.example.com",
    "Example.COM",
    "example.com.",
    ".example.com",
    "..example.com",
    "example.com..",
    ".",
    "..",
    "a..b",
    "lan",
    "local",
    "localdomain",
    "home.arpa",
    "default.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "ec2.internal",
    "c.project-123.internal.",
    "google.internal.",
    "in.our.internal.domain",
    "-bad.example",
    "bad-.example",
    "under_score.example",
    "_tcp.example",
    "xn--bcher-kva.example",
    "xn--bad.example",
    "b\u{fc}cher.example",
    "*.example",
    "a/b.example",
    "a\\.b.example",
    "1.2.3.4",
    "#",
    "#comment",
    ";",
    ";comment",
    "a#b.example",
    "a;b.example",
    "\r",
    "\u{fffd}",
];

const OPTION_FLAGS: [&str; 40] = [
    "rotate",
    "edns0",
    "use-vc",
    "single-request",
    "single-request-reopen",
    "trust-ad",
    "no-aaaa",
    "no-tld-query",
    "no_tld_query",
    "no-reload",
    "inet6",
    "debug",
    "insecure1",
    "insecure2",
    "ip6-bytestring",
    "ip6-dotint",
    "no-ip6-dotint",
    "rotatex",
    "edns0x",
    "edns",
    "use-vcx",
    "use_vc",
    "single-requestx",
    "single-request-reopenx",
    "single",
    "ROTATE",
    "rot",
    "-rotate",
    "-edns0",
    "ndots",
    "ndots=3",
    "timeout",
    "attempts",
    "attempts=2",
    "frobnicate",
    "#",
    "#rotate",
    ";use-vc",
    "strict-error",
    "",
];

const NUMBERS: [&str; 44] = [
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "15",
    "16",
    "29",
    "30",
    "31",
    "99",
    "-1",
    "-2",
    "-15",
    "-16",
    "-17",
    "-30",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "4294967297",
    "4294967301",
    "99999999999999999999",
    "-99999999999999999999",
    "",
    "x",
    "3x",
    "+3",
    "-0",
    "03",
    "0x10",
    "\u{b}3",
    "\u{c}4",
    "\r5",
    "3\r",
    "3:4",
    "1e3",
    "\u{663}",
    "+-3",
];

const JUNK_WORDS: [&str; 16] = [
    "nameserver",
    "search",
    "domain",
    "options",
    "sortlist",
    "lookup",
    "file",
    "bind",
    "port",
    "53",
    "dns.google",
    "localhost",
    "ndots:2",
    "127.0.0.1",
    "::1",
    "#",
];

impl Gen {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list.choose(&mut self.rng).copied().unwrap_or_default()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_ratio(percent, 100)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn file(&mut self) -> Generated {
        let hostname = if self.chance(12) {
            DOTTED_HOSTNAME
        } else {
            PLAIN_HOSTNAME
        };
        let roll = self.below(100);
        let text = match roll {
            0..=3 => self.trivial(),
            4..=33 => self.realistic(),
            34..=36 => self.junk(),
            37..=39 => self.huge(),
            _ => self.soup(),
        };
        Generated { text, hostname }
    }

    /// Empty, blank or comment-only files.
    fn trivial(&mut self) -> Vec<u8> {
        let body: &[&str] = &[
            "",
            "\n",
            "\r\n",
            " \t \n",
            "# only a comment\n",
            "; only a comment",
            "#nameserver 10.0.0.1\n;search example.com\n",
            "\n\n\n",
        ];
        self.pick(body).as_bytes().to_vec()
    }

    fn endings(&mut self) -> Endings {
        match self.below(100) {
            0..=49 => Endings::Lf,
            50..=64 => Endings::CrLf,
            65..=71 => Endings::Cr,
            72..=89 => Endings::Mixed,
            _ => Endings::LfNoFinal,
        }
    }

    /// Joins lines with the chosen endings.
    fn join(&mut self, lines: &[Vec<u8>], endings: Endings) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            out.extend_from_slice(line);
            let last = i + 1 == lines.len();
            let ending: &[u8] = match endings {
                Endings::Lf => b"\n",
                Endings::CrLf => b"\r\n",
                Endings::Cr => b"\r",
                Endings::LfNoFinal if last => b"",
                Endings::LfNoFinal => b"\n",
                Endings::Mixed => match self.below(8) {
                    0..=3 => b"\n",
                    4 | 5 => b"\r\n",
                    6 => b"\r",
                    _ if last => b"",
                    _ => b"\n\n",
                },
            };
            out.extend_from_slice(ending);
        }
        out
    }

    /// A well-known file, then a few mutations.
    fn realistic(&mut self) -> Vec<u8> {
        let templates: &[&[&str]] = &[
            &[
                "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).",
                "# Do not edit.",
                "#",
                "# Run \"resolvectl status\" to see details about the uplink DNS servers",
                "# currently in use.",
                "",
                "nameserver 127.0.0.53",
                "options edns0 trust-ad",
                "search lan",
            ],
            &[
                "search default.svc.cluster.local svc.cluster.local cluster.local ec2.internal",
                "nameserver 10.96.0.10",
                "options ndots:5",
            ],
            &[
                "# Generated by NetworkManager",
                "search corp.example.com",
                "nameserver 192.168.1.1",
                "nameserver fe80::1%eth0",
                "nameserver 2001:4860:4860::8888",
            ],
            &["nameserver 127.0.0.11", "options ndots:0"],
            &[
                "domain example.org",
                "search example.org",
                "nameserver 10.0.0.2",
                "nameserver 10.0.0.3",
            ],
            &[
                "domain c.project-123.internal",
                "search c.project-123.internal. google.internal.",
                "nameserver 169.254.169.254",
            ],
            &[
                "nameserver 172.31.0.2",
                "search ec2.internal",
                "options timeout:2 attempts:5 rotate",
            ],
            &[
                "; generated by /usr/sbin/dhclient-script",
                "search home.arpa",
                "nameserver 192.168.178.1",
                "nameserver fd00::2e91:abff:fe01:1",
            ],
            &[
                "nameserver 8.8.8.8",
                "nameserver 8.8.4.4",
                "nameserver 1.1.1.1",
                "nameserver 9.9.9.9",
                "options single-request-reopen timeout:1 attempts:1",
            ],
            &[
                "nameserver 127.0.0.1",
                "nameserver ::1",
                "options use-vc single-request no-aaaa",
                "sortlist 130.155.160.0/255.255.240.0 130.155.0.0",
            ],
        ];
        let template = *templates.choose(&mut self.rng).unwrap();
        let mut lines: Vec<Vec<u8>> = template.iter().map(|l| l.as_bytes().to_vec()).collect();
        for _ in 0..self.below(4) {
            let at = self.below(lines.len() + 1);
            match self.below(9) {
                0 => lines.insert(at, b"# a comment".to_vec()),
                1 => lines.insert(at, Vec::new()),
                2 => {
                    let line = self.nameserver_line();
                    lines.insert(at, line)
                }
                3 => {
                    let line = self.search_line();
                    lines.insert(at, line)
                }
                4 => {
                    let line = self.options_line();
                    lines.insert(at, line)
                }
                5 if at < lines.len() => {
                    let trailer = self.trailer();
                    lines[at].extend_from_slice(&trailer)
                }
                6 if at < lines.len() => {
                    let dup = lines[at].clone();
                    lines.insert(at, dup)
                }
                7 => lines.shuffle(&mut self.rng),
                _ => {
                    let line = self.domain_line();
                    lines.insert(at, line)
                }
            }
        }
        let endings = self.endings();
        self.join(&lines, endings)
    }

    /// Random lines of every kind.
    fn soup(&mut self) -> Vec<u8> {
        let n = self.below(14);
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            let line = match self.below(100) {
                0..=34 => self.nameserver_line(),
                35..=49 => self.search_line(),
                50..=59 => self.domain_line(),
                60..=79 => self.options_line(),
                80..=83 => self.sortlist_line(),
                84..=89 => self.comment_line(),
                90..=93 => Vec::new(),
                _ => self.odd_line(),
            };
            lines.push(line);
        }
        let endings = self.endings();
        self.join(&lines, endings)
    }

    /// Random bytes around keyword fragments.
    fn junk(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.below(40) {
            if self.chance(40) {
                out.extend_from_slice(self.pick(&JUNK_WORDS).as_bytes());
            } else {
                let bytes: &[u8] = &[b' ', b'\t', b'\n', b'\r', 0, 0xff, 0xc3, b'.', b':', b'%'];
                let b = if self.chance(50) {
                    *bytes.choose(&mut self.rng).unwrap()
                } else {
                    self.rng.random()
                };
                out.push(b);
            }
        }
        out
    }

    /// Files past every limit: many servers, long search lists, long lines.
    fn huge(&mut self) -> Vec<u8> {
        let mut lines = Vec::new();
        for i in 0..self.below(40) {
            lines.push(format!("nameserver 10.0.{}.{}", i / 250, i % 250 + 1).into_bytes());
        }
        let domains = (0..self.rng.random_range(7..60))
            .map(|i| format!("d{i}.{}", "x".repeat(self.below(60))))
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(format!("search {domains}").into_bytes());
        if self.chance(50) {
            lines.push(format!("domain {}", "y".repeat(self.below(3000))).into_bytes());
        }
        if self.chance(50) {
            lines.push(
                format!("options {}ndots:3", "rotate ".repeat(self.below(2000))).into_bytes(),
            );
        }
        if self.chance(30) {
            lines.push(format!("# {}", "z".repeat(10_000)).into_bytes());
            lines.push(b"nameserver 10.9.9.9".to_vec());
        }
        lines.shuffle(&mut self.rng);
        let endings = self.endings();
        self.join(&lines, endings)
    }

    /// Keyword as written: usually right, sometimes not.
    fn keyword(&mut self, word: &str) -> Vec<u8> {
        let variant = match self.below(40) {
            0 => word.to_uppercase(),
            1 => format!(" {word}"),
            2 => format!("\t{word}"),
            3 => format!("{word}s"),
            4 => format!("{word}:"),
            5 => word[..word.len() - 1].to_string(),
            _ => word.to_string(),
        };
        variant.into_bytes()
    }

    /// What separates a keyword from its value, or two values.
    fn separator(&mut self) -> &'static str {
        match self.below(40) {
            0 => "",
            1 => "\u{b}",
            2 => "\u{c}",
            3 => "\r",
            4..=9 => "\t",
            10..=13 => "  ",
            14 | 15 => " \t ",
            _ => " ",
        }
    }

    /// What may follow the value(s) on a line.
    fn trailer(&mut self) -> Vec<u8> {
        let list: &[&[u8]] = &[
            b" ",
            b"\t",
            b"  \t",
            b" # comment",
            b"#comment",
            b" ; comment",
            b";comment",
            b" extra words",
            b"\0 junk after NUL",
            b"\r",
            b" \r",
            b"\xff\xfe",
        ];
        if self.chance(70) {
            Vec::new()
        } else {
            list.choose(&mut self.rng).unwrap().to_vec()
        }
    }

    fn line(&mut self, keyword: &str, words: &[Vec<u8>]) -> Vec<u8> {
        let mut line = self.keyword(keyword);
        line.extend_from_slice(self.separator().as_bytes());
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                let sep = match self.below(10) {
                    0 => "\t",
                    1 => "  ",
                    2 => " \t",
                    _ => " ",
                };
                line.extend_from_slice(sep.as_bytes());
            }
            line.extend_from_slice(word);
        }
        let trailer = self.trailer();
        line.extend_from_slice(&trailer);
        line
    }

    fn nameserver_line(&mut self) -> Vec<u8> {
        let word = self.address();
        let mut words = vec![word.into_bytes()];
        if self.chance(5) {
            words.push(self.address().into_bytes());
        }
        self.line("nameserver", &words)
    }

    fn address(&mut self) -> String {
        match self.below(100) {
            0..=19 => self.pick(&IPV4_FIXED).to_string(),
            20..=39 => self.ipv4_random(),
            40..=51 => self.pick(&IPV6_FIXED).to_string(),
            52..=63 => self.ipv6_random(),
            64..=83 => {
                let base = if self.chance(50) {
                    self.pick(&IPV6_FIXED).to_string()
                } else {
                    self.ipv6_random()
                };
                let zone = self.zone();
                format!("{base}%{zone}")
            }
            84..=93 => self.with_port(),
            _ => self
                .pick(&[
                    "",
                    "dns.google",
                    "localhost",
                    "%lo",
                    "%",
                    "::1%lo%lo",
                    "1.2.3.4%lo",
                    "10.0.0.1,10.0.0.2",
                ])
                .to_string(),
        }
    }

    fn zone(&mut self) -> String {
        if self.chance(50) {
            self.pick(&IFACES).to_string()
        } else {
            self.pick(&ZONE_NUMBERS).to_string()
        }
    }

    /// 1 to 5 parts, each decimal, octal or hex, sometimes past its limit.
    fn ipv4_random(&mut self) -> String {
        let parts = match self.below(10) {
            0 => 1,
            1 => 2,
            2 => 3,
            3 => 5,
            _ => 4,
        };
        let mut out = Vec::with_capacity(parts);
        for i in 0..parts {
            let last = i + 1 == parts;
            let limit: u64 = if last {
                match parts {
                    1 => 1 << 32,
                    2 => 1 << 24,
                    3 => 1 << 16,
                    _ => 1 << 8,
                }
            } else {
                1 << 8
            };
            let value = match self.below(10) {
                0 => limit,
                1 => limit - 1,
                2 => 0,
                _ => self.rng.random_range(0..limit),
            };
            let text = match self.below(10) {
                0 => format!("0{value:o}"),
                1 => format!("0x{value:x}"),
                2 => format!("0X{value:X}"),
                3 => format!("00{value}"),
                _ => value.to_string(),
            };
            out.push(text);
        }
        out.join(".")
    }

    /// Eight groups, compressed or not, in any case, sometimes with an IPv4 tail or too many
    /// digits.
    fn ipv6_random(&mut self) -> String {
        let mut groups: Vec<String> = (0..8)
            .map(|_| {
                let v: u16 = if self.chance(40) {
                    0
                } else {
                    self.rng.random()
                };
                match self.below(10) {
                    0 => format!("{v:04x}"),
                    1 => format!("{v:X}"),
                    2 => format!("0{v:04x}"),
                    _ => format!("{v:x}"),
                }
            })
            .collect();
        if self.chance(15) {
            groups[0] = "fe80".into();
        }
        let tail = if self.chance(15) {
            groups.truncate(6);
            format!(
                ":{}.{}.{}.{}",
                self.below(300),
                self.below(256),
                self.below(256),
                self.below(256)
            )
        } else {
            String::new()
        };
        let n = groups.len();
        let text = if self.chance(60) {
            let start = self.below(n);
            let end = self.rng.random_range(start..=n);
            format!("{}::{}", groups[..start].join(":"), groups[end..].join(":"))
        } else {
            groups.join(":")
        };
        if self.chance(10) {
            format!("{text}:{}", self.below(0x10000))
        } else {
            format!("{text}{tail}")
        }
    }

    /// stubborn's `IP:PORT` and `[IPv6]:PORT`, good and bad.
    fn with_port(&mut self) -> String {
        let port = self.pick(&[
            "53", "5353", "1", "0", "65535", "65536", "+53", "053", "", "5x", "99999",
        ]);
        match self.below(5) {
            0 => format!("[{}]:{port}", self.pick(&IPV6_FIXED)),
            1 => {
                let zone = self.zone();
                format!("[fe80::1%{zone}]:{port}")
            }
            2 => format!("{}:{port}", self.ipv4_random()),
            3 => format!("[{}]", self.pick(&IPV6_FIXED)),
            _ => format!("{}:{port}", self.pick(&IPV4_FIXED)),
        }
    }

    fn domain_word(&mut self) -> Vec<u8> {
        match self.below(100) {
            0..=49 => self.pick(&DOMAINS).as_bytes().to_vec(),
            50..=89 => {
                let labels = self.rng.random_range(1..5);
                let mut name = Vec::new();
                for i in 0..labels {
                    if i > 0 {
                        name.push(b'.');
                    }
                    let len = match self.below(20) {
                        0 => 63,
                        1 => 64,
                        2 => 0,
                        _ => self.rng.random_range(1..12),
                    };
                    let alphabet =
                        b"abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ_";
                    for _ in 0..len {
                        let c = if self.chance(95) {
                            alphabet[self.below(37)]
                        } else {
                            *alphabet.choose(&mut self.rng).unwrap()
                        };
                        name.push(c);
                    }
                }
                if self.chance(15) {
                    name.push(b'.');
                }
                if self.chance(5) {
                    name.insert(0, b'.');
                }
                name
            }
            90..=94 => {
                // Names around the 253-octet limit.
                let total = self.rng.random_range(240..270);
                let mut name = String::new();
                while name.len() < total {
                    if !name.is_empty() {
                        name.push('.');
                    }
                    let len = (total - name.len()).clamp(1, 63);
                    name.push_str(&"l".repeat(len));
                }
                name.into_bytes()
            }
            _ => {
                let raw: &[&[u8]] = &[b"caf\xe9.example", b"\xff", b"a\x00b.example", b"a\x01b"];
                raw.choose(&mut self.rng).unwrap().to_vec()
            }
        }
    }

    fn search_line(&mut self) -> Vec<u8> {
        let n = match self.below(10) {
            0 => 0,
            1 => self.rng.random_range(7..40),
            _ => self.rng.random_range(1..7),
        };
        let words: Vec<Vec<u8>> = (0..n).map(|_| self.domain_word()).collect();
        self.line("search", &words)
    }

    fn domain_line(&mut self) -> Vec<u8> {
        let n = match self.below(10) {
            0 => 0,
            1 => 2,
            _ => 1,
        };
        let words: Vec<Vec<u8>> = (0..n).map(|_| self.domain_word()).collect();
        self.line("domain", &words)
    }

    fn option_word(&mut self) -> Vec<u8> {
        let word = match self.below(100) {
            0..=49 => {
                let name = self.pick(&["ndots:", "timeout:", "attempts:"]);
                let value = self.pick(&NUMBERS);
                format!("{name}{value}")
            }
            _ => self.pick(&OPTION_FLAGS).to_string(),
        };
        word.into_bytes()
    }

    fn options_line(&mut self) -> Vec<u8> {
        let n = self.below(6);
        let words: Vec<Vec<u8>> = (0..n).map(|_| self.option_word()).collect();
        self.line("options", &words)
    }

    fn sortlist_line(&mut self) -> Vec<u8> {
        let words = [self
            .pick(&[
                "130.155.160.0/255.255.240.0 130.155.0.0",
                "10.0.0.0",
                "10.0.0.0&255.0.0.0",
                "garbage",
                "",
                "1.2.3.4/",
            ])
            .as_bytes()
            .to_vec()];
        self.line("sortlist", &words)
    }

    fn comment_line(&mut self) -> Vec<u8> {
        let list: &[&str] = &[
            "# nameserver 10.0.0.1",
            ";nameserver 10.0.0.1",
            "#",
            ";",
            " # indented comment",
            "#search commented.example",
        ];
        self.pick(list).as_bytes().to_vec()
    }

    fn odd_line(&mut self) -> Vec<u8> {
        let list: &[&str] = &[
            "nameserver",
            "search",
            "domain",
            "options",
            "nameserver ",
            "search ",
            "search \t ",
            "domain\t",
            "options\t",
            "lookup file bind",
            "port 53",
            "nameserver1.2.3.4",
            "search nameserver 10.0.0.1",
            "options nameserver 10.0.0.1",
            "\0nameserver 10.0.0.1",
            "nameserver\u{0}10.0.0.1",
        ];
        self.pick(list).as_bytes().to_vec()
    }
}
