//! `syncline validate`: every problem of the files at once, for people or as JSON.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use syncline::config::secrets::redact;
use syncline::diagnostics::RenderOptions;

use crate::args::Format;
use crate::exit::{CliError, Exit};
use crate::run::load_secrets;

pub fn run(
    paths: &[PathBuf],
    format: Format,
    secrets_file: Option<&Path>,
    deny_warnings: bool,
    connect: bool,
) -> Result<Exit, CliError> {
    let secrets = load_secrets(secrets_file)?;
    let mut validation = syncline::check::validate::validate(paths, &secrets);
    if connect && validation.errors() == 0 {
        validation.connect(&secrets);
    }
    let output = match format {
        Format::Json => validation.render_json(),
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            validation.render_human(RenderOptions { color, width: 100 })
        }
    };
    secrets.protect_used(validation.secret_names.iter().map(String::as_str));
    let _ = std::io::stdout().write_all(redact(&output).as_bytes());
    Ok(Exit::of_validation(&validation, deny_warnings))
}
