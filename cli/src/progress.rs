//! Status lines on stderr, in cargo's style (`   Building hello::flatter`), so stdout carries
//! only results such as the URL or a JSON report.

use std::io::IsTerminal;

/// Prints one status line on stderr: a right-aligned verb (bold green on a terminal), then text.
pub fn status(verb: &str, text: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("\x1b[1;32m{verb:>12}\x1b[0m {text}");
    } else {
        eprintln!("{verb:>12} {text}");
    }
}
