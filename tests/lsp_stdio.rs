//! `writ lsp` over real standard input and output: a message that is not JSON-RPC gets an error
//! answer and the session goes on (tower-lsp-server alone would end it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn send(stdin: &mut impl Write, body: &str) {
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
}

fn receive(stdout: &mut BufReader<impl Read>) -> Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the server closed its output");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The next answer with an `id` (skipping the server's notifications and requests).
fn answer(stdout: &mut BufReader<impl Read>) -> Value {
    loop {
        let v = receive(stdout);
        if v.get("method").is_none() {
            return v;
        }
    }
}

#[test]
fn malformed_messages_are_answered_and_the_session_goes_on() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run writ lsp");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
    );
    assert_eq!(answer(&mut stdout)["id"], 1);
    send(&mut stdin, r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
    let cases = [
        ("{not json", json!(null), -32700),
        ("[1, 2]", json!(null), -32600),
        (r#"{"foo": 1}"#, json!(null), -32600),
        (r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":5}"#, json!(7), -32600),
        (r#"{"jsonrpc":"1.0","id":8,"method":"shutdown"}"#, json!(8), -32600),
        ("", json!(null), -32700),
    ];
    for (body, id, code) in cases {
        send(&mut stdin, body);
        let a = answer(&mut stdout);
        assert_eq!((&a["id"], &a["error"]["code"]), (&id, &json!(code)), "{body}: {a}");
    }
    // Still serving.
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#);
    let a = answer(&mut stdout);
    assert_eq!(a["id"], 2, "{a}");
    assert!(a.get("error").is_none(), "{a}");
    send(&mut stdin, r#"{"jsonrpc":"2.0","method":"exit"}"#);
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
