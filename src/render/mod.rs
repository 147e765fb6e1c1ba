//! Stage: render. Turns a [`Plan`](crate::planner::Plan) (and `ferry check`'s verdicts) into
//! what a user reads: Terraform-like text ([`text`]), JSON for pipelines ([`json`]), a
//! pull-request comment ([`markdown`]), the estate ([`estate`]) as Graphviz DOT ([`dot`]) and
//! Mermaid ([`mermaid`]), and the preflight report
//! ([`check`]).
//!
//! Pure string building; the caller decides where it goes (data to stdout) and whether colour
//! is wanted (only on a terminal, never with `--no-color`/`NO_COLOR`). It decides nothing about
//! the plan and prints nothing.

pub mod check;
pub mod dot;
pub mod estate;
pub mod json;
pub mod markdown;
pub mod mermaid;
pub mod text;

pub use dot::graph_dot;
pub use estate::Estate;
pub use json::{JSON_FORMAT_VERSION, plan_json};
pub use markdown::{COMMENT_LIMIT, plan_markdown, plan_markdown_within};
pub use mermaid::graph_mermaid;
pub use text::{errors_text, plan_text, summary, warnings_text};

use crate::planner::Action;
use anstyle::{AnsiColor, Color, Style};

/// Every style ferry paints with, defined once.
pub mod style {
    use super::{AnsiColor, Color, Style};

    /// Emphasis: addresses, headings, labels.
    pub const BOLD: Style = Style::new().bold();
    /// `error:` and other failures.
    pub const ERROR: Style = BOLD.fg_color(Some(Color::Ansi(AnsiColor::Red)));
    /// `warning:` / `Warning:`.
    pub const WARNING: Style = BOLD.fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
    /// The `hint:` under an error of the CLI.
    pub const HINT: Style = BOLD.fg_color(Some(Color::Ansi(AnsiColor::Cyan)));
    /// `Apply complete!`, `allowed`.
    pub const SUCCESS: Style = BOLD.fg_color(Some(Color::Ansi(AnsiColor::Green)));
}

/// Adds ANSI styles when colour is on.
#[derive(Clone, Copy, Debug)]
pub struct Painter {
    pub color: bool,
}

impl Painter {
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action, text: &str) -> String {
        let color = match action {
            Action::Create => AnsiColor::Green,
            Action::Update => AnsiColor::Yellow,
            Action::Replace => AnsiColor::Magenta,
            Action::Delete => AnsiColor::Red,
            Action::Adopt => AnsiColor::Cyan,
            Action::Move => AnsiColor::Blue,
        };
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint(style::BOLD, text)
    }
}
