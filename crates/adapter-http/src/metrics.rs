//! A small Prometheus registry: counters and histograms with labels, rendered in the text
//! exposition format. Small on purpose: a handful of series, one lock held for microseconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Series {
    counters: BTreeMap<(&'static str, Labels), u64>,
    gauges: BTreeMap<(&'static str, Labels), i64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
    help: BTreeMap<&'static str, (&'static str, &'static str)>,
}

#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<Series>,
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_labels(out: &mut String, labels: &Labels, extra: Option<(&str, &str)>) {
    let all: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .chain(extra.map(|(k, v)| format!("{k}=\"{v}\"")))
        .collect();
    if !all.is_empty() {
        let _ = write!(out, "{{{}}}", all.join(","));
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Series> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Declares a metric's type (`counter`, `gauge`, `histogram`) and help text.
    pub fn describe(&self, name: &'static str, kind: &'static str, help: &'static str) {
        self.lock().help.insert(name, (kind, help));
    }

    pub fn inc(&self, name: &'static str, pairs: &[(&'static str, &str)], by: u64) {
        *self
            .lock()
            .counters
            .entry((name, labels(pairs)))
            .or_default() += by;
    }

    /// Sets a counter to a total kept elsewhere (the consumer's own counts).
    pub fn set_counter(&self, name: &'static str, pairs: &[(&'static str, &str)], value: u64) {
        self.lock().counters.insert((name, labels(pairs)), value);
    }

    pub fn set_gauge(&self, name: &'static str, pairs: &[(&'static str, &str)], value: i64) {
        self.lock().gauges.insert((name, labels(pairs)), value);
    }

    pub fn observe(&self, name: &'static str, pairs: &[(&'static str, &str)], seconds: f64) {
        let mut series = self.lock();
        let h = series.histograms.entry((name, labels(pairs))).or_default();
        for (i, upper) in BUCKETS.iter().enumerate() {
            if seconds <= *upper {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let series = self.lock();
        let mut out = String::new();
        let header = |out: &mut String, name: &str, last: &mut Option<String>| {
            if last.as_deref() != Some(name) {
                if let Some((kind, help)) = series.help.get(name) {
                    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                }
                *last = Some(name.to_owned());
            }
        };
        let mut last = None;
        for ((name, l), v) in &series.counters {
            header(&mut out, name, &mut last);
            out.push_str(name);
            render_labels(&mut out, l, None);
            let _ = writeln!(out, " {v}");
        }
        for ((name, l), v) in &series.gauges {
            header(&mut out, name, &mut last);
            out.push_str(name);
            render_labels(&mut out, l, None);
            let _ = writeln!(out, " {v}");
        }
        for ((name, l), h) in &series.histograms {
            header(&mut out, name, &mut last);
            for (i, upper) in BUCKETS.iter().enumerate() {
                let _ = write!(out, "{name}_bucket");
                render_labels(&mut out, l, Some(("le", &upper.to_string())));
                let _ = writeln!(out, " {}", h.counts[i]);
            }
            let _ = write!(out, "{name}_bucket");
            render_labels(&mut out, l, Some(("le", "+Inf")));
            let _ = writeln!(out, " {}", h.count);
            let _ = write!(out, "{name}_sum");
            render_labels(&mut out, l, None);
            let _ = writeln!(out, " {}", h.sum);
            let _ = write!(out, "{name}_count");
            render_labels(&mut out, l, None);
            let _ = writeln!(out, " {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let r = Registry::default();
        r.describe("requests_total", "counter", "Requests.");
        r.inc("requests_total", &[("route", "/a\"b")], 2);
        r.observe("latency_seconds", &[("route", "/a")], 0.003);
        let text = r.render();
        assert!(text.contains("# TYPE requests_total counter"), "{text}");
        assert!(
            text.contains("requests_total{route=\"/a\\\"b\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("latency_seconds_count{route=\"/a\"} 1"),
            "{text}"
        );
    }
}
