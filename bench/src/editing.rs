//! The editing-size policy of the language server benchmark (`benches/lsp.rs`) and the parse /
//! edit profiling driver (`examples/edit_profile.rs`): `units` teams of 20 lines each, a role,
//! three tools, an evidence kind and a workflow per team, after a 4-line header.

/// One unit of the generated policy: 20 lines.
pub fn unit(n: usize) -> String {
    format!(
        r#"/// Engineers of team {n}.
role role_{n} extends base {{
  may svc_{n}.*
  may deploy_{n} when env == "staging"
}}
tool svc_{n}.read(repo: string, branch: string) [read]
tool svc_{n}.write(repo: string, branch: string, files: [string]) [write]
tool deploy_{n}(env: "staging" | "prod", service: string) [write, prod]
evidence approval_{n} by human
/// The agents of team {n}.
workflow flow_{n} {{
  start by role_{n}
  max_depth 2
  allow svc_{n}.read
  allow svc_{n}.write when branch matches "feature/*" require approval_{n} by role_{n}
  allow deploy_{n} when env == "staging" and initiator.team == "t{n}"
  deny svc_{n}.write when branch == "main" because "never main"
  deny deploy_{n} when context.frozen
}}

"#
    )
}

pub const HEADER: &str = "role base\nattribute team: string\ncontext frozen: bool\n\n";

/// The header and `units` teams, as one file.
pub fn one_file(units: usize) -> String {
    let mut text = String::from(HEADER);
    for n in 0..units {
        text.push_str(&unit(n));
    }
    text
}

/// The same policy as a workspace folder: `base.writ` (the header), then `files` files of
/// `units / files` teams each (`team_00.writ`, ...).
pub fn many_files(units: usize, files: usize) -> Vec<(String, String)> {
    let per_file = units / files.max(1);
    let mut out = vec![("base.writ".to_string(), HEADER.to_string())];
    for f in 0..files {
        let text: String = (f * per_file..(f + 1) * per_file).map(unit).collect();
        out.push((format!("team_{f:02}.writ"), text));
    }
    out
}
