//! `syncline schema`: the JSON Schema of pipeline files, written, printed or checked.

use std::path::Path;

use crate::exit::{CliError, Exit};

pub fn run(out: &Path, check: bool) -> Result<Exit, CliError> {
    let generated = syncline::config::schema::pipeline_schema();
    if out.as_os_str() == "-" {
        print!("{generated}");
        return Ok(Exit::Success);
    }
    if check {
        let current = std::fs::read_to_string(out).map_err(|source| CliError::Read {
            path: out.to_path_buf(),
            source,
        })?;
        if current != generated {
            return Err(CliError::SchemaOutOfDate(out.to_path_buf()));
        }
        return Ok(Exit::Success);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CliError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(out, generated).map_err(|source| CliError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(Exit::Success)
}
