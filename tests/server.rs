//! The server over real sockets: the built `segments` binary runs as a child process on a
//! tiny tenant in a temporary folder, on 127.0.0.1 and a port the system picks.
//!
//! Covers what only a real process shows: the address it logs, SIGTERM, a restart that finds
//! everything again, a `kill -9` during a burst of writes that loses no acknowledged write,
//! and the refusal to listen on the network without tokens.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use segments::facts::builder::write_tenant;
use segments::facts::builder::{ClientRow, FactsBuilder, OrderRow};
use segments::facts::write::write_tenant_settings;

/// Clients 1..=`clients`; odd ones in the US, even ones in DE; client 1 has one order.
fn tenant(clients: i64) -> TempDir {
    let mut builder = FactsBuilder::new();
    for id in 1..=clients {
        let country = if id % 2 == 1 { "US" } else { "DE" };
        builder = builder.client(ClientRow {
            country: Some(country.into()),
            ..ClientRow::new(id)
        });
    }
    let facts = builder
        .order(OrderRow::completed(1, 1, "2024-05-01T10:00:00Z", 10_000))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_tenant(&facts, dir.path()).unwrap();
    write_tenant_settings(dir.path(), "UTC").unwrap();
    dir
}

/// A running `segments serve` and the base URL it logged.
struct Server {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
    /// Reads stderr until the process ends.
    reader: Option<std::thread::JoinHandle<()>>,
}

fn command(dir: &Path, listen: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_segments"));
    command
        .args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", listen])
        .env("RUST_LOG", "info")
        .env_remove("SEGMENTS_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server::spawn(command(dir, "127.0.0.1:0"))
    }

    /// Spawns the command and waits for the line that names the address it serves.
    fn spawn(mut command: Command) -> Server {
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        let kept = Arc::clone(&logs);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(base) = served_url(&line) {
                    let _ = sender.send(base);
                }
                kept.lock().unwrap().push(line);
            }
        });
        match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => Server {
                child,
                base,
                logs,
                reader: Some(reader),
            },
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        (status, self.logs.lock().unwrap().join("\n"))
    }

    /// SIGKILL: no chance to flush or clean up.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// `http://127.0.0.1:PORT` from the line `serving http://127.0.0.1:PORT/v1 ...`.
fn served_url(line: &str) -> Option<String> {
    let start = line.find("serving http://")? + "serving ".len();
    let rest = &line[start..];
    let end = rest.find("/v1")?;
    Some(rest[..end].to_owned())
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn member_ids(http: &reqwest::Client, server: &Server, segment: i64) -> Vec<i64> {
    let url = server.url(&format!("/v1/segments/{segment}/members?limit=1000"));
    let (status, page) = send(http.get(url)).await;
    assert_eq!(status, 200, "{page}");
    let members = page["members"].as_array().unwrap();
    members
        .iter()
        .map(|m| m["client_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_finds_every_segment_and_member() {
    let dir = tenant(6);
    let http = reqwest::Client::new();
    let server = Server::start(dir.path());

    let (status, health) = send(http.get(server.url("/healthz"))).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));
    let key = json!({"name": "Key accounts", "kind": "static"});
    let (status, _) = send(http.post(server.url("/v1/segments")).json(&key)).await;
    assert_eq!(status, 201);
    let ids = json!({"client_ids": [2, 5]});
    let (status, _) = send(http.post(server.url("/v1/segments/1/members")).json(&ids)).await;
    assert_eq!(status, 200);
    let rule = json!({"field": "country", "op": "is", "value": "US"});
    let us = json!({"name": "US", "kind": "dynamic", "rule": rule});
    let (status, created) = send(http.post(server.url("/v1/segments")).json(&us)).await;
    assert_eq!((status, &created["member_count"]), (201, &json!(3)));

    let (status, logs) = server.stop();
    assert!(status.success(), "exit {status}:\n{logs}");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("server stopped"), "{logs}");

    let server = Server::start(dir.path());
    let (_, listed) = send(http.get(server.url("/v1/segments"))).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Key accounts", "US"]);
    assert_eq!(listed[1]["rule"], rule);
    assert_eq!(member_ids(&http, &server, 1).await, [2, 5]);
    assert_eq!(member_ids(&http, &server, 2).await, [1, 3, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_loses_no_acknowledged_write() {
    const CLIENTS: i64 = 200;
    const WRITERS: i64 = 4;
    let dir = tenant(CLIENTS);
    let http = reqwest::Client::new();
    let server = Server::start(dir.path());
    let key = json!({"name": "Burst", "kind": "static"});
    let (status, _) = send(http.post(server.url("/v1/segments")).json(&key)).await;
    assert_eq!(status, 201);

    // Writers add one client per request; each records the ids the server acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let url = server.url("/v1/segments/1/members");
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (http, url) = (http.clone(), url.clone());
        let (acknowledged, count) = (Arc::clone(&acknowledged), Arc::clone(&count));
        writers.push(tokio::spawn(async move {
            for id in (1..=CLIENTS).filter(|id| id % WRITERS == writer) {
                let body = json!({"client_ids": [id]});
                match http.post(&url).json(&body).send().await {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.lock().unwrap().push(id);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        }));
    }
    while count.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    for writer in writers {
        writer.await.unwrap();
    }

    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort_unstable();
    assert!(
        acknowledged.len() >= 40 && acknowledged.len() < CLIENTS as usize,
        "{acknowledged:?}"
    );
    let server = Server::start(dir.path());
    let members = member_ids(&http, &server, 1).await;
    let lost: Vec<i64> = acknowledged
        .iter()
        .copied()
        .filter(|id| !members.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_the_socket() {
    let dir = tenant(2);
    let http = reqwest::Client::new();
    let mut command = command(dir.path(), "127.0.0.1:0");
    command.env("SEGMENTS_TOKENS", "alpha, beta");
    let server = Server::spawn(command);

    let (status, problem) = send(http.get(server.url("/v1/segments"))).await;
    assert_eq!(status, 401);
    assert_eq!(problem["title"], "Unauthorized");
    let (status, listed) = send(http.get(server.url("/v1/segments")).bearer_auth("beta")).await;
    assert_eq!((status, listed), (200, json!([])));
    let (status, _) = send(http.get(server.url("/healthz"))).await;
    assert_eq!(status, 200);
}

#[test]
fn refuses_the_network_without_tokens() {
    let dir = tenant(1);
    let output = command(dir.path(), "0.0.0.0:0").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without tokens"),
        "{stderr}"
    );
}
