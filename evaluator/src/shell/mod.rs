//! The simple commands of a command line, and the `runs` / `runs only` matchers
//! (LANGUAGE.md §8).
//!
//! **Why brush-parser.** Command lines are parsed with [`brush_parser`] (the parser of the brush
//! shell), not tree-sitter-bash. It is pure Rust (no C toolchain, no `unsafe` FFI in the
//! evaluator's dependency tree, builds for every target the evaluator does), MIT-licensed, and
//! gives a typed AST of bash (lists, pipelines, compound commands, functions, redirections,
//! here-documents, `[[ ]]`, `(( ))`, process substitution) plus a separate word parser whose
//! pieces tell unquoted text from single-quoted, double-quoted, ANSI-C and gettext strings,
//! escapes, tilde, parameter, arithmetic and command substitutions. Quote removal and the
//! "dynamic word" test are computed from those pieces, never from the text. tree-sitter-bash is
//! error-tolerant (it always yields a tree, with ERROR nodes that have to be hunted for, while §8
//! wants "does not parse" to be unknown), needs a C build, and leaves words as text spans whose
//! quoting would have to be re-derived by hand. Parsing a 200-character line costs tens of
//! microseconds; plain words (letters, digits and `-./_=:,+%@^`) skip the word parser.
//!
//! **Depth.** The parser recurses once per nested construct, so a line is first measured (see
//! `depth.rs`): a line with few opening characters is parsed on the caller's thread, a line whose
//! estimated nesting exceeds 256 is unknown unparsed, and any other line is parsed on a thread
//! with a large stack. The walk over the tree counts nesting itself and stops at 256.
//!
//! **Order.** Simple commands are listed in textual order; a simple command comes before the
//! commands nested in it: first its own file redirections, then the command lines of its `-c`
//! and `eval` words, then the commands of its substitutions, left to right.

#![forbid(unsafe_code)]

mod depth;
mod fast;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fmt;

use brush_parser::ast;
use brush_parser::word::{WordPiece, WordPieceWithSource};
use brush_parser::{Parser, ParserOptions};

use crate::Tri;
use crate::glob::Glob;

/// Constructs nested deeper than this make a command line unknown (§8).
pub(crate) const MAX_DEPTH: usize = 256;
/// `-c` and `eval` command lines nested deeper than this make a command line unknown (§8).
pub(crate) const MAX_SHELL_NESTING: usize = 8;
/// Lines whose [`depth::cheap_bound`] is at most this are parsed on the caller's thread.
const INLINE_BOUND: usize = 16;
/// The stack of the thread that parses other lines (reserved, not committed).
const BIG_STACK: usize = 512 << 20;

/// A word of a simple command, quotes removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The word as the shell would pass it, quotes and escapes removed.
    pub text: String,
    /// Depends on the environment at run time (§8 "Dynamic words").
    pub dynamic: bool,
}

/// One simple command: its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The command name and its arguments, in order (leading variable assignments removed).
    pub words: Vec<Word>,
}

/// Why a command line is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// Why, in words (`constructs nest more than 256 deep`).
    pub reason: String,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn unknown<T>(reason: impl Into<String>) -> Result<T, Unknown> {
    Err(Unknown { reason: reason.into() })
}

/// The simple commands of a command line, or why they cannot be known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// Every simple command the line can run, in textual order.
    Known(Vec<SimpleCommand>),
    /// The line cannot be read with certainty; conditions over it are unknown (fail closed).
    Unknown(Unknown),
}

/// Parses a command line (§8 "Simple commands", "Unknown command lines").
pub fn parse(text: &str) -> CommandLine {
    match analysis(text) {
        Ok(a) => CommandLine::Known(a.commands),
        Err(u) => CommandLine::Unknown(u),
    }
}

/// The shell variables a command line sets, in textual order, repeats kept once: leading
/// assignments of simple commands (`LD_PRELOAD=x ls`: removed from the command's words by §8),
/// assignments on their own (`PATH=.:$PATH; ls`) and `for` loop variables. `None`
/// when the command line is unknown (§8). Not part of the language: gateways derive an
/// argument from it, since a variable such as `PATH`, `LD_PRELOAD` or `GIT_EXTERNAL_DIFF` changes
/// what an allowed program runs.
pub fn assigned_variables(text: &str) -> Option<Vec<String>> {
    analysis(text).ok().map(|a| a.assigned)
}

/// What the walk of a command line found.
#[derive(Debug, PartialEq, Eq)]
struct Analysis {
    commands: Vec<SimpleCommand>,
    assigned: Vec<String>,
}

fn analysis(text: &str) -> Result<Analysis, Unknown> {
    readable(text)?;
    if let Some(analysis) = fast::analyse(text) {
        return Ok(analysis);
    }
    if depth::cheap_bound(text) <= INLINE_BOUND {
        analyse(text)
    } else if depth::estimate(text, MAX_DEPTH) > MAX_DEPTH {
        unknown(format!("constructs nest more than {MAX_DEPTH} deep"))
    } else {
        let owned = text.to_owned();
        match std::thread::Builder::new()
            .name("writ-shell-parse".into())
            .stack_size(BIG_STACK)
            .spawn(move || analyse(&owned))
        {
            Ok(handle) => {
                handle.join().unwrap_or_else(|_| unknown("the shell parser failed on this line"))
            }
            Err(_) => unknown("no thread to parse a deeply nested line"),
        }
    }
}

/// Whether brush-parser may be given `text`: `Err` for what it is known to mishandle (each found
/// by fuzzing), so that such a line is unknown before the parser sees it rather than hanging it
/// or panicking inside it. Every text the parser reads passes here: the whole line (before the
/// fast path, which reads none of these shapes but would read a few of them differently) and
/// each `-c`, `eval` and substitution text in [`Walker::line`], which the whole line's check
/// has not seen unquoted.
fn readable(text: &str) -> Result<(), Unknown> {
    if text.contains('\0') {
        return unknown("it contains a NUL character");
    }
    if has_oversized_fd(text) {
        // brush-parser 0.4 unwraps the number before `<`/`>` as an i32 and panics past it.
        return unknown("a redirection's file descriptor number is too large");
    }
    match here_document_problem(text) {
        Some(problem) => unknown(problem.reason()),
        None => Ok(()),
    }
}

fn analyse(text: &str) -> Result<Analysis, Unknown> {
    let mut walker = Walker {
        out: Vec::new(),
        assigned: Vec::new(),
        depth: 0,
        shells: 0,
        options: options(),
        current: String::new(),
        steps: ParseSteps::for_text(text),
    };
    walker.program(text)?;
    Ok(Analysis { commands: walker.out, assigned: walker.assigned })
}

fn options() -> ParserOptions {
    ParserOptions {
        // Extended globs are recognised so that they can be reported as unknown.
        enable_extended_globbing: true,
        posix_mode: false,
        sh_mode: false,
        tilde_expansion_at_word_start: true,
        tilde_expansion_after_colon: false,
        ..ParserOptions::default()
    }
}

/// Whether a run of more than 9 digits comes right before `<` or `>` (a file descriptor that
/// does not fit brush-parser's i32).
fn has_oversized_fd(text: &str) -> bool {
    let mut digits = 0;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'<' | b'>' if digits > 9 => return true,
            _ => digits = 0,
        }
    }
    false
}

/// Each byte of a raw text, with whether brush-parser may read it as syntax: not escaped and
/// not in quotes, as far as quotes can be told without parsing. The checks before parsing use
/// it, and each must err towards "syntax", since a byte they think quoted is one they do not
/// check. So quotes hide bytes only in the part of the text before the first byte, outside
/// quotes, that changes how brush-parser 0.4 reads the quotes after it: a `$` (a substitution
/// starts new quotes, even inside double ones; `$'` lets `\'` escape a quote), a `` ` `` (its
/// text is read raw, quotes and all), both also inside double quotes; a `#` inside a word, a
/// `(` opening an extended glob, the line break after a here-document operator (its body is
/// read raw). From that byte on, only a backslash hides the byte after it. A structured hunt
/// found each of these hiding a hang or a panic from a reading that honoured every quote:
/// `` `'`<<$(  ``, `$'\'' <<$(  `, `# it's` before 28 `(`. A `#` that starts a word while the
/// quotes are still trusted (at the start, or after a blank, a line break, `;`, `&` or `|`
/// read as syntax) starts a comment, as it does for brush-parser: its bytes up to the line
/// break are hidden (`# it's`, `ls # see <<EOF`) and the quotes stay trusted after it. Reading
/// the comment's `<<` as an operator would make the checks skip the next line as its body,
/// when the parser reads that line as commands (`#<<E⏎<<E$[`).
fn quoting(raw: &str) -> impl Iterator<Item = (u8, bool)> + '_ {
    let mut reader = QuoteReader::default();
    raw.bytes().enumerate().map(move |(i, byte)| (byte, reader.syntax(raw.as_bytes(), i)))
}

/// The state of [`quoting`] between bytes.
#[derive(Default)]
struct QuoteReader {
    single: bool,
    double: bool,
    escaped: bool,
    /// Whether a byte that changes how quotes read has been seen (see [`quoting`]).
    untrusted: bool,
    /// Whether the byte before is a `<` read as syntax (so that a `<` is not a run's start).
    after_less: bool,
    /// Whether a here-document operator waits for the line break that starts its body.
    body_pending: bool,
    /// Whether the bytes read so far end inside a word, so that a `#` would not start a
    /// comment: false at the start and after a blank, line break, `;`, `&` or `|` read as
    /// syntax.
    in_word: bool,
    /// Whether a comment that started while the quotes were trusted runs to the line break.
    comment: bool,
}

impl QuoteReader {
    /// Whether `bytes[i]`, the byte after those already read, may be syntax.
    fn syntax(&mut self, bytes: &[u8], i: usize) -> bool {
        let Some(&b) = bytes.get(i) else { return false };
        let syntax = self.read(bytes, i, b);
        self.after_less = syntax && b == b'<';
        self.in_word = !(syntax && matches!(b, b' ' | b'\t' | b'\n' | b';' | b'&' | b'|'));
        syntax
    }

    fn read(&mut self, bytes: &[u8], i: usize, b: u8) -> bool {
        if self.comment {
            if b != b'\n' {
                return false;
            }
            // The line break that ends the comment is read as any other.
            self.comment = false;
        }
        if self.escaped {
            self.escaped = false;
            return false;
        }
        if !self.untrusted && !self.single && !self.double && b == b'#' && !self.in_word {
            self.comment = true;
            return false;
        }
        if !self.untrusted && !self.single {
            let after = |c: u8| i.checked_sub(1).and_then(|j| bytes.get(j)) == Some(&c);
            if b == b'<' && !self.double && !self.after_less && here_document_operator(bytes, i) {
                self.body_pending = true;
            }
            self.untrusted = match b {
                b'$' | b'`' => true,
                _ if self.double => false,
                b'#' => true,
                b'(' => [b'@', b'!', b'+', b'*', b'?'].into_iter().any(after),
                b'\n' => self.body_pending,
                _ => false,
            };
        }
        if self.untrusted {
            self.escaped = b == b'\\';
            return !self.escaped;
        }
        let outside = !self.single && !self.double;
        match b {
            b'\\' if !self.single => self.escaped = true,
            b'\'' if !self.double => self.single = !self.single,
            b'"' if !self.single => self.double = !self.double,
            _ => {}
        }
        outside && !self.escaped
    }
}

/// Whether the run of `<` that starts at `at` holds a here-document operator.
fn here_document_operator(bytes: &[u8], at: usize) -> bool {
    is_here_document_run(bytes.iter().skip(at).take_while(|&&b| b == b'<').count())
}

/// Whether a run of `run` `<` holds a here-document operator: any run other than `<` and the
/// here-string `<<<` (the tokenizer cuts `<<<<<` into `<<<` and `<<`; `<<<<` counts too, erring
/// towards checking).
fn is_here_document_run(run: usize) -> bool {
    run != 1 && run != 3
}

/// What keeps a line's here-documents from being read, for [`here_document_problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HereDocumentProblem {
    /// The operator has no word after it (`cat <<`, `x <<)`).
    NoDelimiter,
    /// The delimiter is not a plain word (`<<)`, `<<}`, a line break in quotes).
    DelimiterNotPlain,
    /// After a `$(`, `${` or `$[`, or with one later on the operator's line, the body runs to the
    /// end of the text (`$(<<E)$(⏎E`, `$(<<E⏎)⏎E`), leaving the construct around it open.
    BodyEndsText,
    /// No line break follows the delimiter, so no line for the body (`$(<<EOF`, `cat <<EOF`).
    NoBody,
}

impl HereDocumentProblem {
    fn reason(self) -> &'static str {
        match self {
            Self::NoDelimiter => "a here-document operator `<<` has no delimiter word after it",
            Self::DelimiterNotPlain => {
                "a here-document's delimiter is not a plain word (letters, digits and `_-.,:/@%+=`, \
                 quoted or not)"
            }
            Self::BodyEndsText => {
                "a here-document's body runs to the end of the text inside a construct"
            }
            Self::NoBody => "a here-document operator `<<` has no line after it for its body",
        }
    }
}

/// Whether a here-document's delimiter may hold `byte`: real delimiters are words such as `EOF`,
/// `END_OF_TEXT` or `my-file.txt`. brush-parser 0.4 mishandles others (a structured hunt found
/// them): it panics when a delimiter is the `)`, `}` or `]` that closes the substitution around
/// the body, and hangs on a quoted line break in one.
fn is_delimiter_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_-.,:/@%+=".contains(&byte)
}

/// A here-document whose body is still to come, for [`here_document_problem`].
struct PendingBody {
    /// The delimiter, quotes removed.
    delimiter: Vec<u8>,
    /// Whether a `$(`, `${` or `$[` comes before the operator or after it on its line (so that
    /// the body may be read by brush-parser's tokenizer for that construct, whose reading of a
    /// body that runs to the end of the text panics). Any such bytes count, quoted or not.
    in_construct: bool,
}

/// What keeps brush-parser 0.4 from reading `text`'s here-documents safely, if anything, in the
/// shapes a structured hunt found it hanging or panicking on. Each here-document operator (see
/// [`is_here_document_run`]) that [`quoting`] reads as syntax needs a plain word as its
/// delimiter (see [`is_delimiter_byte`]; quoted, escaped or neither). Unless it looks like a
/// shift inside `$(( ))`, a line break must follow (with no line for its body, brush-parser can
/// end empty here-documents at the end of the text forever, allocating: fuzzing found `$(<<  `,
/// 24 GB in 75 s), and, where a `$(`, `${` or `$[` comes before it or on the rest of its line,
/// something must follow its body (see [`PendingBody::in_construct`]). Bodies are skipped as
/// brush-parser skips them, each up to the first line that is its delimiter once blanks are
/// trimmed (never later than brush-parser's own end).
fn here_document_problem(text: &str) -> Option<HereDocumentProblem> {
    // Every command line passes here: most have no `<<`, and need no reading of their quotes.
    if !text.contains("<<") {
        return None;
    }
    let raw = text.as_bytes();
    let bytes: Vec<(u8, bool)> = quoting(text).collect();
    let plain_byte = |i: usize, byte: u8| bytes.get(i).is_some_and(|&(b, p)| p && b == byte);
    let is_less = |i: usize| plain_byte(i, b'<');
    // Where the first `$(`, `${` or `$[` that is not simply closed starts (quoted or not): an
    // operator after it may be inside a construct.
    let first_construct = (0..raw.len()).find(|&j| opens_open_construct(raw, j));
    let mut pending: Vec<PendingBody> = Vec::new();
    let (mut arithmetic, mut i) = (0usize, 0);
    while let Some(&(b, plain)) = bytes.get(i) {
        if opens_open_construct(raw, i) {
            pending.iter_mut().for_each(|body| body.in_construct = true);
        }
        if plain && b == b'\n' && !pending.is_empty() {
            i += 1;
            for body in pending.drain(..) {
                match body_end(raw, i, &body) {
                    Ok(end) => i = end,
                    Err(problem) => return Some(problem),
                }
            }
            continue;
        } else if plain_byte(i, b'$') && plain_byte(i + 1, b'(') && plain_byte(i + 2, b'(') {
            arithmetic += 1;
        } else if arithmetic > 0 && plain_byte(i, b')') && plain_byte(i + 1, b')') {
            arithmetic -= 1;
        } else if is_less(i) && (i == 0 || !is_less(i - 1)) {
            let operator = i;
            let run = (i..).take_while(|&j| is_less(j)).count();
            i += run;
            if is_here_document_run(run) {
                // Every delimiter is checked, even after what looks like a shift in `$(( ))`:
                // brush-parser's reading of arithmetic is not this one (`$(($(())<<\t)`).
                let strip_tabs = run == 2 && raw.get(i) == Some(&b'-');
                let (end, delimiter) =
                    match here_document_delimiter(raw, i + usize::from(strip_tabs)) {
                        Ok(found) => found,
                        Err(problem) => return Some(problem),
                    };
                i = end;
                if arithmetic == 0 {
                    // The opener's two bytes both before the operator.
                    let in_construct = first_construct.is_some_and(|j| j + 2 <= operator);
                    pending.push(PendingBody { delimiter, in_construct });
                }
            }
            continue;
        }
        i += 1;
    }
    (!pending.is_empty()).then_some(HereDocumentProblem::NoBody)
}

/// Whether a `$(`, `${` or `$[` starts at `at` (see [`PendingBody::in_construct`]).
fn opens_construct(raw: &[u8], at: usize) -> bool {
    raw.get(at) == Some(&b'$') && raw.get(at + 1).is_some_and(|b| b"({[".contains(b))
}

/// Whether a `$(`, `${` or `$[` starts at `at` that may still be open after it: one that
/// [`simply_closed`] does not pass. (No opener lies inside a simply closed one, which holds no
/// `$`.)
fn opens_open_construct(raw: &[u8], at: usize) -> bool {
    opens_construct(raw, at) && !simply_closed(raw, at)
}

/// Whether the construct opening at `at` is closed in a way no reading can take differently:
/// `$(` then only letters, digits, blanks and `_-.,:/@%+=` up to its `)` (`$(pwd)`,
/// `$(git rev-parse --show-toplevel)`), or `${` then a name up to its `}` (`${HOME}`).
/// Between the opener and the closer there is nothing that quotes, escapes, nests, comments or
/// redirects, so whether the parser reads it as a construct (outside single
/// quotes) or as quoted text, nothing it opened is still open after the closer, and a
/// here-document operator after it is not inside it. Anything else (`$[`, `$((`, quotes or a
/// `$` inside) is not: the cautious side.
fn simply_closed(raw: &[u8], at: usize) -> bool {
    let (closer, allowed): (u8, fn(u8) -> bool) = match raw.get(at + 1) {
        Some(b'(') => (b')', |b| b.is_ascii_alphanumeric() || b" \t_-.,:/@%+=".contains(&b)),
        Some(b'{') => (b'}', |b| b.is_ascii_alphanumeric() || b == b'_'),
        _ => return false,
    };
    let inside = raw.get(at + 2..).unwrap_or_default();
    match inside.iter().position(|&b| !allowed(b)) {
        Some(length) => inside.get(length) == Some(&closer) && (closer == b')' || length > 0),
        None => false,
    }
}

/// Where the body that starts at `from` ends (after its delimiter's line, or at the end of the
/// text), or what is wrong with it. A line ends the body when it is the delimiter once blanks
/// are trimmed: with or without `<<-`'s tabs, never later than brush-parser's own end.
fn body_end(raw: &[u8], from: usize, body: &PendingBody) -> Result<usize, HereDocumentProblem> {
    let mut at = from;
    let end = loop {
        let Some(rest) = raw.get(at..).filter(|rest| !rest.is_empty()) else { break raw.len() };
        let length = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        at += length + 1;
        if rest.get(..length).unwrap_or_default().trim_ascii() == body.delimiter.as_slice() {
            break at.min(raw.len());
        }
    };
    if body.in_construct && raw.get(end..).unwrap_or_default().trim_ascii().is_empty() {
        return Err(HereDocumentProblem::BodyEndsText);
    }
    Ok(end)
}

/// Where the here-document delimiter that starts at `from` (after blanks) ends, and the
/// delimiter with its quotes removed, if it is a plain word: plain bytes, each escaped or not,
/// or in single or double quotes.
fn here_document_delimiter(
    bytes: &[u8],
    from: usize,
) -> Result<(usize, Vec<u8>), HereDocumentProblem> {
    let mut at = from;
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    let mut word = Vec::new();
    loop {
        match bytes.get(at) {
            None | Some(b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')') => {
                break;
            }
            Some(&quote @ (b'\'' | b'"')) => {
                at += 1;
                while let Some(&byte) = bytes.get(at).filter(|&&b| b != quote) {
                    if !is_delimiter_byte(byte) {
                        return Err(HereDocumentProblem::DelimiterNotPlain);
                    }
                    word.push(byte);
                    at += 1;
                }
                if bytes.get(at).is_none() {
                    return Err(HereDocumentProblem::DelimiterNotPlain);
                }
                at += 1;
            }
            Some(b'\\') => match bytes.get(at + 1) {
                Some(&byte) if is_delimiter_byte(byte) => {
                    word.push(byte);
                    at += 2;
                }
                _ => return Err(HereDocumentProblem::DelimiterNotPlain),
            },
            Some(&byte) if is_delimiter_byte(byte) => {
                word.push(byte);
                at += 1;
            }
            Some(_) => return Err(HereDocumentProblem::DelimiterNotPlain),
        }
    }
    if word.is_empty() {
        return Err(HereDocumentProblem::NoDelimiter);
    }
    Ok((at, word))
}

/// The most digits in a row a word with an unquoted `{` may hold: brush-parser 0.4 reads the
/// numbers of a brace sequence (`{1..20}`) as `i64` and panics on a longer one.
const MAX_DIGITS_AFTER_A_BRACE: usize = 18;

/// Whether a run of more than [`MAX_DIGITS_AFTER_A_BRACE`] digits follows an unquoted `{`.
fn has_oversized_brace_number(raw: &str) -> bool {
    let (mut seen_brace, mut digits) = (false, 0);
    for (b, plain) in quoting(raw) {
        seen_brace |= plain && b == b'{';
        digits = if b.is_ascii_digit() { digits + 1 } else { 0 };
        if seen_brace && digits > MAX_DIGITS_AFTER_A_BRACE {
            return true;
        }
    }
    false
}

/// Whether an unquoted `~`, then `+` or `-` or neither, is followed by a run of more than
/// [`MAX_DIGITS_AFTER_A_BRACE`] digits: brush-parser 0.4 reads the number of a directory-stack
/// tilde (`~+2`, `~-1`) as `usize` and panics on a longer one.
fn has_oversized_tilde_number(raw: &str) -> bool {
    if !raw.contains('~') {
        return false;
    }
    let bytes: Vec<(u8, bool)> = quoting(raw).collect();
    bytes.iter().enumerate().any(|(i, &(b, plain))| {
        if !(plain && b == b'~') {
            return false;
        }
        let sign = usize::from(bytes.get(i + 1).is_some_and(|&(s, _)| s == b'+' || s == b'-'));
        let digits =
            bytes.iter().skip(i + 1 + sign).take_while(|&&(d, _)| d.is_ascii_digit()).count();
        digits > MAX_DIGITS_AFTER_A_BRACE
    })
}

/// The steps of brush-parser's grammars that the parses of one text may take together:
/// [`MIN_PARSE_STEPS`], and [`PARSE_STEPS_PER_BYTE`] more per byte of the text. A text is the
/// command line, or a `-c`, `eval` or substitution text inside it (walked as a line of its
/// own); its parse and the parses of its words draw from its budget. The grammars backtrack
/// without memoization, and some texts take time exponential in their nesting
/// (`echo $(+(i+(i…"))))` with an unclosed quote inside); a line whose parses run out of steps
/// is unknown. One budget per text, not one per parse, so that the work is linear in the text
/// however many words it splits into (a word of six `{` and three letters costs about 5,000
/// steps to read, and a line may hold thousands). Every known line of the shell tests, the
/// conformance corpora and the fuzz seeds stays known with 512 steps plus 8 per byte, an
/// eighth of this.
const MIN_PARSE_STEPS: u64 = 4_096;

/// See [`MIN_PARSE_STEPS`].
const PARSE_STEPS_PER_BYTE: u64 = 64;

/// What is left of a text's budget of parse steps (see [`MIN_PARSE_STEPS`]), which its parse
/// and the parses of its words draw from.
struct ParseSteps(Cell<u64>);

impl ParseSteps {
    fn for_text(text: &str) -> ParseSteps {
        let bytes = u64::try_from(text.len()).unwrap_or(u64::MAX);
        ParseSteps(Cell::new(
            MIN_PARSE_STEPS.saturating_add(bytes.saturating_mul(PARSE_STEPS_PER_BYTE)),
        ))
    }

    /// Runs `parse`, a parse by brush-parser, within the steps left, turning a panic of the
    /// parser or running out of steps into an unknown line.
    fn guarded<T>(&self, parse: impl FnOnce() -> T) -> Result<T, Unknown> {
        let budgeted = || brush_parser::budget::with_step_budget(self.0.get(), parse);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(budgeted)) {
            Ok(Ok((parsed, left))) => {
                self.0.set(left);
                Ok(parsed)
            }
            Ok(Err(brush_parser::budget::Exhausted)) => {
                self.0.set(0);
                unknown("the shell parser would take too long on this line")
            }
            Err(_) => unknown("the shell parser failed on this line"),
        }
    }
}

/// A command line found inside a word, to be walked after the command that holds it.
enum Nested {
    /// `$( )` or `` ` ` `` contents.
    Substitution(String),
    /// A process substitution, already parsed.
    Process(ast::SubshellCommand),
}

/// A word after analysis.
struct Analysed {
    word: Word,
    nested: Vec<Nested>,
}

struct Walker {
    out: Vec<SimpleCommand>,
    /// See [`assigned_variables`].
    assigned: Vec<String>,
    depth: usize,
    /// How many `-c` / `eval` command lines enclose the one being walked.
    shells: usize,
    options: ParserOptions,
    /// The command line being walked (positions in the tree refer to it).
    current: String,
    /// What is left of the parse steps of the text being walked.
    steps: ParseSteps,
}

/// Shells whose `-c` string is a command line.
const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "dash", "ksh", "mksh"];

fn final_segment(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// `-c`, or a cluster of single-letter options containing `c` (`-lc`, `-ec`).
fn is_c_option(word: &Word) -> bool {
    !word.dynamic
        && word
            .text
            .strip_prefix('-')
            .is_some_and(|rest| rest.contains('c') && rest.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Whether a duplication target (`>&TARGET`) duplicates or closes a descriptor: digits, `-`, or
/// digits then `-`.
fn is_duplication(target: &Word) -> bool {
    let t = target.text.as_str();
    let digits = t.strip_suffix('-').unwrap_or(t);
    !target.dynamic
        && (t == "-" || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())))
}

/// Characters of a word that the word parser would return as one unquoted text piece with
/// nothing dynamic in it.
fn is_plain(raw: &str) -> bool {
    !raw.is_empty() && raw.bytes().all(is_plain_byte)
}

/// A byte that is itself in an unquoted word: letters, digits and `-._/=:,+%@^`.
fn is_plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'.' | b'/' | b'_' | b'=' | b':' | b',' | b'+' | b'%' | b'@' | b'^')
}

/// Whether a raw word may hold a command substitution or a bash 5.3 `${ cmd; }`.
fn may_substitute(raw: &str) -> bool {
    raw.contains("$(") || raw.contains('`') || raw.contains("${")
}

impl Walker {
    fn enter(&mut self) -> Result<(), Unknown> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return unknown(format!("constructs nest more than {MAX_DEPTH} deep"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Parses and walks a command line found inside the line (a `-c` or `eval` text, a
    /// substitution's), which the whole line's [`readable`] check has not seen as such.
    fn line(&mut self, text: &str) -> Result<(), Unknown> {
        readable(text)?;
        self.program(text)
    }

    /// Parses and walks a text that [`readable`] has passed.
    fn program(&mut self, text: &str) -> Result<(), Unknown> {
        let options = self.options.clone();
        let outer_steps = std::mem::replace(&mut self.steps, ParseSteps::for_text(text));
        let program = self.steps.guarded(|| {
            let mut parser = Parser::new(std::io::BufReader::new(text.as_bytes()), &options);
            parser.parse_program()
        })?;
        let program = match program {
            Ok(p) => p,
            Err(e) => return unknown(format!("it does not parse: {e}")),
        };
        let outer = std::mem::replace(&mut self.current, text.to_owned());
        for list in &program.complete_commands {
            self.list(list)?;
        }
        self.current = outer;
        self.steps = outer_steps;
        Ok(())
    }

    /// A command line found in a `-c` or `eval` word, which the depth check has not seen.
    fn shell_line(&mut self, text: &str) -> Result<(), Unknown> {
        self.shells += 1;
        if self.shells > MAX_SHELL_NESTING {
            return unknown(format!("-c and eval nest more than {MAX_SHELL_NESTING} deep"));
        }
        if depth::cheap_bound(text) > INLINE_BOUND
            && self.depth + depth::estimate(text, MAX_DEPTH) > MAX_DEPTH
        {
            return unknown(format!("constructs nest more than {MAX_DEPTH} deep"));
        }
        self.line(text)?;
        self.shells -= 1;
        Ok(())
    }

    fn list(&mut self, list: &ast::CompoundList) -> Result<(), Unknown> {
        for ast::CompoundListItem(and_or, _) in &list.0 {
            self.pipeline(&and_or.first)?;
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p)?,
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline) -> Result<(), Unknown> {
        for command in &pipeline.seq {
            self.command(command)?;
        }
        Ok(())
    }

    fn command(&mut self, command: &ast::Command) -> Result<(), Unknown> {
        match command {
            ast::Command::Simple(simple) => self.simple(simple),
            ast::Command::Compound(compound, redirects) => {
                self.enter()?;
                self.compound(compound)?;
                self.leave();
                self.redirects(redirects.as_ref())
            }
            ast::Command::Function(function) => {
                self.enter()?;
                let ast::FunctionBody(body, redirects) = &function.body;
                self.compound(body)?;
                self.redirects(redirects.as_ref())?;
                self.leave();
                Ok(())
            }
            ast::Command::ExtendedTest(test, redirects) => {
                self.enter()?;
                self.extended_test(&test.expr)?;
                self.leave();
                self.redirects(redirects.as_ref())
            }
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand) -> Result<(), Unknown> {
        use ast::CompoundCommand as C;
        match compound {
            C::Arithmetic(a) => {
                // The parser reads `( ( ls ) )` (two subshells in bash) as `(( ls ))`.
                let start = a.loc.start.index;
                let mut opening = self.current.chars().skip(start);
                if opening.next() != Some('(') || opening.next() != Some('(') {
                    return unknown("`( (` (two subshells) is read by the parser as `((`");
                }
                self.arithmetic(&a.expr.value)
            }
            C::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater].into_iter().flatten() {
                    self.arithmetic(&e.value)?;
                }
                self.list(&f.body.list)
            }
            C::BraceGroup(g) => self.list(&g.list),
            C::Subshell(s) => self.list(&s.list),
            C::ForClause(f) => {
                self.assigns(&f.variable_name);
                for w in f.values.iter().flatten() {
                    self.substitutions_of(&w.value)?;
                }
                self.list(&f.body.list)
            }
            C::CaseClause(c) => {
                self.substitutions_of(&c.value.value)?;
                for item in &c.cases {
                    for p in &item.patterns {
                        self.substitutions_of(&p.value)?;
                    }
                    if let Some(cmd) = &item.cmd {
                        self.list(cmd)?;
                    }
                }
                Ok(())
            }
            C::IfClause(i) => {
                self.list(&i.condition)?;
                self.list(&i.then)?;
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.list(c)?;
                    }
                    self.list(&e.body)?;
                }
                Ok(())
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.list(&w.0)?;
                self.list(&w.1.list)
            }
            C::Coprocess(_) => unknown("it uses coproc"),
        }
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr) -> Result<(), Unknown> {
        use ast::ExtendedTestExpr as E;
        match expr {
            E::And(a, b) | E::Or(a, b) => {
                self.enter()?;
                self.extended_test(a)?;
                self.extended_test(b)?;
                self.leave();
                Ok(())
            }
            E::Not(a) | E::Parenthesized(a) => {
                self.enter()?;
                self.extended_test(a)?;
                self.leave();
                Ok(())
            }
            E::UnaryTest(_, w) => self.substitutions_of(&w.value),
            E::BinaryTest(_, a, b) => {
                self.substitutions_of(&a.value)?;
                self.substitutions_of(&b.value)
            }
        }
    }

    /// The commands of the substitutions in an arithmetic expression.
    fn arithmetic(&mut self, expr: &str) -> Result<(), Unknown> {
        self.substitutions_of(expr)
    }

    /// Walks the command lines substituted in a word that is not itself a command word
    /// (assignment values, `for` and `case` words, `[[ ]]` operands, redirection targets...).
    fn substitutions_of(&mut self, raw: &str) -> Result<(), Unknown> {
        if !may_substitute(raw) {
            return Ok(());
        }
        let analysed = self.word(raw)?;
        self.nested(analysed.nested)
    }

    fn nested(&mut self, nested: Vec<Nested>) -> Result<(), Unknown> {
        for n in nested {
            self.enter()?;
            match n {
                Nested::Substitution(text) => self.line(&text)?,
                Nested::Process(subshell) => self.list(&subshell.list)?,
            }
            self.leave();
        }
        Ok(())
    }

    fn redirects(&mut self, redirects: Option<&ast::RedirectList>) -> Result<(), Unknown> {
        let mut pending = Vec::new();
        let mut nested = Vec::new();
        for r in redirects.iter().flat_map(|l| l.0.iter()) {
            self.redirect(r, &mut pending, &mut nested)?;
        }
        self.out.extend(pending);
        self.nested(nested)
    }

    /// One redirection: the command it adds (if any) goes to `pending`, the command lines in
    /// its target to `nested`.
    fn redirect(
        &mut self,
        redirect: &ast::IoRedirect,
        pending: &mut Vec<SimpleCommand>,
        nested: &mut Vec<Nested>,
    ) -> Result<(), Unknown> {
        use ast::IoFileRedirectKind as K;
        match redirect {
            ast::IoRedirect::File(fd, kind, target) => {
                let op = match kind {
                    K::Read => "<",
                    K::Write => ">",
                    K::Append => ">>",
                    K::ReadAndWrite => "<>",
                    K::Clobber => ">|",
                    K::DuplicateInput => "<&",
                    K::DuplicateOutput => ">&",
                };
                let op = match fd {
                    Some(fd) => format!("{fd}{op}"),
                    None => op.to_owned(),
                };
                match target {
                    ast::IoFileRedirectTarget::Filename(w) => {
                        let a = self.word(&w.value)?;
                        pending.push(redirect_command(op, a.word));
                        nested.extend(a.nested);
                    }
                    ast::IoFileRedirectTarget::Duplicate(w) => {
                        let a = self.word(&w.value)?;
                        if !is_duplication(&a.word) {
                            pending.push(redirect_command(op, a.word));
                        }
                        nested.extend(a.nested);
                    }
                    ast::IoFileRedirectTarget::Fd(_) => {}
                    ast::IoFileRedirectTarget::ProcessSubstitution(_, subshell) => {
                        nested.push(Nested::Process(subshell.clone()));
                    }
                }
            }
            ast::IoRedirect::HereDocument(_, doc) => {
                if doc.requires_expansion && (doc.doc.value.contains(['$', '`'])) {
                    return unknown(
                        "a here-document with an unquoted delimiter has $ or ` in its body",
                    );
                }
            }
            ast::IoRedirect::HereString(_, w) => {
                if may_substitute(&w.value) {
                    nested.extend(self.word(&w.value)?.nested);
                }
            }
            ast::IoRedirect::OutputAndError(w, append) => {
                let a = self.word(&w.value)?;
                pending.push(redirect_command(if *append { "&>>" } else { "&>" }.into(), a.word));
                nested.extend(a.nested);
            }
        }
        Ok(())
    }

    fn simple(&mut self, simple: &ast::SimpleCommand) -> Result<(), Unknown> {
        let mut words = Vec::new();
        let mut pending = Vec::new();
        let mut nested = Vec::new();
        let prefix = simple.prefix.iter().flat_map(|p| p.0.iter());
        for item in prefix {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(assignment, _) => {
                    self.assignment(assignment, &mut nested)?;
                }
                other => self.item(other, &mut words, &mut pending, &mut nested)?,
            }
        }
        if let Some(w) = &simple.word_or_name {
            let a = self.word(&w.value)?;
            words.push(a.word);
            nested.extend(a.nested);
        }
        for item in simple.suffix.iter().flat_map(|s| s.0.iter()) {
            self.item(item, &mut words, &mut pending, &mut nested)?;
        }

        if let Some(first) = words.first()
            && first.dynamic
        {
            return unknown(format!("the program `{}` is dynamic", first.text));
        }
        let lines = shell_lines(&words)?;
        if !words.is_empty() {
            self.out.push(SimpleCommand { words });
        }
        self.out.extend(pending);
        for text in lines {
            self.shell_line(&text)?;
        }
        self.nested(nested)
    }

    fn assigns(&mut self, name: &str) {
        if !self.assigned.iter().any(|a| a == name) {
            self.assigned.push(name.to_string());
        }
    }

    fn assignment(
        &mut self,
        assignment: &ast::Assignment,
        nested: &mut Vec<Nested>,
    ) -> Result<(), Unknown> {
        match &assignment.name {
            ast::AssignmentName::VariableName(name)
            | ast::AssignmentName::ArrayElementName(name, _) => self.assigns(name),
        }
        let values: Vec<&ast::Word> = match &assignment.value {
            ast::AssignmentValue::Scalar(w) => vec![w],
            ast::AssignmentValue::Array(items) => {
                items.iter().flat_map(|(k, v)| k.iter().chain(std::iter::once(v))).collect()
            }
        };
        for w in values {
            if may_substitute(&w.value) {
                nested.extend(self.word(&w.value)?.nested);
            }
        }
        Ok(())
    }

    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        words: &mut Vec<Word>,
        pending: &mut Vec<SimpleCommand>,
        nested: &mut Vec<Nested>,
    ) -> Result<(), Unknown> {
        use ast::CommandPrefixOrSuffixItem as I;
        match item {
            I::IoRedirect(r) => self.redirect(r, pending, nested),
            // After the program, `NAME=value` is an argument (`export X=$(...)`).
            I::Word(w) | I::AssignmentWord(_, w) => {
                let a = self.word(&w.value)?;
                words.push(a.word);
                nested.extend(a.nested);
                Ok(())
            }
            I::ProcessSubstitution(kind, subshell) => {
                let op = match kind {
                    ast::ProcessSubstitutionKind::Read => "<(...)",
                    ast::ProcessSubstitutionKind::Write => ">(...)",
                };
                words.push(Word { text: op.into(), dynamic: true });
                nested.push(Nested::Process(subshell.clone()));
                Ok(())
            }
        }
    }

    /// Quote removal and the dynamic test, from the word parser's pieces.
    fn word(&mut self, raw: &str) -> Result<Analysed, Unknown> {
        if is_plain(raw) {
            return Ok(Analysed {
                word: Word { text: raw.to_owned(), dynamic: false },
                nested: Vec::new(),
            });
        }
        if has_oversized_brace_number(raw) {
            return unknown(format!(
                "a number of more than {MAX_DIGITS_AFTER_A_BRACE} digits after a `{{` is not read"
            ));
        }
        if has_oversized_tilde_number(raw) {
            return unknown(format!(
                "a number of more than {MAX_DIGITS_AFTER_A_BRACE} digits after a `~` is not read"
            ));
        }
        let options = &self.options;
        let pieces = match self.steps.guarded(|| brush_parser::word::parse(raw, options))? {
            Ok(p) => p,
            Err(_) => return unknown(format!("the word `{raw}` does not parse")),
        };
        let mut state = WordState {
            raw,
            steps: &self.steps,
            text: String::new(),
            dynamic: false,
            open_bracket: false,
            brace: false,
            nested: Vec::new(),
        };
        state.pieces(&pieces, false)?;
        if state.brace && !state.dynamic && has_brace_expansion(raw, &self.options, &self.steps)? {
            state.dynamic = true;
        }
        Ok(Analysed {
            word: Word { text: state.text, dynamic: state.dynamic },
            nested: state.nested,
        })
    }
}

fn redirect_command(op: String, target: Word) -> SimpleCommand {
    SimpleCommand { words: vec![Word { text: op, dynamic: false }, target] }
}

fn has_brace_expansion(
    raw: &str,
    options: &ParserOptions,
    steps: &ParseSteps,
) -> Result<bool, Unknown> {
    use brush_parser::word::BraceExpressionOrText as B;
    match steps.guarded(|| brush_parser::word::parse_brace_expansions(raw, options))? {
        Ok(Some(parts)) => Ok(parts.iter().any(|p| matches!(p, B::Expr(_)))),
        Ok(None) => Ok(false),
        // Not understood: count it as an expansion (dynamic is the cautious side).
        Err(_) => Ok(true),
    }
}

/// The command lines that a simple command's `-c` and `eval` words hold (§8).
fn shell_lines(words: &[Word]) -> Result<Vec<String>, Unknown> {
    let mut lines = Vec::new();
    let mut taken = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let later = words.get(i + 1..).unwrap_or(&[]);
        if w.dynamic {
            if later.iter().any(is_c_option) {
                return unknown(format!(
                    "`{}` is dynamic and followed by a -c option: it may be a shell",
                    w.text
                ));
            }
            continue;
        }
        if w.text == "eval" {
            if let Some(d) = later.iter().find(|w| w.dynamic) {
                return unknown(format!("eval gets the dynamic word `{}`", d.text));
            }
            let joined: Vec<&str> = later.iter().map(|w| w.text.as_str()).collect();
            lines.push(joined.join(" "));
            continue;
        }
        if !SHELLS.contains(&final_segment(&w.text)) {
            continue;
        }
        let Some(c) = later.iter().position(is_c_option) else {
            continue;
        };
        let after = later.get(c + 1..).unwrap_or(&[]);
        let Some(k) = after.iter().position(|w| w.dynamic || !w.text.starts_with('-')) else {
            continue;
        };
        let index = i + 1 + c + 1 + k;
        if taken.contains(&index) {
            continue;
        }
        taken.push(index);
        match words.get(index) {
            Some(s) if s.dynamic => {
                return unknown(format!("-c gets the dynamic word `{}`", s.text));
            }
            Some(s) => lines.push(s.text.clone()),
            None => {}
        }
    }
    Ok(lines)
}

/// The state of one word's analysis.
struct WordState<'a> {
    raw: &'a str,
    /// What is left of the parse steps of the text the word is in.
    steps: &'a ParseSteps,
    text: String,
    dynamic: bool,
    /// An unquoted `[` has been seen.
    open_bracket: bool,
    /// An unquoted `{` has been seen (a brace expansion is checked at the end).
    brace: bool,
    nested: Vec<Nested>,
}

impl<'a> WordState<'a> {
    fn pieces(&mut self, pieces: &[WordPieceWithSource], quoted: bool) -> Result<(), Unknown> {
        for p in pieces {
            self.piece(p, quoted)?;
        }
        Ok(())
    }

    fn piece(&mut self, p: &WordPieceWithSource, quoted: bool) -> Result<(), Unknown> {
        match &p.piece {
            WordPiece::Text(s) => {
                // The word parser leaves a `${` it cannot read as text: bash 5.3's `${ cmd; }`
                // and `${| cmd; }`, or a bad substitution.
                if s.contains("${") || (s.ends_with('$') && self.next_starts_with(p, '{')) {
                    return unknown("it uses bash 5.3's ${ cmd; } or a bad ${ } substitution");
                }
                if !quoted {
                    self.unquoted_text(s)?;
                }
                if self.open_bracket && s.contains(']') {
                    self.dynamic = true;
                }
                self.text.push_str(s);
            }
            WordPiece::SingleQuotedText(s) => {
                if self.open_bracket && s.contains(']') {
                    self.dynamic = true;
                }
                self.text.push_str(s);
            }
            WordPiece::AnsiCQuotedText(s) => {
                self.dynamic = true;
                self.text.push_str(s);
            }
            WordPiece::DoubleQuotedSequence(inner) => self.pieces(inner, true)?,
            WordPiece::GettextDoubleQuotedSequence(inner) => {
                self.dynamic = true;
                self.pieces(inner, true)?;
            }
            WordPiece::TildeExpansion(_) => {
                self.dynamic = true;
                self.text.push_str(self.source(p));
            }
            WordPiece::ParameterExpansion(_) => {
                self.dynamic = true;
                let source = self.source(p);
                if source.contains("$(") || source.contains('`') {
                    return unknown("a parameter expansion holds a command substitution");
                }
                self.text.push_str(source);
            }
            WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                self.dynamic = true;
                self.text.push_str(self.source(p));
                self.nested.push(Nested::Substitution(s.clone()));
            }
            WordPiece::EscapeSequence(s) => {
                let mut chars = s.chars();
                if chars.next() != Some('\\') {
                    self.text.push_str(s);
                } else {
                    self.text.extend(chars);
                }
            }
            WordPiece::ArithmeticExpression(e) => {
                self.dynamic = true;
                self.text.push_str(self.source(p));
                if may_substitute(&e.value) {
                    let options = options();
                    let pieces = match self
                        .steps
                        .guarded(|| brush_parser::word::parse(&e.value, &options))?
                    {
                        Ok(p) => p,
                        Err(_) => return unknown("an arithmetic expansion does not parse"),
                    };
                    let mut inner = WordState {
                        raw: &e.value,
                        steps: self.steps,
                        text: String::new(),
                        dynamic: false,
                        open_bracket: false,
                        brace: false,
                        nested: Vec::new(),
                    };
                    inner.pieces(&pieces, true)?;
                    self.nested.extend(inner.nested);
                }
            }
        }
        Ok(())
    }

    fn source(&self, p: &WordPieceWithSource) -> &'a str {
        self.raw.get(p.start_index..p.end_index).unwrap_or("")
    }

    fn next_starts_with(&self, p: &WordPieceWithSource, c: char) -> bool {
        self.raw.get(p.end_index..).is_some_and(|rest| rest.starts_with(c))
    }

    fn unquoted_text(&mut self, s: &str) -> Result<(), Unknown> {
        let mut prev = '\0';
        for c in s.chars() {
            match c {
                '(' if matches!(prev, '@' | '!' | '+' | '*' | '?') => {
                    return unknown("it uses an extended glob");
                }
                '*' | '?' => self.dynamic = true,
                '[' => self.open_bracket = true,
                ']' if self.open_bracket => self.dynamic = true,
                '{' => self.brace = true,
                _ => {}
            }
            prev = c;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns and matching

/// One item of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternItem {
    /// A glob (§4) over one word.
    Word(String),
    /// `...`: any number of words, zero included.
    Rest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// A glob, and whether it is `*` (any one word, dynamic ones included).
    Word(Glob, bool),
    Rest,
}

/// A compiled command pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    items: Vec<Item>,
    /// The index of the first string item (which, for `runs`, also matches a path's last
    /// segment).
    first_word: Option<usize>,
}

impl Pattern {
    /// Compiles the items of a pattern (as written, in order).
    pub fn new(items: Vec<PatternItem>) -> Pattern {
        let items: Vec<Item> = items
            .into_iter()
            .map(|i| match i {
                PatternItem::Word(w) => {
                    let star = !w.is_empty() && w.chars().all(|c| c == '*');
                    Item::Word(Glob::new(&w), star)
                }
                PatternItem::Rest => Item::Rest,
            })
            .collect();
        let first_word = items.iter().position(|i| matches!(i, Item::Word(..)));
        Pattern { items, first_word }
    }
}

impl From<&crate::ir::CommandPatternIr> for Pattern {
    fn from(p: &crate::ir::CommandPatternIr) -> Pattern {
        Pattern::new(
            p.items
                .iter()
                .map(|item| match item {
                    crate::ir::PatternItemIr::Word(w) => PatternItem::Word(w.clone()),
                    crate::ir::PatternItemIr::Rest => PatternItem::Rest,
                })
                .collect(),
        )
    }
}

/// The result of a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// The condition's value; unknown when a command that could decide it has a dynamic word.
    pub result: Tri,
    /// The simple command that decided it: for `runs`, the first that matched (true), else
    /// the first unknown; for `runs only`, the first not matched (false), else the first
    /// unknown. `None` when no single command decided it.
    pub command: Option<usize>,
}

/// One string item against one word.
fn item_matches(glob: &Glob, star: bool, word: &Word, path_allowance: bool) -> Tri {
    if word.dynamic {
        return if star { Tri::True } else { Tri::Unknown };
    }
    if glob.is_match(&word.text) {
        return Tri::True;
    }
    Tri::from(path_allowance && word.text.contains('/') && glob.is_match(final_segment(&word.text)))
}

/// `table[j]` = how `pattern` lays over `words[j..]`, for every `j`, by dynamic programming
/// over items × words (Kleene `or` over the ways, `and` along each way).
fn lay_all(pattern: &Pattern, words: &[Word], path_allowance: bool) -> Vec<Tri> {
    let m = words.len();
    // next[j]: items[i+1..] over words[j..]
    let mut next: Vec<Tri> = (0..=m).map(|j| Tri::from(j == m)).collect();
    for (i, item) in pattern.items.iter().enumerate().rev() {
        let mut cur = vec![Tri::False; m + 1];
        match item {
            Item::Rest => {
                let mut acc = Tri::False;
                for j in (0..=m).rev() {
                    acc = acc.or(next.get(j).copied().unwrap_or(Tri::False));
                    if let Some(c) = cur.get_mut(j) {
                        *c = acc;
                    }
                }
            }
            Item::Word(glob, star) => {
                let allowance = path_allowance && pattern.first_word == Some(i);
                for (j, w) in words.iter().enumerate() {
                    let rest = next.get(j + 1).copied().unwrap_or(Tri::False);
                    if rest == Tri::False {
                        continue;
                    }
                    if let Some(c) = cur.get_mut(j) {
                        *c = item_matches(glob, *star, w, allowance).and(rest);
                    }
                }
            }
        }
        next = cur;
    }
    next
}

fn runs_one(command: &SimpleCommand, pattern: &Pattern) -> Tri {
    // Most commands have no word where the pattern's leading string item could start: no need
    // for the table then. (A leading `...` lays anywhere, so it always builds the table.)
    if let Some(Item::Word(glob, star)) = pattern.items.first() {
        let viable = command.words.iter().enumerate().any(|(start, w)| {
            (start == 0 || !w.dynamic) && item_matches(glob, *star, w, true) != Tri::False
        });
        if !viable {
            return Tri::False;
        }
    }
    let table = lay_all(pattern, &command.words, true);
    let mut acc = Tri::False;
    for (start, w) in command.words.iter().enumerate() {
        if start > 0 && w.dynamic {
            continue;
        }
        acc = acc.or(table.get(start).copied().unwrap_or(Tri::False));
        if acc == Tri::True {
            break;
        }
    }
    acc
}

fn runs_only_one(command: &SimpleCommand, patterns: &[Pattern]) -> Tri {
    let mut acc = Tri::False;
    for p in patterns {
        // A leading string item that is false on the program settles the pattern.
        if let (Some(Item::Word(glob, star)), Some(program)) =
            (p.items.first(), command.words.first())
            && item_matches(glob, *star, program, false) == Tri::False
        {
            continue;
        }
        acc = acc.or(lay_all(p, &command.words, false).first().copied().unwrap_or(Tri::False));
        if acc == Tri::True {
            break;
        }
    }
    acc
}

/// `C runs P`.
pub fn runs(commands: &[SimpleCommand], pattern: &Pattern) -> Match {
    let mut first_unknown = None;
    for (i, c) in commands.iter().enumerate() {
        match runs_one(c, pattern) {
            Tri::True => return Match { result: Tri::True, command: Some(i) },
            Tri::Unknown => {
                first_unknown.get_or_insert(i);
            }
            Tri::False => {}
        }
    }
    match first_unknown {
        Some(i) => Match { result: Tri::Unknown, command: Some(i) },
        None => Match { result: Tri::False, command: None },
    }
}

/// `C runs only [P, ...]`.
pub fn runs_only(commands: &[SimpleCommand], patterns: &[Pattern]) -> Match {
    let mut first_unknown = None;
    for (i, c) in commands.iter().enumerate() {
        match runs_only_one(c, patterns) {
            Tri::False => return Match { result: Tri::False, command: Some(i) },
            Tri::Unknown => {
                first_unknown.get_or_insert(i);
            }
            Tri::True => {}
        }
    }
    match first_unknown {
        Some(i) => Match { result: Tri::Unknown, command: Some(i) },
        None => Match { result: Tri::True, command: None },
    }
}

// ---------------------------------------------------------------------------------------------
// Brute-force references, for differential tests: every way of laying the items is enumerated.

fn reference_word(item: &str, word: &Word, path_allowance: bool) -> Tri {
    if word.dynamic {
        return if !item.is_empty() && item.chars().all(|c| c == '*') {
            Tri::True
        } else {
            Tri::Unknown
        };
    }
    let glob = Glob::new(item);
    let last = word.text.rsplit('/').next().unwrap_or("");
    Tri::from(
        glob.is_match(&word.text)
            || (path_allowance && word.text.contains('/') && glob.is_match(last)),
    )
}

/// Every way of laying `items` over `words`: for each, the value of each (item, word) pairing.
fn reference_ways(
    items: &[(usize, Option<&str>)],
    words: &[Word],
    first: Option<usize>,
    allowance: bool,
    acc: Tri,
    out: &mut Vec<Tri>,
) {
    match items.split_first() {
        None => {
            if words.is_empty() {
                out.push(acc);
            }
        }
        Some(((_, None), rest)) => {
            for k in 0..=words.len() {
                reference_ways(rest, words.get(k..).unwrap_or(&[]), first, allowance, acc, out);
            }
        }
        Some(((index, Some(item)), rest)) => {
            if let Some((w, ws)) = words.split_first() {
                let here = reference_word(item, w, allowance && first == Some(*index));
                reference_ways(rest, ws, first, allowance, acc.and(here), out);
            }
        }
    }
}

fn reference_lay(pattern: &[PatternItem], words: &[Word], allowance: bool) -> Tri {
    let items: Vec<(usize, Option<&str>)> = pattern
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            PatternItem::Word(w) => (i, Some(w.as_str())),
            PatternItem::Rest => (i, None),
        })
        .collect();
    let first = items.iter().find(|(_, w)| w.is_some()).map(|(i, _)| *i);
    let mut ways = Vec::new();
    reference_ways(&items, words, first, allowance, Tri::True, &mut ways);
    ways.into_iter().fold(Tri::False, Tri::or)
}

fn pattern_items(pattern: &Pattern) -> Vec<PatternItem> {
    pattern
        .items
        .iter()
        .map(|i| match i {
            Item::Word(g, _) => PatternItem::Word(g.as_str().to_owned()),
            Item::Rest => PatternItem::Rest,
        })
        .collect()
}

/// Brute-force `runs`, for differential tests.
pub fn runs_reference(commands: &[SimpleCommand], pattern: &Pattern) -> Tri {
    let items = pattern_items(pattern);
    let mut acc = Tri::False;
    for c in commands {
        for start in 0..c.words.len() {
            let dynamic = c.words.get(start).is_some_and(|w| w.dynamic);
            if start == 0 || !dynamic {
                acc = acc.or(reference_lay(&items, c.words.get(start..).unwrap_or(&[]), true));
            }
        }
    }
    acc
}

/// Brute-force `runs only`, for differential tests.
pub fn runs_only_reference(commands: &[SimpleCommand], patterns: &[Pattern]) -> Tri {
    let mut acc = Tri::True;
    for c in commands {
        let mut one = Tri::False;
        for p in patterns {
            one = one.or(reference_lay(&pattern_items(p), &c.words, false));
        }
        acc = acc.and(one);
    }
    acc
}
