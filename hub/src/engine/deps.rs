//! Dependency rules: what adding a dependency does to a pair that may already have one, when a
//! dependency counts as met, and why a pending task is blocked.

use orchestratia_proto::{DepType, DependencyAfter, TaskStatus};
use uuid::Uuid;

/// Longest contract key accepted.
pub const MAX_CONTRACT_KEY: usize = 64;

/// A dependency already stored between the same upstream and downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDep {
    pub id: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
}

/// What adding a dependency does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddDecision {
    /// Store a new dependency.
    Insert,
    /// The pair already has a plain `blocks`: it becomes `input` with the key (an
    /// orchestrator's pattern, docs/WORKFLOWS.md workflow 9: `task create --depends-on T1`
    /// then `task deps add T2 --depends-on T1 --type input`).
    UpgradeToInput { dep_id: Uuid },
}

/// Why a dependency cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    #[error("a task cannot depend on itself")]
    SelfDependency,
    #[error("an input dependency needs --contract-key (the key of the contract it receives)")]
    MissingContractKey,
    #[error("--contract-key applies only to --type input")]
    KeyOnBlocks,
    #[error("invalid contract key '{0}': use 1-64 letters, digits, '_', '-' or '.'")]
    BadKey(String),
    #[error("duplicate dependency: {0}")]
    Duplicate(String),
    #[error("--after merged applies only to --type blocks (an input is met by its contract)")]
    MergedOnInput,
}

/// Checks a contract key: 1–64 of `[A-Za-z0-9_.-]`.
pub fn validate_contract_key(key: &str) -> Result<(), DepError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_CONTRACT_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DepError::BadKey(key.to_string()))
    }
}

/// Checks the shape of a new dependency on its own.
pub fn validate_new(
    upstream: Uuid,
    downstream: Uuid,
    dep_type: DepType,
    key: Option<&str>,
    after: DependencyAfter,
) -> Result<(), DepError> {
    if upstream == downstream {
        return Err(DepError::SelfDependency);
    }
    if after == DependencyAfter::Merged && dep_type == DepType::Input {
        return Err(DepError::MergedOnInput);
    }
    match (dep_type, key) {
        (DepType::Input, None) => Err(DepError::MissingContractKey),
        (DepType::Input, Some(k)) => validate_contract_key(k),
        (DepType::Blocks, Some(_)) => Err(DepError::KeyOnBlocks),
        (DepType::Blocks, None) => Ok(()),
    }
}

/// Decides what adding `(dep_type, key)` does given what the pair already has.
/// `upstream_ref` only names the upstream in error messages.
pub fn decide_add(
    existing: &[PairDep],
    dep_type: DepType,
    key: Option<&str>,
    upstream_ref: &str,
) -> Result<AddDecision, DepError> {
    match dep_type {
        DepType::Blocks => {
            if let Some(d) = existing.first() {
                let how = match &d.contract_key {
                    Some(k) => format!("input:{k}"),
                    None => "blocks".to_string(),
                };
                return Err(DepError::Duplicate(format!(
                    "it already depends on {upstream_ref} ({how})"
                )));
            }
            Ok(AddDecision::Insert)
        }
        DepType::Input => {
            if existing.iter().any(|d| d.contract_key.as_deref() == key) {
                return Err(DepError::Duplicate(format!(
                    "it already receives '{}' from {upstream_ref}",
                    key.unwrap_or_default()
                )));
            }
            match existing.iter().find(|d| d.dep_type == DepType::Blocks) {
                Some(b) => Ok(AddDecision::UpgradeToInput { dep_id: b.id }),
                None => Ok(AddDecision::Insert),
            }
        }
    }
}

/// Whether a dependency is met, given the upstream's state: `blocks` when it is done, `input`
/// when it is done and published the key.
pub fn is_met(upstream_status: TaskStatus, dep_type: DepType, upstream_has_key: bool) -> bool {
    upstream_status == TaskStatus::Done && (dep_type == DepType::Blocks || upstream_has_key)
}

/// One dependency of a downstream task, as the blocked reason needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepFacts {
    pub upstream_ref: String,
    pub upstream_status: TaskStatus,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// Met when the upstream is done, or only once its branch is merged.
    pub after: DependencyAfter,
}

/// Why a task is blocked, one clause per unmet dependency; `None` when all are met.
pub fn blocked_reason(deps: &[DepFacts]) -> Option<String> {
    let parts: Vec<String> = deps
        .iter()
        .filter(|d| !d.resolved)
        .map(|d| {
            let up = &d.upstream_ref;
            match (d.upstream_status, &d.contract_key) {
                (TaskStatus::Done, None) if d.after == DependencyAfter::Merged => {
                    format!("waiting for {up}'s branch to be merged")
                }
                (s, None) if d.after == DependencyAfter::Merged && !s.is_terminal() => {
                    format!("waiting for {up} ({s}) and its merge")
                }
                (TaskStatus::Done, Some(k)) => format!("{up} completed without contract '{k}'"),
                (TaskStatus::Done, None) => format!("waiting for {up}"),
                (TaskStatus::Failed, _) => format!("upstream {up} failed"),
                (TaskStatus::Cancelled, _) => format!("upstream {up} was cancelled"),
                (s, Some(k)) => format!("waiting for '{k}' from {up} ({s})"),
                (s, None) => format!("waiting for {up} ({s})"),
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pd(dep_type: DepType, key: Option<&str>) -> PairDep {
        PairDep {
            id: Uuid::new_v4(),
            dep_type,
            contract_key: key.map(str::to_string),
        }
    }

    #[test]
    fn blocks_then_input_upgrades() {
        let b = pd(DepType::Blocks, None);
        let d = decide_add(
            std::slice::from_ref(&b),
            DepType::Input,
            Some("api_schema"),
            "T1",
        );
        assert_eq!(d, Ok(AddDecision::UpgradeToInput { dep_id: b.id }));
    }

    #[test]
    fn exact_duplicates_are_refused() {
        let e = decide_add(&[pd(DepType::Blocks, None)], DepType::Blocks, None, "T1");
        assert!(matches!(e, Err(DepError::Duplicate(_))));
        let e = decide_add(
            &[pd(DepType::Input, Some("k"))],
            DepType::Input,
            Some("k"),
            "T1",
        );
        assert!(matches!(e, Err(DepError::Duplicate(_))));
        let e = decide_add(
            &[pd(DepType::Input, Some("k"))],
            DepType::Blocks,
            None,
            "T1",
        );
        assert!(e.unwrap_err().to_string().contains("input:k"));
    }

    #[test]
    fn a_second_key_on_the_same_pair_is_a_new_dependency() {
        let d = decide_add(
            &[pd(DepType::Input, Some("a"))],
            DepType::Input,
            Some("b"),
            "T1",
        );
        assert_eq!(d, Ok(AddDecision::Insert));
    }

    #[test]
    fn shapes_are_checked() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            validate_new(a, a, DepType::Blocks, None, DependencyAfter::Done),
            Err(DepError::SelfDependency)
        );
        assert_eq!(
            validate_new(a, b, DepType::Input, None, DependencyAfter::Done),
            Err(DepError::MissingContractKey)
        );
        assert_eq!(
            validate_new(a, b, DepType::Blocks, Some("k"), DependencyAfter::Done),
            Err(DepError::KeyOnBlocks)
        );
        assert!(matches!(
            validate_new(a, b, DepType::Input, Some("bad key"), DependencyAfter::Done),
            Err(DepError::BadKey(_))
        ));
        assert_eq!(
            validate_new(
                a,
                b,
                DepType::Input,
                Some("api_schema.v2"),
                DependencyAfter::Done
            ),
            Ok(())
        );
        assert_eq!(
            validate_new(a, b, DepType::Input, Some("k"), DependencyAfter::Merged),
            Err(DepError::MergedOnInput)
        );
        assert_eq!(
            validate_new(a, b, DepType::Blocks, None, DependencyAfter::Merged),
            Ok(())
        );
    }

    #[test]
    fn met_and_blocked_reasons() {
        assert!(is_met(TaskStatus::Done, DepType::Blocks, false));
        assert!(!is_met(TaskStatus::Done, DepType::Input, false));
        assert!(is_met(TaskStatus::Done, DepType::Input, true));
        assert!(!is_met(TaskStatus::Running, DepType::Blocks, false));

        let f = |s, k: Option<&str>, resolved| DepFacts {
            upstream_ref: "T1".into(),
            upstream_status: s,
            dep_type: if k.is_some() {
                DepType::Input
            } else {
                DepType::Blocks
            },
            contract_key: k.map(str::to_string),
            resolved,
            after: DependencyAfter::Done,
        };
        assert_eq!(blocked_reason(&[f(TaskStatus::Done, None, true)]), None);
        let r = blocked_reason(&[
            f(TaskStatus::Done, Some("api_schema"), false),
            f(TaskStatus::Failed, None, false),
        ])
        .unwrap();
        assert_eq!(
            r,
            "T1 completed without contract 'api_schema'; upstream T1 failed"
        );
        let r = blocked_reason(&[f(TaskStatus::Running, Some("k"), false)]).unwrap();
        assert_eq!(r, "waiting for 'k' from T1 (running)");
        let merged = |s| DepFacts {
            after: DependencyAfter::Merged,
            ..f(s, None, false)
        };
        assert_eq!(
            blocked_reason(&[merged(TaskStatus::Done)]).unwrap(),
            "waiting for T1's branch to be merged"
        );
        assert_eq!(
            blocked_reason(&[merged(TaskStatus::Running)]).unwrap(),
            "waiting for T1 (running) and its merge"
        );
    }
}
