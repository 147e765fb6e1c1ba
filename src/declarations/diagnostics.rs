//! Diagnostics for bad declarations: file, line, column, the offending line, and a hint.
//!
//! Rendering is miette's graphical handler (the same layout people know from rustc and uv), with
//! colour only when the caller asks for it.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
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
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// `path:line:col` of a byte offset.
    pub fn location(&self, offset: usize) -> String {
        let (line, col) = self.line_col(offset);
        format!("{}:{line}:{col}", self.path.display())
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
        for d in &self.items {
            let Some(source) = self.sources.get(d.file) else {
                out.push_str(&format!("error: {}\n", d.message));
                continue;
            };
            let mut diag = MietteDiagnostic::new(d.message.clone())
                .with_label(LabeledSpan::new_with_span(
                    Some(d.label.clone()),
                    d.span.start..d.span.end.max(d.span.start),
                ))
                .with_code(source.location(d.span.start));
            if !d.hint.is_empty() {
                diag = diag.with_help(d.hint.clone());
            }
            let report = miette::Report::new(diag).with_source_code(
                NamedSource::new(source.path.display().to_string(), source.text.to_string())
                    .with_language("toml"),
            );
            if handler.render_report(&mut out, report.as_ref()).is_err() {
                out.push_str(&format!(
                    "error: {}: {}\n",
                    source.location(d.span.start),
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
