//! Several workers (`Config::workers`, `writ serve --workers`): each accepts on its own
//! listener, all serve one state; a graceful stop drains every one of them before the decision
//! log is flushed, once; and the log's chain holds with lines from every worker at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::time::Duration;

use common::*;
use writ_server::{LogTarget, Source};

fn workers(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// The count of `writ_connections_total` per worker, in worker order.
fn connections_per_worker(server: &TestServer) -> Vec<u64> {
    let metrics = server.get("/metrics").body;
    let mut counts: Vec<(usize, u64)> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("writ_connections_total{worker=\""))
        .map(|rest| {
            let (worker, count) = rest.split_once("\"} ").unwrap();
            (worker.parse().unwrap(), count.parse().unwrap())
        })
        .collect();
    counts.sort();
    counts.into_iter().map(|(_, n)| n).collect()
}

/// Every worker accepted some connection. (On Linux each worker has its own listener and the
/// kernel spreads connections over them; elsewhere the workers share one socket and whichever
/// is first accepts, with no promise of spread.)
fn assert_spread(counts: &[u64]) {
    if cfg!(target_os = "linux") {
        assert!(counts.iter().all(|&n| n > 0), "a worker accepted nothing: {counts:?}");
    }
}

/// A keep-alive connection: requests one after another, answers read by `Content-Length`.
struct KeepAlive(BufReader<TcpStream>);

impl KeepAlive {
    fn open(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        KeepAlive(BufReader::new(stream))
    }

    /// The status and the `x-writ-decision-id` of one decision.
    fn decide(&mut self, body: &str) -> (u16, String) {
        let head = format!(
            "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.0.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.0.read_line(&mut status_line).unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let (mut length, mut id) = (0usize, String::new());
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "x-writ-decision-id" => id = value.trim().to_string(),
                _ => {}
            }
        }
        let mut answer = vec![0; length];
        self.0.read_exact(&mut answer).unwrap();
        (status, id)
    }
}

/// The ids of a decision log's lines, after checking its chain.
fn logged_ids(log: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(log).unwrap();
    let summary = writ_evaluator::log::verify(&bytes[..]).unwrap();
    let ids: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap();
            value["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(summary.lines as usize, ids.len());
    ids
}

#[test]
fn every_worker_serves_and_the_status_says_how_many() {
    let dir = temp_dir("workers-spread");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.workers = workers(3);
    let server = TestServer::start(config);
    assert_eq!(server.handle.status()["workers"], 3);
    // 48 connections open at once: the kernel spreads them over the three listeners (the
    // chance that one gets none is 3 × (2/3)^48, about 1e-8).
    let mut open: Vec<KeepAlive> = (0..48).map(|_| KeepAlive::open(server.addr)).collect();
    for connection in &mut open {
        assert_eq!(connection.decide(ALLOW).0, 200);
        assert_eq!(connection.decide(DENY).0, 200);
    }
    let counts = connections_per_worker(&server);
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_spread(&counts);
    assert_eq!(counts.iter().sum::<u64>(), 48 + 1, "{counts:?}");
    // One state: the decisions of every worker are counted together.
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("writ_decisions_total{outcome=\"allow\"} 48"), "{metrics}");
    assert!(metrics.contains("writ_decisions_total{outcome=\"deny\"} 48"), "{metrics}");
}

#[test]
fn a_graceful_stop_drains_every_worker_and_logs_every_answer_once() {
    let dir = temp_dir("workers-drain");
    let log = dir.join("decisions.jsonl");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.workers = workers(3);
    config.decision_log = Some(LogTarget::File(log.clone()));
    let server = TestServer::start(config);
    // Requests in flight on every worker: each head sent, its body not yet whole.
    let head = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        ALLOW.len()
    );
    let (first, rest) = ALLOW.split_at(10);
    let mut in_flight: Vec<TcpStream> = (0..48)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(first.as_bytes()).unwrap();
            stream
        })
        .collect();
    let mut answered = BTreeSet::new();
    // Decisions answered before the stop (and time for the heads above to be read: a request
    // whose head is not in yet is an idle connection, which a graceful stop closes).
    let mut before = KeepAlive::open(server.addr);
    for _ in 0..20 {
        let (status, id) = before.decide(PENDING);
        assert_eq!(status, 200);
        answered.insert(id);
    }
    drop(before);
    let counts = connections_per_worker(&server);
    assert_spread(&counts);

    let addr = server.addr;
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(300));
    for stream in &mut in_flight {
        stream.write_all(rest.as_bytes()).unwrap();
    }
    for stream in &mut in_flight {
        let answer = read_answer(stream);
        assert_eq!(answer.status, 200, "{}", answer.body);
        answered.insert(answer.header("x-writ-decision-id").unwrap().to_string());
    }
    let summary = stopping.join().unwrap();
    assert!(!summary.cut_short);
    assert!(TcpStream::connect(addr).is_err(), "no worker is accepting any more");
    // Every answered decision is in the log, once, and the chain holds.
    assert_eq!(answered.len(), 68);
    assert_eq!(summary.logged, 68);
    let ids = logged_ids(&log);
    assert_eq!(ids.len(), 68);
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), answered);
}

#[test]
fn the_log_chain_holds_with_every_worker_logging_at_once() {
    let dir = temp_dir("workers-chain");
    let log = dir.join("decisions.jsonl");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.workers = workers(4);
    config.decision_log = Some(LogTarget::File(log.clone()));
    let server = TestServer::start(config);
    let addr = server.addr;
    let clients: Vec<_> = (0..8)
        .map(|client| {
            std::thread::spawn(move || {
                let mut connection = KeepAlive::open(addr);
                (0..150)
                    .map(|i| {
                        let body = [ALLOW, DENY, PENDING][(client + i) % 3];
                        let (status, id) = connection.decide(body);
                        assert_eq!(status, 200);
                        id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answered: BTreeSet<String> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let summary = server.stop();
    assert_eq!(summary.logged, 1200);
    let ids = logged_ids(&log);
    assert_eq!(ids.len(), 1200);
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), answered);
}

#[test]
fn port_zero_binds_every_worker_to_the_one_port_chosen() {
    let dir = temp_dir("workers-port");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.workers = workers(2);
    let server = TestServer::start(config);
    assert_ne!(server.addr.port(), 0);
    let mut open: Vec<KeepAlive> = (0..32).map(|_| KeepAlive::open(server.addr)).collect();
    for connection in &mut open {
        assert_eq!(connection.decide(ALLOW).0, 200);
    }
    let counts = connections_per_worker(&server);
    assert_spread(&counts);
}
