//! Output for CI systems: SARIF 2.1.0 (GitHub code scanning and other SARIF consumers) and
//! GitHub Actions workflow commands (annotations on the pull request's files).

use serde_json::{Value as Json, json};

/// One problem at one place, as CI systems show it.
pub struct Finding {
    /// `writ::unknown_role`, `writ::test_failed`.
    pub rule_id: String,
    /// What the rule is about, for the SARIF rule table.
    pub rule_description: String,
    pub level: Level,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub related: Vec<RelatedPlace>,
}

pub struct RelatedPlace {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// A SARIF 2.1.0 log with one run of writ.
pub fn sarif(findings: &[Finding]) -> Json {
    let mut rules: Vec<(&str, &str, Level)> = Vec::new();
    for f in findings {
        if !rules.iter().any(|(id, _, _)| *id == f.rule_id) {
            rules.push((&f.rule_id, &f.rule_description, f.level));
        }
    }
    let rule_table: Vec<Json> = rules
        .iter()
        .map(|(id, description, level)| {
            json!({
                "id": id,
                "name": id.trim_start_matches("writ::"),
                "shortDescription": {"text": description},
                "defaultConfiguration": {"level": level.as_str()},
            })
        })
        .collect();
    let results: Vec<Json> = findings
        .iter()
        .map(|f| {
            let index = rules.iter().position(|(id, _, _)| *id == f.rule_id).unwrap_or(0);
            let mut result = json!({
                "ruleId": f.rule_id,
                "ruleIndex": index,
                "level": f.level.as_str(),
                "message": {"text": f.message},
                "locations": [location(&f.file, f.line, f.column, Some((f.end_line, f.end_column)))],
            });
            if let (false, Some(result)) = (f.related.is_empty(), result.as_object_mut()) {
                let related = f.related.iter().enumerate().map(|(i, r)| {
                    let mut l = location(&r.file, r.line, r.column, None);
                    if let Some(l) = l.as_object_mut() {
                        l.insert("id".into(), json!(i));
                        l.insert("message".into(), json!({"text": r.message}));
                    }
                    l
                });
                result.insert("relatedLocations".into(), related.collect());
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "writ",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_table,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn location(file: &str, line: usize, column: usize, end: Option<(usize, usize)>) -> Json {
    let region = match end {
        None => json!({"startLine": line.max(1), "startColumn": column.max(1)}),
        Some((end_line, end_column)) => json!({
            "startLine": line.max(1),
            "startColumn": column.max(1),
            "endLine": end_line.max(line).max(1),
            "endColumn": end_column.max(1),
        }),
    };
    json!({"physicalLocation": {
        "artifactLocation": {"uri": file.replace('\\', "/")},
        "region": region,
    }})
}

/// GitHub Actions workflow commands: `::error file=F,line=L,col=C,...::MESSAGE`.
pub fn github(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            f.level.as_str(),
            escape_property(&f.file),
            f.line,
            f.column,
            f.end_line.max(f.line),
            f.end_column,
            escape_property(&f.rule_id),
            escape_data(&f.message),
        ));
    }
    out
}

/// Workflow-command data: `%`, CR and LF are escaped.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command properties also escape `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_commands_escape_their_parts() {
        let f = Finding {
            rule_id: "writ::unknown_role".into(),
            rule_description: "unknown role".into(),
            level: Level::Error,
            message: "100% wrong\nsecond line".into(),
            file: "a,b:c.writ".into(),
            line: 3,
            column: 7,
            end_line: 3,
            end_column: 9,
            related: vec![],
        };
        assert_eq!(
            github(&[f]),
            "::error file=a%2Cb%3Ac.writ,line=3,col=7,endLine=3,endColumn=9,title=writ%3A%3Aunknown_role::100%25 wrong%0Asecond line\n"
        );
    }
}
