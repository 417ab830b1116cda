//! Tokens and roles. Every token is 256 random bits with a prefix that says what it is; only
//! its SHA-256 is stored and requests are looked up by it (a fast hash is right for random
//! keys: no slow KDF on every request). Roles (docs/ARCHITECTURE.md, API): admin (everything), server
//! (its own sessions and the tasks assigned to it), session (its own task; an orchestrator
//! session may also create, assign and watch tasks of its project).

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::engine::lifecycle::Initiator;
use crate::error::HubError;
use crate::store::tasks::TaskRecord;

/// A fresh token with `prefix` and its hash.
pub fn new_token(prefix: &str) -> (String, String) {
    new_tokens(prefix, 1).pop().unwrap_or_default()
}

/// `n` fresh tokens with `prefix` and their hashes, from one read of the OS random source (a
/// cascade wave gives every new session a token).
pub fn new_tokens(prefix: &str, n: usize) -> Vec<(String, String)> {
    let mut bytes = vec![0u8; 32 * n];
    // The OS random source failing is not something a request can cause or recover from.
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes
        .chunks(32)
        .map(|b| {
            let token = format!("{prefix}{}", hex::encode(b));
            let hash = hash_token(&token);
            (token, hash)
        })
        .collect()
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `count` strings of `n` random hex characters each (session names), from one read of the OS
/// random source.
pub fn random_hex(n: usize, count: usize) -> Vec<String> {
    let per = n.div_ceil(2);
    let mut bytes = vec![0u8; per * count];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes
        .chunks(per.max(1))
        .take(count)
        .map(|b| {
            let mut s = hex::encode(b);
            s.truncate(n);
            s
        })
        .collect()
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Server {
        server_id: Uuid,
        project_id: Uuid,
        name: String,
    },
    Session {
        task_id: Option<Uuid>,
        project_id: Uuid,
        session_id: Option<Uuid>,
        orchestrator: bool,
        server_name: Option<String>,
    },
    /// The hub itself (cascade, timeouts, crash detection).
    Hub,
}

impl Principal {
    /// The actor written in events: `admin`, `agent:NAME` or `hub`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Admin => "admin".into(),
            Principal::Server { name, .. } => format!("agent:{name}"),
            Principal::Session { server_name, .. } => {
                format!("agent:{}", server_name.as_deref().unwrap_or("session"))
            }
            Principal::Hub => "hub".into(),
        }
    }

    /// The role word.
    pub fn role(&self) -> &'static str {
        match self {
            Principal::Admin => "admin",
            Principal::Server { .. } => "server",
            Principal::Session { .. } => "session",
            Principal::Hub => "hub",
        }
    }

    /// How the state machine sees this principal.
    pub fn initiator(&self) -> Initiator {
        match self {
            Principal::Admin => Initiator::Admin,
            Principal::Hub => Initiator::Hub,
            _ => Initiator::Agent,
        }
    }

    /// The project this principal is confined to (`None`: all projects).
    pub fn project(&self) -> Option<Uuid> {
        match self {
            Principal::Server { project_id, .. } | Principal::Session { project_id, .. } => {
                Some(*project_id)
            }
            _ => None,
        }
    }

    fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin | Principal::Hub)
    }

    /// Only admins.
    pub fn require_admin(&self, what: &str) -> Result<(), HubError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(HubError::Forbidden(format!(
                "{what} needs an admin token (this is a {} token)",
                self.role()
            )))
        }
    }

    /// Admins, and orchestrator sessions within their project: create, assign, edit the graph.
    pub fn require_manager(&self, project: Uuid, what: &str) -> Result<(), HubError> {
        match self {
            _ if self.is_admin() => Ok(()),
            Principal::Session {
                orchestrator: true,
                project_id,
                ..
            } if *project_id == project => Ok(()),
            Principal::Session {
                orchestrator: true, ..
            } => Err(HubError::Forbidden(format!(
                "{what}: an orchestrator session may only act within its own project"
            ))),
            _ => Err(HubError::Forbidden(format!(
                "{what} needs an admin token or an orchestrator session's token (this is a {} token)",
                self.role()
            ))),
        }
    }

    /// Admins; the server a task is assigned to; the session of the task; orchestrator
    /// sessions of its project.
    pub fn can_see_task(&self, t: &TaskRecord) -> bool {
        match self {
            _ if self.is_admin() => true,
            Principal::Server { server_id, .. } => t.server_id == Some(*server_id),
            Principal::Session {
                task_id,
                project_id,
                orchestrator,
                ..
            } => *task_id == Some(t.id) || (*orchestrator && *project_id == t.project_id),
            _ => false,
        }
    }

    /// Reading a task: refuses with 404 rather than 403 so tokens cannot probe other tasks.
    pub fn require_see_task(&self, t: &TaskRecord) -> Result<(), HubError> {
        if self.can_see_task(t) {
            Ok(())
        } else {
            Err(HubError::NotFound(format!(
                "task {} not found",
                t.reference()
            )))
        }
    }

    /// Working on a task (complete, fail, help, plan, note, permissions): admins, the server it
    /// is assigned to, and its own session.
    pub fn require_work_on(&self, t: &TaskRecord, what: &str) -> Result<(), HubError> {
        let ok = match self {
            _ if self.is_admin() => true,
            Principal::Server { server_id, .. } => t.server_id == Some(*server_id),
            Principal::Session { task_id, .. } => *task_id == Some(t.id),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        if !self.can_see_task(t) {
            return Err(HubError::NotFound(format!(
                "task {} not found",
                t.reference()
            )));
        }
        Err(HubError::Forbidden(format!(
            "cannot {what} {}: this token may only act on its own task",
            t.reference()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_hashed() {
        let (t, h) = new_token("orc_");
        assert!(t.starts_with("orc_"));
        assert_eq!(t.len(), 4 + 64);
        assert_eq!(h, hash_token(&t));
        assert_eq!(h.len(), 64);
        let (t2, _) = new_token("orc_");
        assert_ne!(t, t2);
        let names = random_hex(6, 3);
        assert_eq!(names.len(), 3);
        assert!(names.iter().all(|n| n.len() == 6));
        assert_eq!(new_tokens("orcses_", 4).len(), 4);
    }

    #[test]
    fn actors() {
        assert_eq!(Principal::Admin.actor(), "admin");
        let s = Principal::Session {
            task_id: None,
            project_id: Uuid::nil(),
            session_id: None,
            orchestrator: false,
            server_name: Some("dev-backend".into()),
        };
        assert_eq!(s.actor(), "agent:dev-backend");
        assert!(s.require_admin("x").is_err());
        assert!(s.require_manager(Uuid::nil(), "x").is_err());
    }
}
