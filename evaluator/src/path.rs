//! Paths (LANGUAGE.md §9): a `path` argument is resolved, lexically, before any condition sees
//! it, and `P under "D"` compares resolved forms.
//!
//! [`resolve`] never touches a file system and follows no symbolic link. A resolved path is
//! **canonical**: it starts with `/`, has no empty segment (`//`), no `.` or `..` segment, and
//! no trailing `/` (except `/` itself). Resolving a canonical path gives it back unchanged and
//! borrowed, which is the common case, so that resolution costs one scan and no allocation.
//!
//! # Choices where LANGUAGE.md is silent
//!
//! - **`cwd` is resolved too**, the same way, before a relative path is joined to it: a `cwd`
//!   of `/work//app/./x/..` means `/work/app`. The request keeps `cwd` as it was sent; every
//!   use goes through [`resolve`], so `under "."` compares with the resolved `cwd`. A `cwd`
//!   that does not start with `/` (which decoding refuses, but a request built in code may
//!   hold) or that holds a NUL character resolves no relative path (unknown).
//! - **The empty path is unknown**, like a NUL or a leading `~`: it names no file (POSIX
//!   refuses it), and resolving it to the working directory would put it `under "."`.
//! - A path that is only `~` or starts with `~` (`~/x`, `~alice/x`) is unknown; a `~` anywhere
//!   else (`a/~b`, `/~`) is an ordinary character.

use std::borrow::Cow;

/// Resolves `path` (LANGUAGE.md §9): a relative path is joined to `cwd` (itself resolved first);
/// then `//` collapse, `.` segments go, `..` removes the segment before it (at the root it stays
/// at the root) and a trailing `/` goes. `None` (unknown) for a relative path without a usable
/// `cwd`, for a path containing NUL, starting with `~`, or empty.
///
/// Borrows `path` when it is already canonical; linear time in `path` and `cwd`.
///
/// ```
/// use writ_evaluator::path::resolve;
/// assert_eq!(resolve("src/../.env", Some("/work/app")).as_deref(), Some("/work/app/.env"));
/// assert_eq!(resolve("/a//b/./c/", None).as_deref(), Some("/a/b/c"));
/// assert_eq!(resolve("/../..", None).as_deref(), Some("/"));
/// assert_eq!(resolve("src/main.rs", None), None);
/// assert_eq!(resolve("~/.ssh/id_rsa", Some("/home/a")), None);
/// ```
pub fn resolve<'a>(path: &'a str, cwd: Option<&str>) -> Option<Cow<'a, str>> {
    // The common case first, in one scan: an absolute path already canonical, without NUL.
    if canonical_scan(path.as_bytes(), true) {
        return Some(Cow::Borrowed(path));
    }
    if path.is_empty() || path.starts_with('~') || path.contains('\0') {
        return None;
    }
    if path.starts_with('/') {
        if is_canonical(path) {
            return Some(Cow::Borrowed(path));
        }
        let mut out = String::with_capacity(path.len());
        push_segments(&mut out, path);
        return Some(Cow::Owned(finish(out)));
    }
    let cwd = cwd?;
    if !cwd.starts_with('/') || cwd.contains('\0') {
        return None;
    }
    let mut out = String::with_capacity(cwd.len() + 1 + path.len());
    push_segments(&mut out, cwd);
    push_segments(&mut out, path);
    Some(Cow::Owned(finish(out)))
}

/// Whether `resolved` is `dir_resolved` or lies beneath it: equal, or `dir_resolved` followed
/// by `/`; every absolute path is under `/`. Both must be resolved ([`resolve`]); for other
/// text the answer is the same string comparison, which may not mean what it seems.
///
/// ```
/// use writ_evaluator::path::is_under;
/// assert!(is_under("/work/app/src", "/work/app"));
/// assert!(is_under("/work/app", "/work/app"));
/// assert!(!is_under("/work/application", "/work/app"));
/// assert!(is_under("/etc", "/"));
/// ```
pub fn is_under(resolved: &str, dir_resolved: &str) -> bool {
    if dir_resolved == "/" {
        return resolved.starts_with('/');
    }
    match resolved.strip_prefix(dir_resolved) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether `path` is already resolved: absolute, and no empty, `.` or `..` segment, and no
/// trailing `/` (but `/` itself). It may not contain NUL or start with `~` either, which
/// [`resolve`] checks before.
pub fn is_canonical(path: &str) -> bool {
    canonical_scan(path.as_bytes(), false)
}

/// [`is_canonical`]; with `refuse_nul`, a NUL byte also fails it. The common case eight bytes
/// at a time ([`plainly_canonical`]), any other byte by byte ([`canonical_by_bytes`]).
fn canonical_scan(bytes: &[u8], refuse_nul: bool) -> bool {
    if bytes == b"/" {
        return true;
    }
    if bytes.first() != Some(&b'/') || bytes.last() == Some(&b'/') {
        return false;
    }
    plainly_canonical(bytes, refuse_nul) || canonical_by_bytes(bytes, refuse_nul)
}

/// [`canonical_scan`] in one pass over the bytes: every segment (between `/`s, and after the
/// last) must be non-empty and neither `.` nor `..`.
fn canonical_by_bytes(bytes: &[u8], refuse_nul: bool) -> bool {
    if bytes == b"/" {
        return true;
    }
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut segment_len = 0usize;
    let mut dots = 0usize;
    for &b in bytes.iter().skip(1) {
        if b == 0 && refuse_nul {
            return false;
        }
        if b == b'/' {
            if segment_len == 0 || segment_len == dots && dots <= 2 {
                return false;
            }
            segment_len = 0;
            dots = 0;
        } else {
            segment_len += 1;
            dots += usize::from(b == b'.');
        }
    }
    !(segment_len == 0 || segment_len == dots && dots <= 2)
}

/// Whether `bytes` (which starts with `/` and does not end with one) has no `/` followed by `/`
/// or `.`, and no NUL when `refuse_nul`: then every segment is non-empty and none starts with
/// `.`, so none is `.` or `..`, and the path is canonical. Eight bytes at a time, the common
/// case of every decision on a `path` argument; `false` leaves the answer to the byte-by-byte
/// reading (a dot file, `..`, a NUL).
fn plainly_canonical(bytes: &[u8], refuse_nul: bool) -> bool {
    use crate::bytes::{HIGH, equal_exact, word, zero_exact};
    if bytes.len() < 8 {
        let nul = refuse_nul && bytes.contains(&0);
        return !nul && !bytes.windows(2).any(|w| matches!(w, [b'/', b'/' | b'.']));
    }
    // Whether the word `x` is plain in the bytes marked in `new` (high bits): a pair whose
    // first byte comes before them is read whole.
    let plain = |x: u64, new: u64| {
        let slashes = equal_exact(x, b'/');
        let followers = (slashes | equal_exact(x, b'.')) & new;
        !(refuse_nul && zero_exact(x) & new != 0) && (slashes << 8) & followers == 0
    };
    let mut chunks = bytes.chunks_exact(8);
    // Whether the last byte of the word before was `/`.
    let mut slash_before = false;
    for chunk in &mut chunks {
        let Some(x) = word(chunk) else { return false };
        if !plain(x, HIGH) || (slash_before && matches!(chunk.first(), Some(b'/' | b'.'))) {
            return false;
        }
        slash_before = chunk.last() == Some(&b'/');
    }
    // The last few bytes: the last eight, of which the ones not read yet are new.
    match chunks.remainder().len() {
        0 => true,
        tail => bytes
            .get(bytes.len() - 8..)
            .and_then(word)
            .is_some_and(|x| plain(x, HIGH << (8 * (8 - tail)))),
    }
}

/// Appends the segments of `path` to `out`, which holds a resolved path without its trailing
/// `/` (the root is empty): `.` and empty segments go, `..` removes the last segment of `out`.
///
/// Linear overall: `..` scans back over the segment it removes, so each byte of `out` is
/// scanned at most once more.
fn push_segments(out: &mut String, path: &str) {
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                let parent = out.rfind('/').unwrap_or(0);
                out.truncate(parent);
            }
            _ => {
                out.push('/');
                out.push_str(segment);
            }
        }
    }
}

/// The root is `/`.
fn finish(mut out: String) -> String {
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests;
