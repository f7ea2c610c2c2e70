//! PLACEHOLDER until the `v2-request` branch lands: lexical path resolution (LANGUAGE.md §9).

use std::borrow::Cow;

/// Resolves `path` against `cwd` lexically; `None` when unknown.
pub fn resolve<'a>(path: &'a str, cwd: Option<&str>) -> Option<Cow<'a, str>> {
    if path.contains('\0') || path.starts_with('~') {
        return None;
    }
    let joined = if path.starts_with('/') { path.to_owned() } else { format!("{}/{path}", cwd?) };
    let mut out: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let resolved = format!("/{}", out.join("/"));
    Some(if resolved == path { Cow::Borrowed(path) } else { Cow::Owned(resolved) })
}

/// Whether the resolved `path` is `dir` or beneath it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}
