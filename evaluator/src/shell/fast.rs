//! The fast path: the command lines agents send most often, read without brush-parser.
//!
//! It accepts a small subset of bash, where the §8 analysis is plain to see, and gives up
//! (`None`, so the caller parses with brush-parser) on anything else:
//!
//! - words made of plain characters (letters, digits, `-._/=:,+%@^`, and `~` anywhere but a
//!   word's start or after `=` or `:`), single-quoted strings, and double-quoted strings without
//!   `$`, `` ` ``, `\` or `!`, run together (`a'b'"c"`);
//! - the operators `&&`, `||`, `;` and `|` between simple commands (`;` may also end the line);
//! - file redirections `<`, `>`, `>>` (with a one-digit descriptor before them, `2>`) followed by
//!   a word, and descriptor duplications `>&N`, `<&N`, `>&-` (which add nothing).
//!
//! It gives up on everything else: `$`, globs, braces, a `~` at a word's start, `\`, `#`,
//! parentheses, `&` alone, newlines and control characters, here-documents, a reserved word or
//! an assignment (any `=`) before a command's program, a shell or `eval` anywhere in a command
//! (they need the §8 unwrapping), an empty command (a syntax error). In that subset no word is
//! dynamic, and the walk over brush-parser's tree yields exactly what this yields: the
//! differential test in `tests.rs` checks the two agree on every line this accepts.

use super::{
    Analysis, SHELLS, SimpleCommand, Word, final_segment, is_plain_byte, redirect_command,
};

/// Words that are reserved where a command's program stands (and `[[`, `]]`, `{`, `}`, `!`,
/// which the character rules already refuse).
const RESERVED: [&str; 17] = [
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "coproc",
];

/// The analysis of `text` if it is in the subset above; `None` to parse it with brush-parser.
pub(super) fn analyse(text: &str) -> Option<Analysis> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut commands = Vec::new();
    let mut command = Command::default();
    // Whether the last thing read is `&&`, `||` or `|`, which need a command after them.
    let mut after_operator = false;
    loop {
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        let Some(&byte) = bytes.get(at) else { break };
        match byte {
            b'&' | b'|' | b';' => {
                let next = bytes.get(at + 1).copied();
                let length = match (byte, next) {
                    (b'&', Some(b'&')) | (b'|', Some(b'|')) => 2,
                    (b'|', Some(b'&')) | (b'&', _) | (b';', Some(b';' | b'&')) => return None,
                    _ => 1,
                };
                command.finish(&mut commands)?;
                at += length;
                after_operator = byte != b';';
            }
            b'<' | b'>' => at = command.redirect(bytes, at, None)?,
            b'0'..=b'9' if matches!(bytes.get(at + 1), Some(b'<' | b'>')) => {
                at = command.redirect(bytes, at + 1, Some(byte))?;
            }
            _ => {
                let (word, end) = word(bytes, at)?;
                command.word(word)?;
                at = end;
            }
        }
        if bytes.get(at).is_none() {
            break;
        }
    }
    if command.is_empty() {
        // `a &&` and `a |` at the end are syntax errors; `a;` and the empty line are not.
        if after_operator {
            return None;
        }
    } else {
        command.finish(&mut commands)?;
    }
    Some(Analysis { commands, assigned: Vec::new() })
}

/// The simple command being read: its words, then the commands its redirections add.
#[derive(Default)]
struct Command {
    words: Vec<Word>,
    redirections: Vec<SimpleCommand>,
    /// Redirections only so far (no word): a duplication counts, so that `2>&1 ;` is a command.
    redirected: bool,
}

impl Command {
    fn is_empty(&self) -> bool {
        self.words.is_empty() && !self.redirected
    }

    fn word(&mut self, word: Word) -> Option<()> {
        // Before the program, a word with `=` may be an assignment (quoted or not: which
        // spellings bash takes for one is brush-parser's to say).
        if self.words.is_empty()
            && (word.text.contains('=') || RESERVED.contains(&word.text.as_str()))
        {
            return None;
        }
        let text = word.text.as_str();
        if text == "eval" || SHELLS.contains(&final_segment(text)) {
            return None;
        }
        self.words.push(word);
        Some(())
    }

    /// A redirection whose operator starts at `at` (after its descriptor digit, if any); the
    /// position after its target.
    fn redirect(&mut self, bytes: &[u8], at: usize, fd: Option<u8>) -> Option<usize> {
        let (op, mut at) = match (bytes.get(at), bytes.get(at + 1)) {
            (Some(b'>'), Some(b'>')) => (">>", at + 2),
            (Some(b'>'), Some(b'&')) => (">&", at + 2),
            (Some(b'<'), Some(b'&')) => ("<&", at + 2),
            (Some(b'>'), Some(b'|' | b'(')) | (Some(b'<'), Some(b'<' | b'>' | b'(')) => {
                return None;
            }
            (Some(b'>'), _) => (">", at + 1),
            (Some(b'<'), _) => ("<", at + 1),
            _ => return None,
        };
        self.redirected = true;
        if op.ends_with('&') {
            // Only a duplication or a close (`>&2`, `<&0`, `>&-`, `2>&1-`), written attached.
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let digits = at > start;
            if bytes.get(at) == Some(&b'-') {
                at += 1;
            } else if !digits {
                return None;
            }
            return match bytes.get(at) {
                None | Some(b' ' | b'\t' | b';' | b'&' | b'|') => Some(at),
                _ => None,
            };
        }
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        let (target, end) = word(bytes, at)?;
        let op = match fd {
            Some(digit) => format!("{}{op}", char::from(digit)),
            None => op.to_string(),
        };
        self.redirections.push(redirect_command(op, target));
        Some(end)
    }

    fn finish(&mut self, commands: &mut Vec<SimpleCommand>) -> Option<()> {
        if self.is_empty() {
            return None;
        }
        let command = std::mem::take(self);
        if !command.words.is_empty() {
            commands.push(SimpleCommand { words: command.words });
        }
        commands.extend(command.redirections);
        Some(())
    }
}

/// The word starting at `at` (at least one byte of it): its text and the position after it.
/// `None` when it leaves the subset.
fn word(bytes: &[u8], mut at: usize) -> Option<(Word, usize)> {
    let start = at;
    let mut text = Vec::new();
    loop {
        match bytes.get(at).copied() {
            None | Some(b' ' | b'\t' | b';' | b'&' | b'|' | b'<' | b'>') => break,
            Some(b'\'') => {
                let close = bytes.get(at + 1..)?.iter().position(|&b| b == b'\'')?;
                let content = bytes.get(at + 1..at + 1 + close)?;
                if content.iter().any(|&b| b < 0x20 && b != b'\t') {
                    return None;
                }
                text.extend_from_slice(content);
                at += close + 2;
            }
            Some(b'"') => {
                let close = bytes.get(at + 1..)?.iter().position(|&b| b == b'"')?;
                let content = bytes.get(at + 1..at + 1 + close)?;
                let special =
                    |b: &u8| matches!(b, b'$' | b'`' | b'\\' | b'!') || (*b < 0x20 && *b != b'\t');
                if content.iter().any(special) {
                    return None;
                }
                text.extend_from_slice(content);
                at += close + 2;
            }
            Some(b'~') => {
                // Literal only inside a word, and not where bash expands it in words that look
                // like assignments (after `=` or `:`).
                if at == start || matches!(bytes.get(at - 1), Some(b'=' | b':')) {
                    return None;
                }
                text.push(b'~');
                at += 1;
            }
            Some(b) if is_plain_byte(b) => {
                text.push(b);
                at += 1;
            }
            Some(_) => return None,
        }
    }
    // Digits right before `<` or `>` may name a descriptor (`10>x`); one digit is read as one
    // by the caller, anything longer goes to brush-parser.
    let digits = text.iter().all(u8::is_ascii_digit);
    if at == start || (digits && matches!(bytes.get(at), Some(b'<' | b'>'))) {
        return None;
    }
    let text = String::from_utf8(text).ok()?;
    Some((Word { text, dynamic: false }, at))
}
