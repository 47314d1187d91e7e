//! Progress on a terminal, silence under cron; counts and rates as people read them.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};

/// A spinner counting items and their rate, then its message; hidden when stderr is not a
/// terminal.
pub fn counter(what: &str) -> ProgressBar {
    spinner(&format!(
        "{{spinner}} {{human_pos}} {what} {{msg}} ({{rate}}, {{elapsed}})"
    ))
}

/// A spinner showing its message and the time spent, for waiting on staging jobs; hidden when
/// stderr is not a terminal.
pub fn waiting() -> ProgressBar {
    spinner("{spinner} {msg} ({elapsed})")
}

/// A spinner ticking on its own with `template` (which may use `{rate}`), on a terminal only.
fn spinner(template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template(template)
            .expect("the progress template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{}", rate(state.per_sec()));
                },
            ),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A rate per second as people read it: `47,764/s` (indicatif's `{per_sec}` gives
/// `47,763.7868/s`), with one decimal only where whole numbers would say too little (`2.5/s`).
pub fn rate(per_sec: f64) -> String {
    format!("{}/s", per_second(per_sec))
}

/// The number of [`rate`]: `47,764`, `2.5`, `0`.
pub fn per_second(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0".to_string()
    } else if per_sec < 10.0 {
        format!("{per_sec:.1}")
    } else {
        HumanCount(per_sec.round() as u64).to_string()
    }
}

/// `count` items over `seconds`, as [`per_second`]; `None` when no time was measured.
pub fn per_second_of(count: u64, seconds: f64) -> Option<String> {
    (seconds > 0.0).then(|| per_second(count as f64 / seconds))
}

#[cfg(test)]
mod tests {
    use super::{per_second_of, rate};

    #[test]
    fn rates_read_as_whole_numbers_with_thousands_separators() {
        assert_eq!(rate(47_763.786_8), "47,764/s");
        assert_eq!(rate(1_234_567.4), "1,234,567/s");
        assert_eq!(rate(999.5), "1,000/s");
        assert_eq!(rate(12.3), "12/s");
        assert_eq!(rate(2.46), "2.5/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(f64::NAN), "0/s");
        assert_eq!(rate(f64::INFINITY), "0/s");
        assert_eq!(per_second_of(100_000, 4.0).as_deref(), Some("25,000"));
        assert_eq!(per_second_of(5, 0.0), None);
    }
}
