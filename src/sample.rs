//! PLACEHOLDER until the sample generator lands (its helper overwrites this file).
/// Placeholder.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    pub dir: std::path::PathBuf,
}
/// Placeholder.
pub fn run(_args: SampleArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
