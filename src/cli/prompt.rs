//! Whether ferry may ask a question, and the one question it asks. In a pipeline (`CI` set, as
//! GitHub Actions, GitLab CI and most runners do) or without a terminal on stdin nobody can
//! answer, so a needed prompt is an error naming the flag that answers it instead.

use crate::cli::output::err;
use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};

/// Why ferry must not prompt here, or `None` when it may.
pub fn no_prompt_reason() -> Option<&'static str> {
    reason(
        std::env::var("CI").ok().as_deref(),
        std::io::stdin().is_terminal(),
    )
}

fn reason(ci: Option<&str>, stdin_is_terminal: bool) -> Option<&'static str> {
    let ci = ci.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"));
    if ci {
        Some("CI is set, so ferry never prompts")
    } else if !stdin_is_terminal {
        Some("standard input is not a terminal")
    } else {
        None
    }
}

/// Asks `question` on stderr and accepts only `yes`; refuses at once (naming `flag`) when ferry
/// may not prompt. `what` is the verb for the messages: "apply", "destroy", "rebuild the state".
pub fn confirm(what: &str, question: &str, flag: &str) -> anyhow::Result<()> {
    if let Some(why) = no_prompt_reason() {
        bail!(
            "refusing to {what} without confirmation: {why}. Review the plan and pass {flag} to \
             {what} non-interactively"
        );
    }
    err!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "yes" {
        bail!("{what} cancelled: nothing was changed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn ci_or_no_terminal_never_prompts() {
        assert_eq!(reason(None, true), None);
        assert_eq!(reason(Some(""), true), None);
        assert_eq!(reason(Some("false"), true), None);
        assert!(reason(Some("true"), true).unwrap().contains("CI"));
        assert!(reason(Some("1"), true).unwrap().contains("CI"));
        assert!(reason(None, false).unwrap().contains("terminal"));
    }
}
