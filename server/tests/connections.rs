//! Slow and hostile clients: a request's head and body each have a deadline, idle connections
//! are closed, and a body declared too large is answered 413 without being waited for.
//!
//! (No assertion here measures time: each waits, with a generous read timeout, for the server
//! to act, with the server's timeouts set to a second.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::json;
use writ_server::Source;

fn server(configure: impl FnOnce(&mut writ_server::Config)) -> TestServer {
    let dir = temp_dir("connections");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    configure(&mut config);
    TestServer::start(config)
}

/// Reads until the server closes the connection (a reset counts as closed); what it sent.
/// Fails if it is still open after a minute.
fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[test]
fn a_head_sent_slowly_is_cut_off() {
    let server = server(|c| c.header_timeout = Duration::from_secs(1));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // One byte of a valid head every 100 ms: each byte arrives in time, the head never does.
    let trickle = std::thread::spawn(move || {
        let head =
            format!("POST /v1/decide HTTP/1.1\r\nHost: x\r\n{}", "X-Pad: y\r\n".repeat(1000));
        for byte in head.as_bytes() {
            if writer.write_all(&[*byte]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    closed_by_server(&mut stream);
    drop(stream);
    assert!(trickle.join().unwrap(), "the whole head was accepted, a byte at a time");
    // The server still answers others.
    assert_eq!(server.post("/v1/decide", ALLOW).status, 200);
}

#[test]
fn idle_and_one_byte_connections_do_not_pile_up() {
    let server = server(|c| c.header_timeout = Duration::from_secs(1));
    let mut connections: Vec<TcpStream> = (0..50)
        .map(|i| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            if i % 2 == 0 {
                stream.write_all(b"P").unwrap();
            }
            stream
        })
        .collect();
    for stream in &mut connections {
        assert_eq!(closed_by_server(stream), b"", "nothing is answered to half a head");
    }

    // A kept-alive connection, idle after its answer, is closed too.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{ALLOW}",
        ALLOW.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let answer = parse_answer(&closed_by_server(&mut stream));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["decision"], "allow");
}

#[test]
fn a_body_sent_slowly_is_cut_off() {
    let server = server(|c| c.body_timeout = Duration::from_secs(1));
    let mut held: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            let head = format!(
                "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                ALLOW.len(),
                &ALLOW[..1]
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream
        })
        .collect();
    for stream in &mut held {
        let answer = parse_answer(&closed_by_server(stream));
        assert_eq!(answer.status, 400, "{}", answer.body);
        let message = answer.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains("the body did not arrive within 1 s"), "{message}");
    }
    assert_eq!(server.post("/v1/decide", ALLOW).status, 200);
}

#[test]
fn a_declared_length_over_the_limit_is_413_without_reading_the_body() {
    // A body timeout far longer than the test: the answer cannot be the timeout's.
    let server = server(|c| {
        c.body_limit = 1024;
        c.body_timeout = Duration::from_secs(3600);
    });
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
        .unwrap();
    let answer = parse_answer(&closed_by_server(&mut stream));
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json(), json!({"error": "request body too large", "field": ""}));
    assert_eq!(answer.header("connection"), Some("close"));
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("writ_errors_total{kind=\"too_large\"} 1"), "{metrics}");

    // Within the limit, a body is read as before.
    assert_eq!(server.post("/v1/decide", ALLOW).status, 200);
}

#[test]
fn a_graceful_stop_still_finishes_requests_in_flight() {
    let server = server(|_| {});
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        ALLOW.len()
    );
    let (first, rest) = ALLOW.split_at(10);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    // Give the server time to read the head (as `tests/serve.rs` does): a request whose head
    // is not in yet is an idle connection, which a graceful stop closes.
    for _ in 0..20 {
        assert_eq!(server.post("/v1/decide", ALLOW).status, 200);
    }
    let addr = server.addr;
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(rest.as_bytes()).unwrap();
    let answer = parse_answer(&closed_by_server(&mut stream));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let summary = stopping.join().unwrap();
    assert!(!summary.cut_short);
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}
