//! Standard output, as a pipeline expects it, and errors printed once, in words.
//!
//! - `outln!` writes a line to stdout. When the reader has gone away
//!   (`sluice executions list | head -2`) the process ends quietly, as a program killed by
//!   `SIGPIPE` does (status 141 in a shell), instead of panicking on a broken pipe. Rust
//!   ignores `SIGPIPE` for the whole process, which the engine's task commands rely on when a
//!   child does not read its input; so the pipe is handled here, at the one place that
//!   prints.
//! - [`chain`] renders an error and its causes as one line, each message once: a library
//!   error that repeats its source's text in its own message (`io::Error`s most often) would
//!   otherwise print the same sentence two or three times.

use std::fmt;
use std::io::{self, Write};

/// The status a shell reports for a process killed by `SIGPIPE` (128 + 13).
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// `println!` for the CLI (every module uses it: `#[macro_use]` in main.rs): a closed stdout ends the process quietly (see the module doc).
macro_rules! outln {
    () => { $crate::out::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::line(format_args!($($arg)*)) };
}

/// Writes one line to stdout; see `outln!`.
pub fn line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        ended(&e);
    }
}

/// Stdout failed: a reader gone is the normal end of a pipeline; anything else is said once.
fn ended(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_STATUS);
    }
    eprintln!("sluice: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// `e` and its causes as one line, `outer: inner: innermost`, leaving out a cause whose text
/// the message before it already carries (`sluice_core::error_text` over anyhow's chain).
pub fn chain(e: &anyhow::Error) -> String {
    sluice_core::error_text(e.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read sluice.toml: {0}")]
    struct Repeats(#[source] io::Error);

    #[test]
    fn a_cause_repeated_by_its_wrapper_prints_once() {
        let io = io::Error::new(
            io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(Repeats(io)).context("loading the configuration");
        assert_eq!(
            chain(&e),
            "loading the configuration: cannot read sluice.toml: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn distinct_causes_all_print() {
        let e = anyhow::anyhow!("disk full").context("writing the manifest");
        assert_eq!(chain(&e), "writing the manifest: disk full");
    }
}
