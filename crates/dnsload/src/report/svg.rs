//! The report as a picture: failures per host over time as a heat map (hosts ranked, most
//! failing first), the failures of all hosts over the same time axis above it, and the merged
//! latency below.
//!
//! Layout: every section takes the height its content needs, top to bottom, so there is no
//! blank space between them; rows shrink (to [`MIN_ROW`] px) as hosts grow, so 200 hosts make
//! a picture about 2,000 px tall with every host labelled. Each cell with failures is a `rect`
//! of class `cell` carrying `data-host`, `data-column` and `data-failures`, with a tooltip.
//!
//! Hand-written SVG rather than a plotting crate: plotters needs a font backend for any text
//! (its `ttf` feature pulls in font-kit and fontconfig, system libraries), and these charts
//! are a few hundred lines of plain text; the file renders in any browser.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::{HostTime, MergedReport};
use crate::class::Class;

const WIDTH: f64 = 1000.0;
/// Host labels.
const LEFT: f64 = 170.0;
/// Per-host totals.
const RIGHT: f64 = 150.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const MIN_ROW: f64 = 10.0;
const MAX_ROW: f64 = 22.0;
/// Height the rows aim at together, before the bounds above.
const ROWS_TARGET: f64 = 480.0;
const STRIP_H: f64 = 80.0;
const LATENCY_H: f64 = 220.0;
/// Longest host label drawn in full (the tooltip has the whole label).
const LABEL_CHARS: usize = 26;

/// A colour per failure class.
fn colour(c: Class) -> &'static str {
    match c {
        Class::Ok => "#4c9f70",
        Class::WrongName => "#d62728",
        Class::Nxdomain => "#9467bd",
        Class::Nodata => "#8c564b",
        Class::Timeout => "#ff7f0e",
        Class::Servfail => "#1f77b4",
        Class::Refused => "#17becf",
        Class::Hung => "#7f7f7f",
        Class::Error => "#bcbd22",
    }
}

/// The heat map's colour for `n` failures when the fullest cell has `max`: a log scale from
/// pale yellow (one failure) through orange to dark red, so a single failure still shows.
fn heat(n: u64, max: u64) -> String {
    const STOPS: [(f64, [f64; 3]); 3] = [
        (0.0, [254.0, 229.0, 160.0]),
        (0.5, [240.0, 100.0, 40.0]),
        (1.0, [120.0, 0.0, 20.0]),
    ];
    let f = if max <= 1 {
        1.0
    } else {
        ((n.max(1) as f64).ln() / (max as f64).ln()).clamp(0.0, 1.0)
    };
    let (a, b) = if f <= STOPS[1].0 {
        (STOPS[0], STOPS[1])
    } else {
        (STOPS[1], STOPS[2])
    };
    let t = (f - a.0) / (b.0 - a.0);
    let c = |i: usize| (a.1[i] + (b.1[i] - a.1[i]) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", c(0), c(1), c(2))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A label cut to [`LABEL_CHARS`] characters.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

/// A wall-clock time in ms since the epoch, as RFC 3339 (UTC).
fn time(ms: u64) -> String {
    crate::recorder::rfc3339(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Renders the picture.
pub fn render(m: &MergedReport) -> String {
    let mut body = String::new();
    let mut y = header(&mut body, m);
    y = strip(&mut body, &m.host_time, y);
    y = heatmap(&mut body, m, y);
    y = latency(&mut body, m, y + 10.0);
    let height = (y + 10.0).ceil();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

/// The title and the class legend; returns the y below them.
fn header(s: &mut String, m: &MergedReport) -> f64 {
    let failures: u64 = m
        .hosts
        .iter()
        .map(|h| h.failures)
        .fold(0, u64::saturating_add);
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">dnsload report: {} \
         host(s), {} run(s), {failures} failures</text>",
        m.hosts.len(),
        m.runs
    );
    let mut x = 10.0;
    for c in Class::ALL.into_iter().filter(|c| *c != Class::Ok) {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"42\">{}</text>",
            colour(c),
            x + 16.0,
            c.as_str()
        );
        x += 100.0;
    }
    52.0
}

fn column_x(ht: &HostTime, i: usize) -> (f64, f64) {
    let w = PLOT_W / ht.columns.max(1) as f64;
    (LEFT + i as f64 * w, w)
}

/// Failures of every host per column, stacked by class, on the heat map's time axis.
fn strip(s: &mut String, ht: &HostTime, top: f64) -> f64 {
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">Failures over time, \
         all hosts</text>",
        top + 16.0
    );
    if ht.columns == 0 {
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{:.1}\">no failure events</text>",
            top + 38.0
        );
        return top + 50.0;
    }
    let base = top + 24.0 + STRIP_H;
    let max = ht
        .classes
        .iter()
        .map(|c| c.failures())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let _ = writeln!(
        s,
        "<g id=\"over-time\"><line x1=\"{LEFT}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" \
         stroke=\"#999\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{max}</text>",
        LEFT + PLOT_W,
        LEFT - 6.0,
        top + 34.0
    );
    for (i, counts) in ht.classes.iter().enumerate() {
        let (x, w) = column_x(ht, i);
        let mut y = base;
        for c in Class::ALL.into_iter().filter(|c| *c != Class::Ok) {
            let n = counts.get(c);
            if n == 0 {
                continue;
            }
            let h = n as f64 / max * STRIP_H;
            y -= h;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"{}\">\
                 <title>{} {}: {n}</title></rect>",
                (w * 0.9).max(0.5),
                colour(c),
                time(column_start(ht, i)),
                c.as_str()
            );
        }
    }
    s.push_str("</g>\n");
    base + 6.0
}

fn column_start(ht: &HostTime, i: usize) -> u64 {
    ht.start_unix_ms
        .saturating_add((ht.bucket_s * 1e3) as u64 * i as u64)
}

/// One row per host in ranked order, one column per time bucket; returns the y below it.
fn heatmap(s: &mut String, m: &MergedReport, top: f64) -> f64 {
    let ht = &m.host_time;
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">Failures per host over \
         time (most failing first){}</text>",
        top + 16.0,
        if ht.columns > 0 {
            format!(", {} s per column", ht.bucket_s)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">failures (rate)</text>",
        WIDTH - 10.0,
        top + 16.0
    );
    let rows = ht.rows.len();
    if rows == 0 {
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{:.1}\">no hosts in the input</text>",
            top + 38.0
        );
        return top + 50.0;
    }
    let row_h = (ROWS_TARGET / rows as f64).clamp(MIN_ROW, MAX_ROW);
    let font = (row_h - 2.0).min(12.0);
    let max = ht
        .rows
        .iter()
        .flat_map(|r| r.failures.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let grid_top = top + 24.0;
    let _ = writeln!(s, "<g id=\"heatmap\" font-size=\"{font:.1}\">");
    for (r, row) in ht.rows.iter().enumerate() {
        let y = grid_top + r as f64 * row_h;
        let fill = if r % 2 == 0 { "#f4f4f4" } else { "#ebebeb" };
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{y:.2}\" width=\"{PLOT_W}\" height=\"{row_h:.2}\" \
             fill=\"{fill}\"/><text class=\"host\" x=\"{:.1}\" y=\"{:.2}\" \
             text-anchor=\"end\">{}<title>{}</title></text>",
            LEFT - 6.0,
            y + row_h * 0.5 + font * 0.35,
            esc(&short(&row.host)),
            esc(&row.host)
        );
        for (i, n) in row.failures.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let (x, w) = column_x(ht, i);
            let _ = writeln!(
                s,
                "<rect class=\"cell\" data-host=\"{host}\" data-column=\"{i}\" \
                 data-failures=\"{n}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" \
                 height=\"{row_h:.2}\" fill=\"{}\"><title>{host} from {}: {n} failure(s)\
                 </title></rect>",
                heat(*n, max),
                time(column_start(ht, i)),
                host = esc(&row.host),
            );
        }
        if let Some(h) = m.hosts.iter().find(|h| h.host == row.host) {
            let rate = h
                .failure_rate
                .map(|r| format!(" ({:.2}%)", r * 100.0))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.2}\" text-anchor=\"end\">{}{rate}</text>",
                WIDTH - 10.0,
                y + row_h * 0.5 + font * 0.35,
                h.failures
            );
        }
    }
    s.push_str("</g>\n");
    let bottom = grid_top + rows as f64 * row_h;
    if ht.columns == 0 {
        return bottom + 6.0;
    }
    // Time axis: the first column's start, the middle and the end.
    let end = column_start(ht, ht.columns);
    let mid = column_start(ht, ht.columns / 2);
    let _ = writeln!(
        s,
        "<g id=\"time-axis\"><text x=\"{LEFT}\" y=\"{:.1}\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
        bottom + 14.0,
        time(ht.start_unix_ms),
        column_x(ht, ht.columns / 2).0,
        bottom + 14.0,
        time(mid),
        LEFT + PLOT_W,
        bottom + 14.0,
        time(end)
    );
    // Colour scale.
    let y = bottom + 24.0;
    let _ = write!(
        s,
        "<g id=\"scale\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">failures per cell:</text>",
        LEFT - 6.0,
        y + 10.0
    );
    let steps: Vec<u64> = {
        let mut v: Vec<u64> = (0..6)
            .map(|i| (max.max(1) as f64).powf(i as f64 / 5.0).round() as u64)
            .collect();
        v.dedup();
        v
    };
    for (i, n) in steps.iter().enumerate() {
        let x = LEFT + i as f64 * 60.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{y:.1}\" width=\"20\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{:.1}\">{n}</text>",
            heat(*n, max),
            x + 24.0,
            y + 10.0
        );
    }
    s.push_str("</g>\n");
    y + 18.0
}

/// Latency by percentile (x: 0, 90, 99, 99.9, 99.99 equally spaced; y: log ms), merged and
/// for the most failing hosts; returns the y below it.
fn latency(s: &mut String, m: &MergedReport, top: f64) -> f64 {
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">Latency by percentile \
         (ms, log scale), merged and for the most failing hosts</text>",
        top + 16.0
    );
    let Some(merged) = &m.histogram else {
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{:.1}\">no histogram logs given (dnsload run --hlog FILE)</text>",
            top + 38.0
        );
        return top + 46.0;
    };
    let plot_top = top + 28.0;
    let plot_h = LATENCY_H - 50.0;
    let plot_w = PLOT_W;
    let _ = writeln!(
        s,
        "<g id=\"latency\"><line x1=\"{LEFT}\" y1=\"{plot_top:.1}\" x2=\"{LEFT}\" y2=\"{:.1}\" \
         stroke=\"black\"/><line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" \
         stroke=\"black\"/>",
        plot_top + plot_h,
        plot_top + plot_h,
        LEFT + plot_w,
        plot_top + plot_h
    );
    // x = -log10(1 - q), from 0 (q = 0) to 4 (q = 0.9999).
    let nines = 4.0;
    let xq = |q: f64| LEFT + (-(1.0 - q).log10()).min(nines) / nines * plot_w;
    let max_ms = (merged.max() as f64 / 1e3).max(1.0);
    let min_ms = (merged.min().max(1) as f64 / 1e3)
        .min(max_ms / 10.0)
        .max(0.001);
    let (lmin, lmax) = (min_ms.log10().floor(), max_ms.log10().ceil());
    let yv = |ms: f64| {
        let l = ms.max(min_ms).log10();
        plot_top + plot_h - (l - lmin) / (lmax - lmin).max(1.0) * plot_h
    };
    let mut decade = lmin;
    while decade <= lmax {
        let v = 10f64.powf(decade);
        let y = yv(v);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
        decade += 1.0;
    }
    for (q, label) in [
        (0.0, "0"),
        (0.9, "90"),
        (0.99, "99"),
        (0.999, "99.9"),
        (0.9999, "99.99"),
    ] {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">p{label}</text>",
            xq(q),
            plot_top + plot_h + 16.0
        );
    }
    let curve = |h: &hdrhistogram::Histogram<u64>| -> String {
        (0..=80)
            .map(|i| {
                let q = if i == 0 {
                    0.0
                } else {
                    1.0 - 10f64.powf(-(i as f64) / 20.0)
                };
                let v = h.value_at_quantile(q) as f64 / 1e3;
                format!("{:.1},{:.1}", xq(q), yv(v))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    const PALETTE: [&str; 5] = ["#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#2ca02c"];
    // The most failing hosts that have a histogram, in ranked order.
    let ranked = m
        .hosts
        .iter()
        .filter_map(|h| {
            m.host_histograms
                .get(&crate::hlog::tag_for(&h.host))
                .filter(|hist| !hist.is_empty())
                .map(|hist| (h.host.as_str(), hist))
        })
        .take(PALETTE.len());
    for (i, (host, h)) in ranked.enumerate() {
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\">\
             <title>{}</title></polyline>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{}</text>",
            PALETTE[i],
            curve(h),
            esc(host),
            LEFT + 10.0,
            plot_top + 14.0 * (i as f64 + 2.0),
            PALETTE[i],
            esc(&short(host))
        );
    }
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"2.5\" points=\"{}\">\
         <title>merged</title></polyline>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">merged ({} lookups)</text></g>",
        curve(merged),
        LEFT + 10.0,
        plot_top + 14.0,
        merged.len()
    );
    plot_top + plot_h + 22.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_runs_from_pale_to_dark_and_one_failure_shows() {
        assert_eq!(heat(1, 100), "#fee5a0");
        assert_eq!(heat(100, 100), "#780014");
        assert_eq!(heat(1, 1), "#780014");
        assert_ne!(heat(10, 100), heat(1, 100));
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(short("h5"), "h5");
        let long = "node-".repeat(10);
        assert_eq!(short(&long).chars().count(), LABEL_CHARS);
    }
}
