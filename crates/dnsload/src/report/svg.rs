//! The report as a picture: errors per host, errors over time, latency distribution.
//!
//! Hand-written SVG rather than a plotting crate: plotters needs a font backend for any text
//! (its `ttf` feature pulls in font-kit and fontconfig, system libraries), and three simple
//! charts with labels are a few hundred lines of plain text; the file renders in any browser.

use std::fmt::Write as _;

use super::MergedReport;
use crate::class::Class;
use crate::records::ClassCounts;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 260.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 30.0;

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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the three panels.
pub fn render(m: &MergedReport) -> String {
    let height = PANEL * 3.0 + 60.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    legend(&mut s, 10.0);
    hosts_panel(&mut s, m, 40.0);
    time_panel(&mut s, m, 40.0 + PANEL);
    latency_panel(&mut s, m, 40.0 + 2.0 * PANEL);
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String, y: f64) {
    let mut x = LEFT;
    for c in Class::ALL.into_iter().filter(|c| *c != Class::Ok) {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            colour(c),
            x + 16.0,
            y + 10.0,
            c.as_str()
        );
        x += 95.0;
    }
}

fn title(s: &mut String, y: f64, text: &str) {
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        LEFT,
        y + 18.0,
        esc(text)
    );
}

/// Stacked horizontal bars: failures per host, ranked.
fn hosts_panel(s: &mut String, m: &MergedReport, top: f64) {
    title(s, top, "Failures per host (most failing first)");
    let hosts: Vec<_> = m.hosts.iter().take(12).collect();
    let max = hosts.iter().map(|h| h.failures).max().unwrap_or(0).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT - 80.0;
    let row = ((PANEL - 50.0) / hosts.len().max(1) as f64).min(24.0);
    for (i, h) in hosts.iter().enumerate() {
        let y = top + 30.0 + i as f64 * row;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            y + row * 0.65,
            esc(&h.host)
        );
        let mut x = LEFT;
        for c in Class::ALL.into_iter().filter(|c| *c != Class::Ok) {
            let n = h.classes.get(c);
            if n == 0 {
                continue;
            }
            let w = n as f64 / max * plot_w;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{} {}: {n}</title></rect>",
                row * 0.8,
                colour(c),
                esc(&h.host),
                c.as_str()
            );
            x += w;
        }
        let rate = h
            .failure_rate
            .map(|r| format!(" ({:.2}%)", r * 100.0))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}{rate}</text>",
            x + 4.0,
            y + row * 0.65,
            h.failures
        );
    }
}

/// Stacked vertical bars: failures per time bucket.
fn time_panel(s: &mut String, m: &MergedReport, top: f64) {
    title(
        s,
        top,
        &format!("Failures over time ({} s buckets)", m.bucket_s),
    );
    let plot_top = top + 30.0;
    let plot_h = PANEL - 70.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    axis(s, plot_top, plot_h);
    if m.over_time.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">no failure events</text>",
            LEFT + 10.0,
            plot_top + plot_h / 2.0
        );
        return;
    }
    let first = m.over_time[0].start_unix_ms;
    let last = m.over_time[m.over_time.len() - 1].start_unix_ms;
    let width_ms = (m.bucket_s * 1e3).max(1.0);
    let n = ((last - first) as f64 / width_ms).round() as usize + 1;
    let bar = plot_w / n as f64;
    let total = |c: &ClassCounts| c.failures() as f64;
    let max = m
        .over_time
        .iter()
        .map(|b| total(&b.classes))
        .fold(1.0, f64::max);
    for b in &m.over_time {
        let i = ((b.start_unix_ms - first) as f64 / width_ms).round();
        let x = LEFT + i * bar;
        let mut y = plot_top + plot_h;
        for c in Class::ALL.into_iter().filter(|c| *c != Class::Ok) {
            let v = b.classes.get(c);
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * plot_h;
            y -= h;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\">\
                 <title>{} {}: {v}</title></rect>",
                (bar * 0.9).max(1.0),
                colour(c),
                esc(&b.start),
                c.as_str()
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"{:.1}\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{max}</text>",
        plot_top + plot_h + 16.0,
        esc(&m.over_time[0].start),
        WIDTH - RIGHT,
        plot_top + plot_h + 16.0,
        esc(&m.over_time[m.over_time.len() - 1].start),
        LEFT - 6.0,
        plot_top + 10.0,
    );
}

fn axis(s: &mut String, top: f64, h: f64) {
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"black\"/>\
         <line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        top + h,
        top + h,
        WIDTH - RIGHT,
        top + h
    );
}

/// Latency by percentile (x: 0, 90, 99, 99.9, 99.99 equally spaced; y: log ms).
fn latency_panel(s: &mut String, m: &MergedReport, top: f64) {
    title(
        s,
        top,
        "Latency by percentile (ms, log scale), merged and per host",
    );
    let plot_top = top + 30.0;
    let plot_h = PANEL - 70.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    axis(s, plot_top, plot_h);
    let Some(merged) = &m.histogram else {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">no histogram logs given</text>",
            LEFT + 10.0,
            plot_top + plot_h / 2.0
        );
        return;
    };
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
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            WIDTH - RIGHT,
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
                let q = 1.0 - 10f64.powf(-(i as f64) / 20.0);
                let q = if i == 0 { 0.0 } else { q };
                let v = h.value_at_quantile(q) as f64 / 1e3;
                format!("{:.1},{:.1}", xq(q), yv(v))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    const PALETTE: [&str; 6] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    ];
    for (i, (host, h)) in m.host_histograms.iter().enumerate().take(PALETTE.len()) {
        if h.is_empty() {
            continue;
        }
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
            esc(host)
        );
    }
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"2.5\" points=\"{}\">\
         <title>merged</title></polyline>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">merged ({} lookups)</text>",
        curve(merged),
        LEFT + 10.0,
        plot_top + 14.0,
        merged.len()
    );
}
