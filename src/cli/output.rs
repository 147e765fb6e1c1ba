//! The CLI's one output policy (uv's `Printer`): data on stdout, diagnostics and progress on
//! stderr, colour decided once per stream. Every byte ferry prints goes through here, so that a
//! reader that stops early (`ferry state list | head -1`) never makes ferry panic.
//!
//! A closed stdout (`BrokenPipe`) is the reader saying it has seen enough, as for `git log |
//! head`: a command that only reads ends at once, quietly, with exit 0 ([`StdoutClosed`] travels
//! up to `main`). A command that changes something (apply, destroy, import, state edits, a
//! saved plan) was asked to make that change, so it finishes it and exits with its own code
//! (as does `check`, whose verdict is its exit code); its stdout is simply muted from then on. stderr failures are ignored: there is nowhere left
//! to say anything.

use crate::render::Painter;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout was found closed; later data is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The reader of stdout went away; `main` ends the process quietly with exit 0.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// What a closed stdout means for the running command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnClosed {
    /// End the command (it only reads): [`Printer::data`] returns [`StdoutClosed`].
    End,
    /// Finish the command (it changes something): stdout is muted, the command goes on.
    Finish,
}

/// Where output goes and how it looks.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    /// Styles for stdout.
    pub out: Painter,
    /// Styles for stderr.
    pub err: Painter,
    pub on_closed: OnClosed,
}

impl Printer {
    /// Colour on a stream only when it is a terminal and neither `--no-color` nor a non-empty
    /// `NO_COLOR` says otherwise.
    pub fn new(no_color_flag: bool) -> Printer {
        Printer {
            out: Painter {
                color: use_color(no_color_flag, std::io::stdout().is_terminal()),
            },
            err: Painter {
                color: use_color(no_color_flag, std::io::stderr().is_terminal()),
            },
            on_closed: OnClosed::End,
        }
    }

    /// The same printer for a command that must finish what it changes.
    pub fn finishing(self) -> Printer {
        Printer {
            on_closed: OnClosed::Finish,
            ..self
        }
    }

    /// Writes data to stdout.
    pub fn data(&self, text: &str) -> Result<(), StdoutClosed> {
        if STDOUT_CLOSED.load(Ordering::SeqCst) {
            return self.closed();
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::SeqCst);
                self.closed()
            }
            Err(e) => {
                // A full disk or a revoked file: not the reader's choice, so say it, once.
                if !STDOUT_CLOSED.swap(true, Ordering::SeqCst) {
                    diagnostic(&format!(
                        "warning: cannot write to standard output ({e}); the rest of it is dropped\n"
                    ));
                }
                self.closed()
            }
        }
    }

    fn closed(&self) -> Result<(), StdoutClosed> {
        match self.on_closed {
            OnClosed::End => Err(StdoutClosed),
            OnClosed::Finish => Ok(()),
        }
    }
}

/// Writes to stderr, ignoring failure (a closed stderr leaves nothing to report to).
pub fn diagnostic(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

fn use_color(no_color_flag: bool, terminal: bool) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    terminal && !no_color_flag && !no_color_env
}

/// `print!` to stdout through a [`Printer`]: `out!(printer, "...", args)?`.
macro_rules! out {
    ($p:expr, $($arg:tt)*) => {
        $p.data(&format!($($arg)*))
    };
}

/// `println!` to stdout through a [`Printer`]: `outln!(printer, "...", args)?`.
macro_rules! outln {
    ($p:expr) => {
        $p.data("\n")
    };
    ($p:expr, $($arg:tt)*) => {
        $p.data(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` through the output policy: never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::diagnostic(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` through the output policy: never panics.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::output::diagnostic(&format!($($arg)*))
    };
}

pub(crate) use {err, errln, out, outln};

/// The styles every command paints with, defined once (beside [`Painter`], which render shares).
pub use crate::render::style;
