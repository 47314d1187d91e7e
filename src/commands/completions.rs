//! `catalog completions SHELL` and `catalog man`: what shells and `man` need, generated from
//! the command line's own definition so that they never fall behind it.

use std::io::Write;

/// Arguments of `catalog completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for a shell on stdout.
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<()> {
    // The generators panic on a write error, so they write to memory and the script goes out
    // in one write whose error (a closed pipe) is an ordinary one.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "catalog", &mut script);
    write_stdout(&script)
}

/// Prints the manual page, in roff, on stdout.
pub fn man(command: clap::Command) -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    write_stdout(&page)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
