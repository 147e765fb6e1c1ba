//! Diagnostics for bad declarations: file, line, column, the offending line, and a hint.
//!
//! Rendering is miette's graphical handler (the same layout people know from rustc and uv), with
//! colour only when the caller asks for it.

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// One declarations file, kept for the whole run so that any later stage can point into it.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path as the user gave it (relative stays relative), for messages.
    pub path: PathBuf,
    pub text: Arc<String>,
}

impl Source {
    /// 1-based line and column (in characters) of a byte offset. Scans the file: for many
    /// offsets, use [`Source::line_index`] once and [`Source::location_in`].
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        LineIndex::new(&self.text).line_col(&self.text, offset)
    }

    /// `path:line:col` of a byte offset.
    pub fn location(&self, offset: usize) -> String {
        self.location_in(&LineIndex::new(&self.text), offset)
    }

    pub fn line_index(&self) -> LineIndex {
        LineIndex::new(&self.text)
    }

    /// `path:line:col` of a byte offset, with this source's index.
    pub fn location_in(&self, index: &LineIndex, offset: usize) -> String {
        let (line, col) = index.line_col(&self.text, offset);
        format!("{}:{line}:{col}", self.path.display())
    }
}

/// Where each line of a text starts, so that any number of offsets become line and column in
/// time proportional to the line, not to the file: one diagnostic per table of a 20,000-table
/// file must not scan the file from its start each time.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of a byte offset into `text` (the text this
    /// index was made from).
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }

    /// The byte range of the 0-based line `n`, without its line break.
    fn line_range(&self, text: &str, n: usize) -> std::ops::Range<usize> {
        let start = self.starts[n];
        let end = self.starts.get(n + 1).map_or(text.len(), |&next| next - 1);
        start..end.max(start)
    }

    fn lines(&self) -> usize {
        self.starts.len()
    }
}

/// A problem in the declarations, pointing at one place in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: usize,
    pub span: Range<usize>,
    pub message: String,
    pub label: String,
    pub hint: String,
}

/// All problems found, with the sources they point into. Collected rather than stopping at the
/// first, so that one run shows everything to fix.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub sources: Vec<Source>,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Renders every diagnostic, each with its source snippet.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(110)
            .with_links(false);
        let mut out = String::new();
        let indices: Vec<LineIndex> = self.sources.iter().map(Source::line_index).collect();
        for d in &self.items {
            let (Some(source), Some(index)) = (self.sources.get(d.file), indices.get(d.file))
            else {
                out.push_str(&format!("error: {}\n", d.message));
                continue;
            };
            let (window, span) = Window::around(source, index, d.span.clone());
            let mut diag = MietteDiagnostic::new(d.message.clone())
                .with_label(LabeledSpan::new_with_span(Some(d.label.clone()), span))
                .with_code(source.location_in(index, d.span.start));
            if !d.hint.is_empty() {
                diag = diag.with_help(d.hint.clone());
            }
            let report = miette::Report::new(diag).with_source_code(window);
            if handler.render_report(&mut out, report.as_ref()).is_err() {
                out.push_str(&format!(
                    "error: {}: {}\n",
                    source.location_in(index, d.span.start),
                    d.message
                ));
            }
            out.push('\n');
        }
        let n = self.items.len();
        out.push_str(&format!(
            "error: {n} problem{} in the declarations\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

/// Lines longer than this are cut around the error (miette cannot draw past column 65,535, and
/// nobody reads a 100 KB line).
const MAX_LINE: usize = 240;
/// Bytes kept before the error's start on a cut line.
const KEPT_BEFORE: usize = 80;
const ELLIPSIS: &str = "…";

/// The few lines miette shows around a diagnostic, with over-long lines cut, reporting the
/// true line numbers and column: miette is given this window instead of the whole file, so a
/// diagnostic costs the size of its lines, not of the file.
struct Window {
    name: String,
    text: String,
    /// 0-based line number in the file of the window's first line.
    first_line: usize,
    /// The window line holding the error's start, and how many bytes of the file's line are
    /// missing before its first shown byte (minus the ellipsis shown instead).
    cut: (usize, isize),
}

impl Window {
    fn around(
        source: &Source,
        index: &LineIndex,
        span: std::ops::Range<usize>,
    ) -> (Window, SourceSpan) {
        let text = source.text.as_str();
        let start = span.start.min(text.len());
        let end = span.end.clamp(start, text.len());
        let first = index.line_col(text, start).0 - 1;
        let last = index.line_col(text, end).0 - 1;
        // The context miette shows: one line before and after.
        let from = first.saturating_sub(1);
        let to = (last + 1).min(index.lines() - 1);
        let mut out = String::new();
        // Per shown line: its kept bytes in the file, and where they start in the window.
        let mut kept: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
        let mut cut = (0usize, 0isize);
        for n in from..=to {
            let line = index.line_range(text, n);
            let (mut a, mut b) = (line.start, line.end);
            if b - a > MAX_LINE {
                if n == first {
                    a = floor_boundary(text, start.saturating_sub(KEPT_BEFORE).max(a));
                    b = ceil_boundary(text, (a + MAX_LINE).min(b));
                } else {
                    b = ceil_boundary(text, a + MAX_LINE);
                }
            }
            if n > from {
                out.push('\n');
            }
            let mut shown_at = out.len();
            if a > line.start {
                out.push_str(ELLIPSIS);
                shown_at = out.len();
            }
            if n == first {
                let ellipsis = if a > line.start { ELLIPSIS.len() } else { 0 };
                cut = (n - from, (a - line.start) as isize - ellipsis as isize);
            }
            out.push_str(&text[a..b]);
            if b < line.end {
                out.push_str(ELLIPSIS);
            }
            kept.push((a..b, shown_at));
        }
        // The file goes on after the window: its line break ends the last line shown, as in the
        // file (miette shows an empty last line only when a break ends it).
        if to + 1 < index.lines() {
            out.push('\n');
        }
        let map = |offset: usize| -> usize {
            for (range, at) in &kept {
                if offset < range.start {
                    return *at;
                }
                if offset <= range.end {
                    return at + (offset - range.start);
                }
            }
            kept.last().map_or(0, |(r, at)| at + r.len())
        };
        let (s, e) = (map(start), map(end));
        let window = Window {
            name: source.path.display().to_string(),
            text: out,
            first_line: from,
            cut,
        };
        (window, (s, e.max(s) - s).into())
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        let mut column = inner.column();
        if before == 0 && inner.line() == self.cut.0 {
            column = column.saturating_add_signed(self.cut.1);
        }
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count() + self.first_line,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, span: std::ops::Range<usize>) -> String {
        Diagnostics {
            sources: vec![Source {
                path: "ferry.toml".into(),
                text: Arc::new(text.to_string()),
            }],
            items: vec![Diagnostic {
                file: 0,
                span,
                message: "bad".into(),
                label: "here".into(),
                hint: String::new(),
            }],
        }
        .render(false)
    }

    #[test]
    fn an_error_inside_a_huge_line_of_multibyte_text_is_shown_cut_with_its_true_position() {
        let line = "é".repeat(100_000);
        let text = format!("a = 1\nb = \"{line}\"\nc = 2\n");
        let start = text.find('é').unwrap() + 2 * 50_000;
        let shown = render(&text, start..start + 2);
        assert!(shown.contains("ferry.toml:2:50006"), "{shown}");
        assert!(shown.contains("[ferry.toml:2:"), "{shown}");
        assert!(
            shown.contains(" 1 │ a = 1") && shown.contains(" 3 │ c = 2"),
            "{shown}"
        );
        assert!(shown.len() < 3_000, "{} bytes", shown.len());
    }

    #[test]
    fn spans_at_the_end_of_the_file_and_past_it_render() {
        let text = "a = 1\nb = 2";
        assert!(render(text, 11..11).contains("ferry.toml:2:6"));
        assert!(render(text, 50..60).contains("ferry.toml:2:6"));
        assert!(render("", 0..0).contains("ferry.toml:1:1"));
    }

    #[test]
    fn line_index_agrees_with_a_scan() {
        let text = "ab\ncdé\n\nf";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() {
            let before = &text[..text.floor_char_boundary(offset)];
            let line = before.matches('\n').count() + 1;
            let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count()
                + 1;
            assert_eq!(index.line_col(text, offset), (line, col), "offset {offset}");
        }
    }
}
