//! The stdio transport's guard: every message from the client is checked before tower-lsp-server
//! sees it.
//!
//! tower-lsp-server ends the session on a message it cannot decode (a body that is not JSON, a
//! batch, an object that is neither a request, a notification nor a response), so one bad
//! message from an editor plugin would kill the server. Here each framed body is parsed first:
//! one that is not JSON is answered with JSON-RPC `-32700` (parse error), one that is JSON but
//! not a message with `-32600` (invalid request), and neither reaches the server. Answers are
//! whole frames, written between the server's own frames, never inside one.
//!
//! Framing errors (a header without `Content-Length`, a length past [`MAX_BODY`], a stream cut
//! inside a body) end the session: the stream cannot be resynchronised.

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The largest message body accepted (64 MiB): a policy file is far smaller.
pub const MAX_BODY: usize = 64 << 20;

/// Reads one frame's body; `Ok(None)` at the end of the stream (between frames).
pub async fn read_frame(
    reader: &mut (impl AsyncBufRead + Unpin),
) -> std::io::Result<Option<Vec<u8>>> {
    let mut length = None;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 {
            return if first {
                Ok(None)
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the stream ended in a header",
                ))
            };
        }
        first = false;
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        if header.len() > 1024 {
            return Err(invalid("a header line longer than 1024 bytes"));
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length =
                Some(value.trim().parse::<usize>().map_err(|_| invalid("a bad Content-Length"))?);
        }
    }
    let length = length.ok_or_else(|| invalid("a message without Content-Length"))?;
    if length > MAX_BODY {
        return Err(invalid("a message longer than 64 MiB"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(body))
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// `body` as a frame.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// `None` when `body` is a message tower-lsp-server can take; otherwise the error answer.
pub fn refusal(body: &[u8]) -> Option<Value> {
    let error = |id: Value, code: i64, message: String| {
        Some(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
    };
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(Value::Null, -32700, format!("Parse error: {e}")),
    };
    let Value::Object(message) = &value else {
        return error(
            Value::Null,
            -32600,
            "Invalid request: a message is one JSON object (no batches)".into(),
        );
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let id_ok = matches!(id, Value::Null | Value::String(_)) || id.as_i64().is_some();
    let id = if id_ok { id } else { Value::Null };
    let shape_ok = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && id_ok
        && match message.get("method") {
            Some(Value::String(_)) => {
                matches!(message.get("params"), None | Some(Value::Object(_) | Value::Array(_)))
            }
            Some(_) => false,
            None => {
                message.contains_key("id")
                    && (message.contains_key("result") || message.contains_key("error"))
            }
        };
    if shape_ok {
        None
    } else {
        error(
            id,
            -32600,
            "Invalid request: not a JSON-RPC 2.0 request, notification or response".into(),
        )
    }
}

/// Relays the client's messages from `client` to `server_in`, answering the ones that would end
/// the session on `answers` instead.
pub async fn guard_input(
    client: impl AsyncBufRead + Unpin,
    mut server_in: impl AsyncWrite + Unpin,
    answers: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut client = client;
    loop {
        match read_frame(&mut client).await {
            Ok(Some(body)) => match refusal(&body) {
                None => {
                    if server_in.write_all(&frame(&body)).await.is_err() {
                        return;
                    }
                    let _ = server_in.flush().await;
                }
                Some(answer) => {
                    let _ = answers.send(frame(answer.to_string().as_bytes()));
                }
            },
            Ok(None) => return,
            Err(e) => {
                eprintln!("writ lsp: ending the session: {e}");
                return;
            }
        }
    }
}

/// Writes the server's frames (read whole from `server_out`) and the guard's answers (sent on
/// `answers`, received on `queue`) to `client`, one whole frame at a time, until the server's
/// output ends.
pub async fn write_output(
    server_out: impl AsyncBufRead + Unpin + Send + 'static,
    answers: mpsc::UnboundedSender<Vec<u8>>,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    mut client: impl AsyncWrite + Unpin,
) {
    // The server's frames go through the same queue, read by a task of their own: a frame is
    // never read in part (reading is not cancel-safe, so it is never raced against the queue).
    tokio::spawn(async move {
        let mut server_out = server_out;
        while let Ok(Some(body)) = read_frame(&mut server_out).await {
            if answers.send(frame(&body)).is_err() {
                return;
            }
        }
        // The end of the server's output: an empty frame marks it.
        let _ = answers.send(Vec::new());
    });
    while let Some(bytes) = queue.recv().await {
        if bytes.is_empty() || client.write_all(&bytes).await.is_err() {
            break;
        }
        let _ = client.flush().await;
    }
    let _ = client.flush().await;
}
