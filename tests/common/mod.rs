//! Shared by the end-to-end tests: a temporary folder with a pipeline and its data, and the
//! built `syncline` binary run in it.

#![allow(dead_code)]

pub mod api;
pub mod gomag;
pub mod hyperlinked;
pub mod odoo;
pub mod prestashop;
pub mod records;
pub mod roapp;
pub mod served;
pub mod shop;
pub mod tryton;
pub mod woocommerce;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// The records of an NDJSON output file.
    pub fn ndjson(&self, name: &str) -> Vec<serde_json::Value> {
        self.read(name)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn syncline(&self, args: &[&str]) -> Output {
        self.syncline_with_env(args, &[])
    }

    /// `syncline` with `args` and these environment variables (a proxy only when they name
    /// one, see [`PROXY_VARIABLES`]).
    pub fn syncline_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::from_std(syncline())
            .current_dir(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// A named pipe: a source that blocks until the test writes to it.
    #[cfg(unix)]
    pub fn mkfifo(&self, name: &str) {
        let made = std::process::Command::new("mkfifo")
            .arg(self.path(name))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {name}");
    }

    /// `syncline run FILE --format json` in the background, its report and log on pipes.
    pub fn spawn_run(&self, pipeline: &str) -> std::process::Child {
        syncline()
            .current_dir(self.dir.path())
            .args(["run", pipeline, "--format", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `syncline run p.yaml --secrets .secrets`, which must succeed: its report.
    pub fn run_ok(&self) -> serde_json::Value {
        self.run_ok_with_env(&[])
    }

    /// [`Workdir::run_ok`] with these environment variables.
    pub fn run_ok_with_env(&self, env: &[(&str, &str)]) -> serde_json::Value {
        let (code, report) = self.run_with_env("p.yaml", &["--secrets", ".secrets"], env);
        assert_eq!(code, 0, "{report:#}");
        report
    }

    /// `syncline` with `args`: the exit code and everything it printed, both streams.
    pub fn printed(&self, args: &[&str]) -> (i32, String) {
        let out = self.syncline(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// The text of `field` in every record of an NDJSON file, sorted.
    pub fn sorted_field(&self, file: &str, field: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .ndjson(file)
            .iter()
            .map(|r| r[field].as_str().unwrap_or_default().to_string())
            .collect();
        values.sort();
        values
    }

    /// `syncline run FILE --format json`: the exit code and the report.
    pub fn run(&self, pipeline: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        self.run_with_env(pipeline, extra, &[])
    }

    /// [`Workdir::run`] with these environment variables.
    pub fn run_with_env(
        &self,
        pipeline: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, serde_json::Value) {
        let mut args = vec!["run", pipeline, "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.syncline_with_env(&args, env);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "no JSON report; stdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }
}

/// The built `syncline`, without the machine's proxy variables (see [`PROXY_VARIABLES`]).
pub fn syncline() -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("syncline"));
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command
}

/// The environment variables syncline takes proxies from: removed from the runs of the tests,
/// whose APIs are on loopback, so that a proxy set on the machine does not come between.
pub const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A plain client for a test's own requests to a double: answers of any status, no proxy.
pub fn http_client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}

/// What a job delivered to its API target, from the JSON report.
pub fn delivered(report: &serde_json::Value, job_name: &str) -> serde_json::Value {
    job(report, job_name)["delivered"].clone()
}

/// The report of one job.
pub fn job<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Replaces durations (`0.01s`) so reports can be snapshot.
pub fn without_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let len = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tail.len());
        let (number, after) = tail.split_at(len);
        if number.contains('.') && after.starts_with('s') {
            out.push_str("N.NN");
        } else {
            out.push_str(number);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}
