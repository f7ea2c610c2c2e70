//! Server-sent events, one at a time: an upstream `text/event-stream` body is cut into whole
//! events (each ends at an empty line; lines end with `\r\n`, `\n` or `\r`) as its bytes
//! arrive, so each event can be passed on as soon as it is complete, without holding the
//! stream.

/// Cuts a byte stream into events.
#[derive(Default)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Where the line being read starts in `buf`.
    line_start: usize,
    /// Where scanning resumes.
    scanned: usize,
    /// The last bytes ended with `\r`: a `\n` first in the next ones ends no line (it is the
    /// rest of a `\r\n`).
    skip_lf: bool,
}

/// An event's bytes, as they came (its lines and the empty line ending it).
pub type Event = Vec<u8>;

impl Splitter {
    /// Adds `bytes`; returns the events they complete. `Err(len)` when the event being read is
    /// over `max` bytes (the stream cannot be relayed event by event).
    pub fn push(&mut self, bytes: &[u8], max: usize) -> Result<Vec<Event>, usize> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        if self.skip_lf && self.buf.len() > self.scanned {
            self.skip_lf = false;
            if self.buf.get(self.scanned) == Some(&b'\n') {
                self.scanned += 1;
                self.line_start = self.scanned;
            }
        }
        loop {
            let rest = self.buf.get(self.scanned..).unwrap_or_default();
            let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else { break };
            let end = self.scanned + at;
            let terminator = match (self.buf.get(end), self.buf.get(end + 1)) {
                (Some(b'\r'), Some(b'\n')) => 2,
                (Some(b'\r'), None) => {
                    // The line ends here, whether a `\n` follows in the next bytes or not.
                    self.skip_lf = true;
                    1
                }
                _ => 1,
            };
            let empty = end == self.line_start;
            self.scanned = end + terminator;
            self.line_start = self.scanned;
            if empty {
                let rest = self.buf.split_off(self.scanned);
                events.push(std::mem::replace(&mut self.buf, rest));
                self.scanned = 0;
                self.line_start = 0;
            }
        }
        if self.buf.len() > max {
            return Err(self.buf.len());
        }
        Ok(events)
    }
}

/// An event's `data` (its `data` lines joined with `\n`, as the SSE rules read them), or
/// `None` when it has no `data` line.
pub fn data(event: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for line in lines(event) {
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(at) => {
                let (f, v) = line.split_at(at);
                let v = v.get(1..).unwrap_or_default();
                (f, v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            parts.push(value);
        }
    }
    (!parts.is_empty()).then(|| parts.join(&b'\n'))
}

/// The event with its `data` replaced by `json` (one `data:` line), its other lines (`id`,
/// `event`, `retry`, comments) kept as they were.
pub fn with_data(event: &[u8], json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(event.len() + json.len());
    let mut written = false;
    for line in lines(event) {
        if line == b"data" || line.starts_with(b"data:") {
            if !written {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json);
                out.push(b'\n');
                written = true;
            }
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// The non-empty lines of an event, without their terminators.
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    event.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_at_empty_lines_whatever_the_chunks() {
        let stream = b"id: 1\ndata: {\"a\":1}\n\n: comment\r\ndata: x\r\n\r\nevent: m\rdata: y\r\r";
        for split in 0..stream.len() {
            let mut s = Splitter::default();
            let (a, b) = stream.split_at(split);
            let mut events = s.push(a, 1 << 20).unwrap();
            events.extend(s.push(b, 1 << 20).unwrap());
            assert_eq!(events.len(), 3, "split at {split}");
            assert_eq!(events.concat(), stream.to_vec());
            assert_eq!(data(&events[0]).unwrap(), br#"{"a":1}"#);
            assert_eq!(data(&events[1]).unwrap(), b"x");
            assert_eq!(data(&events[2]).unwrap(), b"y");
        }
    }

    #[test]
    fn multi_line_data_and_replacement() {
        let event = b"id: 7\ndata: {\"a\":\ndata: 1}\n\n";
        assert_eq!(data(event).unwrap(), b"{\"a\":\n1}");
        assert_eq!(with_data(event, b"{}"), b"id: 7\ndata: {}\n\n".to_vec());
        assert_eq!(data(b"id: 1\n\n"), None);
        assert_eq!(data(b"data\n\n").unwrap(), b"");
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut s = Splitter::default();
        assert!(s.push(b"data: aaaa", 8).is_err());
    }
}
