//! `catalog`: the command line over the library. The one place where errors become exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    match catalog::commands::run(catalog::commands::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => catalog::exit::report(&error),
    }
}
