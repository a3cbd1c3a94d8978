//! `sluice completions SHELL` and `sluice man`: shell completions and manual pages, generated
//! from the same clap definition as `--help`, so they never drift from it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command (sluice.1, sluice-ingest.1, ...) into this directory
    /// instead of printing sluice(1) to standard output.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints the completion script for `args.shell`.
///
/// bash: `sluice completions bash > ~/.local/share/bash-completion/completions/sluice`;
/// zsh: `sluice completions zsh > "${fpath[1]}/_sluice"`; fish: `sluice completions fish >
/// ~/.config/fish/completions/sluice.fish`.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "sluice", &mut script);
    write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints sluice(1), or writes every command's page into `--out`.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = crate::Cli::command();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing manual pages into {}", dir.display()))?;
            outln!("manual pages written to {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("rendering the manual page")?;
            write_stdout(&page)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whole bytes to stdout; a closed pipe ends quietly, as `outln!` does.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(crate::out::BROKEN_PIPE_STATUS)
        }
        other => Ok(other?),
    }
}
