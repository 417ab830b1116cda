//! How a task is named on the command line and in API paths: its UUID, a unique prefix of it,
//! or its short number `T7` / `7` within a project.

use uuid::Uuid;

/// A parsed task reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    Id(Uuid),
    /// A lowercase hex/dash prefix of a UUID, at least 4 characters.
    Prefix(String),
    Number(i64),
}

/// Why a string is not a task reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid task reference '{0}': expected a UUID, a prefix of one (4+ hex characters), or a number like T7"
)]
pub struct BadTaskRef(pub String);

impl TaskRef {
    /// Parses `T7`, `t7`, `7`, a full UUID or a prefix of one. All-digit strings are numbers.
    pub fn parse(s: &str) -> Result<TaskRef, BadTaskRef> {
        let s = s.trim();
        let bad = || BadTaskRef(s.to_string());
        if s.is_empty() || s.len() > 36 {
            return Err(bad());
        }
        let digits = s.strip_prefix(['T', 't']).unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return digits
                .parse::<i64>()
                .map(TaskRef::Number)
                .map_err(|_| bad());
        }
        if let Ok(id) = Uuid::parse_str(s) {
            return Ok(TaskRef::Id(id));
        }
        let lower = s.to_ascii_lowercase();
        if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Ok(TaskRef::Prefix(lower));
        }
        Err(bad())
    }
}

impl std::fmt::Display for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskRef::Id(id) => write!(f, "{id}"),
            TaskRef::Prefix(p) => f.write_str(p),
            TaskRef::Number(n) => write!(f, "T{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(TaskRef::parse("T7"), Ok(TaskRef::Number(7)));
        assert_eq!(TaskRef::parse("7"), Ok(TaskRef::Number(7)));
        assert_eq!(TaskRef::parse("t12"), Ok(TaskRef::Number(12)));
        let id = Uuid::new_v4();
        assert_eq!(TaskRef::parse(&id.to_string()), Ok(TaskRef::Id(id)));
        assert_eq!(
            TaskRef::parse("AbCd-e"),
            Ok(TaskRef::Prefix("abcd-e".into()))
        );
    }

    #[test]
    fn refuses_nonsense() {
        for s in ["", "T", "abc", "xyz12345", "T7x", "'; drop table tasks"] {
            assert!(TaskRef::parse(s).is_err(), "{s} should be refused");
        }
    }
}
