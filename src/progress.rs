//! Progress on a terminal, silence under cron.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner counting items and their rate, then its message; hidden when stderr is not a
/// terminal.
pub fn counter(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{human_pos}} {what} {{msg}} ({{per_sec}}, {{elapsed}})"
        ))
        .expect("the progress template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
