//! How a verified token's claims become a writ chain (LANGUAGE.md §5 principal JSON): the one
//! mapping behind `writ serve --grpc` (Envoy's `jwt_authn` payload) and `writ mcp-gateway`
//! (a bearer token it verified itself).
//!
//! - the principal's `id` is a string claim (`sub` by default);
//! - its `roles` a claim holding a list of strings, or one string of space-separated names
//!   (as OAuth's `scope`); absent or `null`: no roles;
//! - its `kind` fixed for every token, or read from a claim;
//! - its `attrs` the claims named, copied under their names made writ words;
//! - when an agent claim is named and the token has it, the chain is the principal, then
//!   `{"id": VALUE, "kind": "agent"}`.
//!
//! A claim of the wrong type is an error (the caller answers 401), never a guess.

use std::fmt;

use serde_json::{Map, Value as Json, json};
use writ_evaluator::ir::PrincipalKind;

use crate::names;

/// Which claims make the principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMap {
    /// The claim that is the principal's `id` (`sub`).
    pub id: String,
    /// The claim holding the principal's roles. `None`: no roles.
    pub roles: Option<String>,
    /// The principal's kind.
    pub kind: KindFrom,
    /// Claims copied into the principal's `attrs`.
    pub attrs: Vec<String>,
    /// A claim naming the agent acting for the principal (`azp`, `client_id`).
    pub agent: Option<String>,
}

impl Default for ClaimMap {
    fn default() -> ClaimMap {
        ClaimMap {
            id: "sub".to_string(),
            roles: Some("roles".to_string()),
            kind: KindFrom::Fixed(PrincipalKind::Human),
            attrs: Vec::new(),
            agent: None,
        }
    }
}

/// Where the principal's kind comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindFrom {
    /// Every token's principal has this kind.
    Fixed(PrincipalKind),
    /// A claim holding `human`, `service` or `agent`.
    Claim(String),
}

/// A token whose claims make no principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// The id claim is absent.
    NoId { claim: String },
    /// The id claim is not a non-empty string.
    IdNotString { claim: String },
    /// The kind claim is not a string.
    KindNotString { claim: String },
    /// The roles claim is neither a list of strings nor a string.
    BadRoles { claim: String },
    /// The agent claim is not a non-empty string.
    AgentNotString { claim: String },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::NoId { claim } => {
                write!(f, "the token has no claim `{claim}` (the principal's id)")
            }
            ClaimError::IdNotString { claim } => {
                write!(f, "the token's claim `{claim}` is not a string")
            }
            ClaimError::KindNotString { claim } => {
                write!(f, "the token's claim `{claim}` (the principal's kind) is not a string")
            }
            ClaimError::BadRoles { claim } => write!(
                f,
                "the token's claim `{claim}` (the roles) is not a list of strings or a string"
            ),
            ClaimError::AgentNotString { claim } => {
                write!(f, "the token's claim `{claim}` (the agent) is not a string")
            }
        }
    }
}

impl std::error::Error for ClaimError {}

impl ClaimMap {
    /// The chain a token's verified payload names: the principal, then the agent when the
    /// agent claim is named and present.
    pub fn chain(&self, payload: &Map<String, Json>) -> Result<Vec<Json>, ClaimError> {
        let id = match payload.get(&self.id) {
            Some(Json::String(id)) if !id.is_empty() => id.clone(),
            Some(_) => return Err(ClaimError::IdNotString { claim: self.id.clone() }),
            None => return Err(ClaimError::NoId { claim: self.id.clone() }),
        };
        let kind = match &self.kind {
            KindFrom::Fixed(kind) => kind.as_str().to_string(),
            KindFrom::Claim(claim) => match payload.get(claim) {
                Some(Json::String(kind)) => kind.clone(),
                _ => return Err(ClaimError::KindNotString { claim: claim.clone() }),
            },
        };
        let roles: Vec<Json> = match self.roles.as_ref().and_then(|claim| payload.get(claim)) {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(names)) => {
                names.split_ascii_whitespace().map(|r| Json::String(r.to_string())).collect()
            }
            Some(Json::Array(items)) if items.iter().all(Json::is_string) => items.clone(),
            Some(_) => {
                return Err(ClaimError::BadRoles { claim: self.roles.clone().unwrap_or_default() });
            }
        };
        let mut attrs = Map::new();
        for claim in &self.attrs {
            if let Some(value) = payload.get(claim) {
                attrs.insert(names::word(claim), value.clone());
            }
        }
        let mut chain = vec![json!({"id": id, "kind": kind, "roles": roles, "attrs": attrs})];
        if let Some(claim) = &self.agent {
            match payload.get(claim) {
                None => {}
                Some(Json::String(agent)) if !agent.is_empty() => {
                    chain.push(json!({"id": agent, "kind": "agent"}));
                }
                Some(_) => return Err(ClaimError::AgentNotString { claim: claim.clone() }),
            }
        }
        Ok(chain)
    }
}

/// `human`, `service` or `agent` (`--kind`, `--envoy-kind`).
pub fn principal_kind(text: &str) -> Option<PrincipalKind> {
    match text {
        "human" => Some(PrincipalKind::Human),
        "service" => Some(PrincipalKind::Service),
        "agent" => Some(PrincipalKind::Agent),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_envoy_mapping() {
        let map = ClaimMap {
            attrs: vec!["team-name".into(), "absent".into()],
            agent: Some("azp".into()),
            ..ClaimMap::default()
        };
        let chain = map
            .chain(&payload(json!({"sub": "ada", "roles": ["dev"], "team-name": "core",
                                    "azp": "claude"})))
            .unwrap();
        assert_eq!(
            chain,
            vec![
                json!({"id": "ada", "kind": "human", "roles": ["dev"],
                       "attrs": {"team_name": "core"}}),
                json!({"id": "claude", "kind": "agent"}),
            ]
        );
        let scope = ClaimMap { roles: Some("scope".into()), ..ClaimMap::default() };
        let chain = scope.chain(&payload(json!({"sub": "s", "scope": "a  b"}))).unwrap();
        assert_eq!(chain[0]["roles"], json!(["a", "b"]));
    }

    #[test]
    fn wrong_types_are_errors() {
        let map = ClaimMap {
            kind: KindFrom::Claim("k".into()),
            agent: Some("azp".into()),
            ..ClaimMap::default()
        };
        let cases = [
            (json!({}), ClaimError::NoId { claim: "sub".into() }),
            (json!({"sub": ""}), ClaimError::IdNotString { claim: "sub".into() }),
            (json!({"sub": 7}), ClaimError::IdNotString { claim: "sub".into() }),
            (json!({"sub": "a"}), ClaimError::KindNotString { claim: "k".into() }),
            (
                json!({"sub": "a", "k": "human", "roles": [1]}),
                ClaimError::BadRoles { claim: "roles".into() },
            ),
            (
                json!({"sub": "a", "k": "human", "azp": 3}),
                ClaimError::AgentNotString { claim: "azp".into() },
            ),
        ];
        for (p, want) in cases {
            assert_eq!(map.chain(&payload(p.clone())).unwrap_err(), want, "{p}");
        }
    }
}
