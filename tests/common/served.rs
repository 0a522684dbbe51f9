//! `syncline serve` on a free port for the end-to-end tests, its log on a pipe read by a
//! thread, and the requests the tests make to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Workdir;

pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// `syncline serve` on a free port, its log on a pipe read by a thread.
pub struct Served {
    child: Child,
    pub port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    pub fn start(w: &Workdir, args: &[&str]) -> Served {
        Served::start_on(w, free_port(), args)
    }

    /// On a given port: a restart where the senders already post.
    pub fn start_on(w: &Workdir, port: u16, args: &[&str]) -> Served {
        w.write("token", format!("{TOKEN}\n"));
        let listen = format!("127.0.0.1:{port}");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_syncline"))
            .current_dir(w.dir.path())
            .args(["serve", ".", "--listen", &listen, "--token-file", "token"])
            .args(["--state", "state"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let served = Served { child, port, log };
        served.wait_for("listening", |s| s.get("/api/jobs").is_some());
        served
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        let answer = reqwest::blocking::get(self.url(path)).ok()?;
        serde_json::from_str(&answer.text().ok()?).ok()
    }

    pub fn text(&self, path: &str) -> String {
        reqwest::blocking::get(self.url(path))
            .and_then(|a| a.text())
            .unwrap_or_default()
    }

    pub fn jobs(&self) -> Vec<Value> {
        self.get("/api/jobs")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    pub fn job(&self, name: &str) -> Value {
        self.jobs()
            .into_iter()
            .find(|j| j["job"] == name)
            .unwrap_or_else(|| panic!("no job {name}: {}", self.log()))
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::blocking::Client::new();
        let mut request = client.post(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `done` holds.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Served) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited 30 s for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: nothing is let finish.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit code.
    pub fn terminate(mut self) -> (i32, String) {
        let pid = self.child.id() as libc::pid_t;
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        (status.code().unwrap_or(-1), self.log())
    }
}

pub fn free_port() -> u16 {
    // The tests' HTTPS-capable client needs its crypto provider named.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
