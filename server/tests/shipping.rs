//! `--decision-log-url`: the decision log's lines POSTed to a real collector, gzip-compressed,
//! in batches, retried, spilled to a file when the collector cannot keep up, and the spill
//! file shipped on the next start; `--log-mask`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;
mod peers;

use std::path::Path;
use std::time::Duration;

use common::*;
use peers::Collector;
use serde_json::Value as Json;
use writ_agents::net::Roots;
use writ_agents::test_pki::Pki;
use writ_evaluator::log::{Mask, verify};
use writ_server::{Config, LogTarget, ShipConfig, Source};

fn shipping(url: &str, batch: usize, queue: usize, spill: Option<&Path>) -> ShipConfig {
    let mut ship = ShipConfig::new(url);
    ship.batch = batch;
    ship.queue = queue;
    ship.flush = Duration::from_millis(50);
    ship.spill = spill.map(Path::to_path_buf);
    ship.timeout = Duration::from_secs(5);
    ship
}

fn server_config(dir: &Path, ship: ShipConfig) -> Config {
    let mut config = config(Source::Policy(policy_file(dir, POLICY)));
    config.ship = Some(ship);
    config
}

fn decide(server: &TestServer, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let body = [ALLOW, PENDING, DENY][i % 3];
            let answer = server.post("/v1/decide", body);
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.header("x-writ-decision-id").unwrap().to_string()
        })
        .collect()
}

/// The ids of the lines, in order.
fn ids(lines: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(lines)
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

fn shipped(server: &TestServer) -> Json {
    server.get("/v1/status").json()["decision_log"].clone()
}

#[test]
fn batches_are_gzip_ndjson_that_verify_as_one_chain() {
    let dir = temp_dir("ship");
    let collector = Collector::start();
    let server = TestServer::start(server_config(&dir, shipping(&collector.url(), 5, 1000, None)));
    let ids = decide(&server, 12);
    eventually("12 lines", || collector.line_count() == 12);
    assert_eq!(collector.wrong(), Vec::<String>::new());
    assert!(collector.batches().iter().all(|n| (1..=5).contains(n)), "{:?}", collector.batches());
    let lines = collector.lines();
    assert_eq!(verify(&lines[..]).unwrap().lines, 12);
    assert_eq!(self::ids(&lines), ids);
    // The shipper counts a batch once its answer is in, just after the collector counted it.
    eventually("the batches counted", || {
        shipped(&server)["batches_sent"].as_u64() == Some(u64::from(collector.accepted()))
    });
    let status = shipped(&server);
    assert_eq!(status["url"], collector.url());
    assert_eq!(status["lines_dropped"], 0);
    assert_eq!(status["queue_depth"], 0);
    let metrics = server.get("/metrics").body;
    let sent = format!("writ_decision_log_batches_sent_total {}", collector.accepted());
    assert!(metrics.contains(&sent), "{metrics}");
    assert!(metrics.contains("writ_decision_log_queue_depth 0"), "{metrics}");
    let summary = server.stop();
    assert_eq!(summary.logged, 12);
}

#[test]
fn with_a_file_too_both_get_the_same_lines() {
    let dir = temp_dir("ship-file");
    let collector = Collector::start();
    let log = dir.join("decisions.jsonl");
    let mut config = server_config(&dir, shipping(&collector.url(), 100, 1000, None));
    config.decision_log = Some(LogTarget::File(log.clone()));
    let server = TestServer::start(config);
    decide(&server, 7);
    server.stop();
    // Everything answered was shipped before the stop returned.
    assert_eq!(collector.lines(), std::fs::read(&log).unwrap());
    assert_eq!(verify(&collector.lines()[..]).unwrap().lines, 7);
}

#[test]
fn a_failing_collector_is_retried_and_loses_nothing() {
    let dir = temp_dir("ship-retry");
    let collector = Collector::start();
    collector.fail_next(&[500, 503, 500]);
    let server = TestServer::start(server_config(&dir, shipping(&collector.url(), 4, 1000, None)));
    let ids = decide(&server, 10);
    eventually("10 lines", || collector.line_count() == 10);
    assert_eq!(collector.refused(), 3);
    let lines = collector.lines();
    // Refused batches are sent again, whole: no line is missing or twice.
    assert_eq!(self::ids(&lines), ids);
    assert_eq!(verify(&lines[..]).unwrap().lines, 10);
    eventually("the success counted", || shipped(&server)["consecutive_failures"] == 0);
    let status = shipped(&server);
    assert_eq!(status["batches_retried"], 3);
    assert_eq!(status["last_error"], Json::Null);
}

#[test]
fn a_collector_that_is_down_fills_the_spill_file_and_the_next_start_ships_it() {
    let dir = temp_dir("ship-spill");
    let spill = dir.join("spill.jsonl");
    let addr = peers::free_port();
    let url = format!("http://{addr}/ingest");

    // The collector is down; the queue holds 3 lines; the rest go to the spill file.
    let mut config = server_config(&dir, shipping(&url, 2, 3, Some(&spill)));
    config.grace = Duration::from_millis(500);
    let server = TestServer::start(config);
    let first = decide(&server, 10);
    // The spilling and the first failed send happen in either order: wait for both.
    eventually("lines spilled and a failed send counted", || {
        let status = shipped(&server);
        status["lines_spilled"] == 7 && status["consecutive_failures"].as_u64() >= Some(1)
    });
    let status = shipped(&server);
    assert_eq!(status["spilling"], true);
    assert_eq!(status["queue_depth"], 3);
    assert!(status["consecutive_failures"].as_u64().unwrap() >= 1);
    let error = status["last_error"]["message"].as_str().unwrap();
    assert!(error.starts_with(&format!("cannot ship decision log lines to `{url}`")), "{error}");
    // On stop, the 3 queued lines go to the spill file before the 7 (they are older): the
    // spill file holds every decision answered, as one chain.
    server.stop();
    let spilled = std::fs::read(&spill).unwrap();
    assert_eq!(ids(&spilled), first, "every decision answered is in the spill file, in order");
    assert_eq!(verify(&spilled[..]).unwrap().lines, 10);

    // The collector is back; the next start ships the spill file first, then its own lines,
    // and truncates the spill file once it is all accepted.
    let collector = Collector::start_on(addr);
    let server = TestServer::start(server_config(&dir, shipping(&url, 4, 1000, Some(&spill))));
    let second = decide(&server, 5);
    eventually("15 lines", || collector.line_count() == 15);
    eventually("the spill file emptied", || std::fs::metadata(&spill).unwrap().len() == 0);
    // One chain across the restart: the new run went on from the spill file's last line.
    let lines = collector.lines();
    assert_eq!(ids(&lines), [first, second].concat());
    assert_eq!(verify(&lines[..]).unwrap().lines, 15);
    assert_eq!(shipped(&server)["spilling"], false);
}

#[test]
fn a_spill_file_keeps_the_chain_in_order() {
    // The order case: with a queue that fills and a collector that comes back while the
    // server runs, the collector's copy is one chain (queue lines, then spilled ones).
    let dir = temp_dir("ship-order");
    let spill = dir.join("spill.jsonl");
    let addr = peers::free_port();
    let url = format!("http://{addr}/ingest");
    let server = TestServer::start(server_config(&dir, shipping(&url, 3, 4, Some(&spill))));
    let ids = decide(&server, 12);
    eventually("lines spilled", || shipped(&server)["lines_spilled"] == 8);
    let collector = Collector::start_on(addr);
    eventually("12 lines", || collector.line_count() == 12);
    let lines = collector.lines();
    assert_eq!(self::ids(&lines), ids);
    assert_eq!(verify(&lines[..]).unwrap().lines, 12);
    eventually("the spill file emptied", || std::fs::metadata(&spill).unwrap().len() == 0);
    // New lines go to the queue again, and continue the chain.
    let more = decide(&server, 2);
    eventually("14 lines", || collector.line_count() == 14);
    assert_eq!(verify(&collector.lines()[..]).unwrap().lines, 14);
    assert_eq!(self::ids(&collector.lines())[12..], more[..]);
}

#[test]
fn without_a_spill_file_a_full_queue_makes_decisions_wait() {
    let dir = temp_dir("ship-wait");
    let addr = peers::free_port();
    let url = format!("http://{addr}/ingest");
    let server = TestServer::start(server_config(&dir, shipping(&url, 2, 2, None)));
    let addr_server = server.addr;
    // Two fit the queue; the log writer holds the third while it waits for room; the
    // handlers' channel takes the rest: all answered (decisions are answered once queued to
    // the writer) but none lost.
    decide(&server, 6);
    std::thread::sleep(Duration::from_millis(300));
    let status = shipped(&server);
    assert_eq!(status["queue_depth"], 2);
    assert_eq!(status["lines_dropped"], 0);
    let collector = Collector::start_on(addr);
    eventually("6 lines", || collector.line_count() == 6);
    assert_eq!(verify(&collector.lines()[..]).unwrap().lines, 6);
    let _ = addr_server;
}

#[test]
fn masked_fields_are_gone_from_every_output_and_the_chain_verifies() {
    let dir = temp_dir("ship-mask");
    let collector = Collector::start();
    let log = dir.join("decisions.jsonl");
    let mut config = server_config(&dir, shipping(&collector.url(), 100, 1000, None));
    config.decision_log = Some(LogTarget::File(log.clone()));
    config.log_mask = Mask::new(&["chain.id", "args.env"]).unwrap();
    let server = TestServer::start(config);
    decide(&server, 3);
    server.stop();
    let lines = collector.lines();
    assert_eq!(lines, std::fs::read(&log).unwrap());
    assert_eq!(verify(&lines[..]).unwrap().lines, 3);
    let text = String::from_utf8(lines).unwrap();
    assert!(!text.contains("\"ada\"") && !text.contains("bot/1"), "{text}");
    let first: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    // ALLOW has no `env` argument: only the chain's ids were masked.
    assert_eq!(first["masked"], serde_json::json!(["chain.id"]));
    let second: Json = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["masked"], serde_json::json!(["chain.id", "args.env"]));
    assert_eq!(second["chain"][0]["id"], "[masked]");
}

#[test]
fn an_https_collector_of_a_private_ca_gets_the_lines_with_its_certificate_and_none_without() {
    let pki = Pki::new();
    // Without the CA: every batch fails on the certificate; the collector receives nothing.
    let dir = temp_dir("ship-tls-untrusted");
    let collector = Collector::start_tls(&pki);
    assert!(collector.url().starts_with("https://"));
    let server = TestServer::start(server_config(&dir, shipping(&collector.url(), 5, 1000, None)));
    decide(&server, 3);
    eventually("a failed batch", || shipped(&server)["last_error"].is_object());
    let error = shipped(&server)["last_error"]["message"].as_str().unwrap().to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(collector.accepted() + collector.refused(), 0);
    drop(server);

    // With it (`--ca-cert`): shipped, one chain.
    let dir = temp_dir("ship-tls");
    let collector = Collector::start_tls(&pki);
    let mut ship = shipping(&collector.url(), 5, 1000, None);
    ship.roots = Roots::load(Some(&pki.ca)).unwrap();
    let server = TestServer::start(server_config(&dir, ship));
    let ids = decide(&server, 7);
    eventually("7 lines", || collector.line_count() == 7);
    assert_eq!(self::ids(&collector.lines()), ids);
    assert_eq!(verify(&collector.lines()[..]).unwrap().lines, 7);
    assert_eq!(shipped(&server)["last_error"], Json::Null);
}
