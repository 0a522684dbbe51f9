//! A file target's path with placeholders (`orders-{run_time}.csv`), resolved by each run.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::record::template::Template;

/// A target path whose text has braces: the folder it is under, and the path as written.
#[derive(Debug)]
pub struct TargetPath {
    dir: PathBuf,
    template: Template,
    /// It holds `{run_time}`: each run names a new file.
    pub timed: bool,
}

impl TargetPath {
    /// `None` for a path without braces, which is the file's name as it is.
    pub fn parse(dir: &Path, path: &str) -> Result<Option<TargetPath>, String> {
        if !path.contains(['{', '}']) {
            return Ok(None);
        }
        let template = Template::parse(path)?;
        let timed = template.names().contains(&"run_time");
        Ok(Some(TargetPath {
            dir: dir.to_path_buf(),
            template,
            timed,
        }))
    }

    /// The file a run that started at `run_time` writes.
    pub fn resolve(&self, run_time: DateTime<Utc>) -> Result<PathBuf, String> {
        let stamp = run_stamp(run_time);
        let path = self.template.render_by(&mut |name, _| match name {
            "run_time" => Ok(stamp.clone()),
            other => Err(format!("`{{{other}}}` is not known in a file's path")),
        })?;
        Ok(self.dir.join(path))
    }
}

/// A run's start time as a file name takes it: UTC, no separators a file system refuses,
/// sorting as time does (`20261206T201500Z`).
pub fn run_stamp(run_time: DateTime<Utc>) -> String {
    run_time.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_run_time_is_a_safe_name_and_braces_can_be_written() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 20, 15, 0).unwrap();
        let path = TargetPath::parse(Path::new("out"), "orders-{run_time}-{{x}}.csv")
            .unwrap()
            .unwrap();
        assert!(path.timed);
        assert_eq!(
            path.resolve(at).unwrap(),
            Path::new("out/orders-20261206T201500Z-{x}.csv")
        );
        assert!(
            TargetPath::parse(Path::new("out"), "orders.csv")
                .unwrap()
                .is_none()
        );
    }
}
