//! The scale benchmark's table: each figure beside its bound and target, as markdown, and the
//! one section of BENCHMARKS.md it owns. Shared by the scale benchmarks (not every one uses
//! every kind of row).
#![allow(dead_code)]

use std::path::Path;

/// What a figure measures.
pub enum Unit {
    Seconds,
    Calls,
    Megabytes,
}

/// One line of the table.
pub struct Row {
    what: String,
    measured: f64,
    bound: f64,
    unit: Unit,
    /// The target, as the most `measured / bound` may be.
    target: f64,
    note: String,
    failed: bool,
}

impl Row {
    pub fn timed(what: String, seconds: f64, bound: f64, target: f64) -> Self {
        Row::new(what, seconds, bound, Unit::Seconds, target)
    }

    pub fn count(what: String, calls: usize, bound: usize, target: f64) -> Self {
        Row::new(what, calls as f64, bound as f64, Unit::Calls, target)
    }

    pub fn megabytes(what: String, mb: f64, bound: f64) -> Self {
        Row::new(what, mb, bound, Unit::Megabytes, 1.0)
    }

    fn new(what: String, measured: f64, bound: f64, unit: Unit, target: f64) -> Self {
        Row {
            what,
            measured,
            bound,
            unit,
            target,
            note: String::new(),
            failed: false,
        }
    }

    pub fn note(mut self, note: String) -> Self {
        self.note = note;
        self
    }

    /// Marks the row a miss whatever its ratio (a throttling error reached the caller).
    pub fn failed_if(mut self, failed: bool) -> Self {
        self.failed |= failed;
        self
    }

    fn show(&self, v: f64) -> String {
        match self.unit {
            Unit::Seconds if v < 1.0 => format!("{:.1} ms", v * 1000.0),
            Unit::Seconds => format!("{v:.2} s"),
            Unit::Calls => format!("{v:.0}"),
            Unit::Megabytes => format!("{v:.0} MB"),
        }
    }
}

/// The rows as a markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| what | measured | bound | ratio | target | met | notes |\n|---|---:|---:|---:|---:|:-:|---|\n",
    );
    for r in rows {
        let ratio = r.measured / r.bound;
        let met = ratio <= r.target && !r.failed;
        t += &format!(
            "| {} | {} | {} | {ratio:.2} | ≤ {:.2} × | {} | {} |\n",
            r.what,
            r.show(r.measured),
            r.show(r.bound),
            r.target,
            if met { "yes" } else { "**no**" },
            r.note
        );
    }
    t
}

/// This process's peak resident set (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

const INTRO: &str = "# Benchmarks\n\nFigures measured by the benchmarks ferry ships (`scripts/bench`). \
Each section is rewritten by its own benchmark; the text between the markers is generated, the \
rest is written by hand after a run.\n";

/// Replaces the text between `<!-- BEGIN name -->` and `<!-- END name -->` in `path`, creating
/// the file (with both sections) or the section when missing; nothing else is touched.
pub fn write_section(path: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut t = INTRO.to_string();
            for (section, title, by) in [
                ("scale", "Simulated cloud", "cargo bench --bench scale"),
                (
                    "scale_moto",
                    "Against moto",
                    "cargo bench --bench scale_moto",
                ),
            ] {
                t += &format!(
                    "\n## {title} (`{section}`, written by {by})\n\n<!-- BEGIN {section} -->\n<!-- END {section} -->\n"
                );
            }
            t
        }
        Err(e) => return Err(e),
    };
    let (begin, end) = (
        format!("<!-- BEGIN {name} -->"),
        format!("<!-- END {name} -->"),
    );
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        text += &format!("\n## `{name}`\n\n{begin}\n{body}{end}\n");
        return std::fs::write(path, text);
    };
    let start = b + begin.len();
    if e < start {
        return Err(std::io::Error::other(format!("{end} comes before {begin}")));
    }
    text.replace_range(start..e, &format!("\n{body}"));
    std::fs::write(path, text)
}
