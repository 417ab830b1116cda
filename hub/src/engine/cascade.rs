//! The cascade (docs/ARCHITECTURE.md, Engine rules): when a task completes, which dependencies it resolves, which
//! downstream tasks that unblocks, and which stay blocked and why. The cost is proportional to
//! the downstream edges of the completed task, never to the size of the project.

use std::collections::{BTreeSet, HashSet};

use orchestratia_proto::{DepType, DependencyAfter, TaskStatus};
use uuid::Uuid;

use super::deps::{DepFacts, blocked_reason};

/// One dependency of a downstream task, with the state of its upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepState {
    pub id: Uuid,
    pub upstream: Uuid,
    pub upstream_ref: String,
    pub upstream_status: TaskStatus,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// Met when the upstream is done, or only once its branch is merged.
    pub after: DependencyAfter,
}

/// A task downstream of the completed one, with all its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    pub id: Uuid,
    pub reference: String,
    pub status: TaskStatus,
    pub deps: Vec<DepState>,
}

/// A dependency the completion resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub dep_id: Uuid,
    pub downstream: Uuid,
    pub downstream_ref: String,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    /// Why it resolved when that is not plain (an `after: merged` met by a completion).
    pub note: Option<String>,
}

/// What a completion does to the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CascadePlan {
    pub resolved: Vec<Resolution>,
    /// Pending tasks whose dependencies are now all met, in the order given.
    pub unblocked: Vec<Uuid>,
    /// Pending downstream tasks still blocked, with the reason.
    pub still_blocked: Vec<(Uuid, String)>,
}

/// Plans the cascade of `completed` publishing the contract keys `published`: its `blocks`
/// dependencies and the inputs whose keys it published resolve. Those that wait for a merge
/// resolve only when `completed` has no workspace (no branch will ever be merged: its repo
/// is not a git repository, or it has none), as `after: done` would.
pub fn plan_completion(
    completed: Uuid,
    published: &BTreeSet<String>,
    has_workspace: bool,
    downstream: &[Downstream],
) -> CascadePlan {
    let mut plan = plan(completed, downstream, |d| {
        match (d.dep_type, &d.contract_key, d.after) {
            (DepType::Blocks, _, DependencyAfter::Merged) => !has_workspace,
            (DepType::Blocks, _, DependencyAfter::Done) => true,
            (DepType::Input, Some(k), _) => published.contains(k),
            (DepType::Input, None, _) => false,
        }
    });
    let merged: HashSet<Uuid> = downstream
        .iter()
        .flat_map(|t| &t.deps)
        .filter(|d| d.after == DependencyAfter::Merged)
        .map(|d| d.id)
        .collect();
    for r in plan
        .resolved
        .iter_mut()
        .filter(|r| merged.contains(&r.dep_id))
    {
        r.note = Some(format!(
            "{} has no workspace to merge: its completion meets after: merged",
            upstream_ref(downstream, r.dep_id)
        ));
    }
    plan
}

/// The reference of the upstream of dependency `dep`.
fn upstream_ref(downstream: &[Downstream], dep: Uuid) -> String {
    downstream
        .iter()
        .flat_map(|t| &t.deps)
        .find(|d| d.id == dep)
        .map(|d| d.upstream_ref.clone())
        .unwrap_or_default()
}

/// Plans what merging `merged`'s branch releases: its `blocks` dependencies with
/// `after: merged`.
pub fn plan_merge(merged: Uuid, downstream: &[Downstream]) -> CascadePlan {
    plan(merged, downstream, |d| {
        d.dep_type == DepType::Blocks && d.after == DependencyAfter::Merged
    })
}

/// Resolves the unresolved dependencies on `upstream` that `met` accepts, then sorts the
/// pending downstream tasks into unblocked and still blocked (`upstream` is done in both
/// cases: a merge happens only after completion).
fn plan(upstream: Uuid, downstream: &[Downstream], met: impl Fn(&DepState) -> bool) -> CascadePlan {
    let mut plan = CascadePlan::default();
    let mut newly: HashSet<Uuid> = HashSet::new();
    for t in downstream {
        for d in t
            .deps
            .iter()
            .filter(|d| d.upstream == upstream && !d.resolved)
        {
            if met(d) {
                newly.insert(d.id);
                plan.resolved.push(Resolution {
                    dep_id: d.id,
                    downstream: t.id,
                    downstream_ref: t.reference.clone(),
                    dep_type: d.dep_type,
                    contract_key: d.contract_key.clone(),
                    note: None,
                });
            }
        }
    }
    for t in downstream
        .iter()
        .filter(|t| t.status == TaskStatus::Pending)
    {
        let facts: Vec<DepFacts> = t
            .deps
            .iter()
            .map(|d| DepFacts {
                upstream_ref: d.upstream_ref.clone(),
                upstream_status: if d.upstream == upstream {
                    TaskStatus::Done
                } else {
                    d.upstream_status
                },
                dep_type: d.dep_type,
                contract_key: d.contract_key.clone(),
                resolved: d.resolved || newly.contains(&d.id),
                after: d.after,
            })
            .collect();
        match blocked_reason(&facts) {
            None => plan.unblocked.push(t.id),
            Some(r) => plan.still_blocked.push((t.id, r)),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    struct G {
        ids: Vec<Uuid>,
    }

    impl G {
        fn new(n: usize) -> G {
            G {
                ids: (0..n).map(|_| Uuid::new_v4()).collect(),
            }
        }
        fn dep(
            &self,
            up: usize,
            t: DepType,
            key: Option<&str>,
            st: TaskStatus,
            res: bool,
        ) -> DepState {
            DepState {
                id: Uuid::new_v4(),
                upstream: self.ids[up],
                upstream_ref: format!("T{}", up + 1),
                upstream_status: st,
                dep_type: t,
                contract_key: key.map(str::to_string),
                resolved: res,
                after: DependencyAfter::Done,
            }
        }
        /// An unresolved `input` of `api_schema` from task `up`, still running.
        fn schema_from_running(&self, up: usize) -> DepState {
            self.dep(
                up,
                DepType::Input,
                Some("api_schema"),
                TaskStatus::Running,
                false,
            )
        }

        fn task(&self, i: usize, deps: Vec<DepState>) -> Downstream {
            Downstream {
                id: self.ids[i],
                reference: format!("T{}", i + 1),
                status: TaskStatus::Pending,
                deps,
            }
        }
    }

    fn keys(k: &[&str]) -> BTreeSet<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    /// Workflow 3 (docs/WORKFLOWS.md): A publishes api_schema; B (input) unblocks; C (input A
    /// + blocks B) waits.
    #[test]
    fn a_contract_releases_its_input_and_a_blocks_still_holds() {
        let g = G::new(3);
        let b = g.task(1, vec![g.schema_from_running(0)]);
        let c = g.task(
            2,
            vec![
                g.schema_from_running(0),
                g.dep(1, DepType::Blocks, None, TaskStatus::Pending, false),
            ],
        );
        let plan = plan_completion(g.ids[0], &keys(&["api_schema"]), true, &[b, c]);
        assert_eq!(plan.resolved.len(), 2);
        assert_eq!(plan.unblocked, vec![g.ids[1]]);
        assert_eq!(plan.still_blocked.len(), 1);
        assert_eq!(plan.still_blocked[0].1, "waiting for T2 (pending)");
    }

    #[test]
    fn a_missing_contract_leaves_the_downstream_blocked_with_the_reason() {
        let g = G::new(2);
        let b = g.task(1, vec![g.schema_from_running(0)]);
        let plan = plan_completion(g.ids[0], &keys(&["other"]), true, &[b]);
        assert!(plan.resolved.is_empty());
        assert!(plan.unblocked.is_empty());
        assert_eq!(
            plan.still_blocked[0].1,
            "T1 completed without contract 'api_schema'"
        );
    }

    #[test]
    fn a_failed_sibling_upstream_keeps_it_blocked() {
        let g = G::new(3);
        let c = g.task(
            2,
            vec![
                g.dep(0, DepType::Blocks, None, TaskStatus::Running, false),
                g.dep(1, DepType::Blocks, None, TaskStatus::Failed, false),
            ],
        );
        let plan = plan_completion(g.ids[0], &keys(&[]), true, &[c]);
        assert_eq!(plan.resolved.len(), 1);
        assert_eq!(plan.still_blocked[0].1, "upstream T2 failed");
    }

    #[test]
    fn only_pending_tasks_are_unblocked() {
        let g = G::new(2);
        let mut b = g.task(
            1,
            vec![g.dep(0, DepType::Blocks, None, TaskStatus::Running, false)],
        );
        b.status = TaskStatus::Cancelled;
        let plan = plan_completion(g.ids[0], &keys(&[]), true, &[b]);
        assert_eq!(plan.resolved.len(), 1);
        assert!(plan.unblocked.is_empty());
        assert!(plan.still_blocked.is_empty());
    }

    #[test]
    fn a_dependency_after_merged_waits_for_the_merge_not_the_completion() {
        let g = G::new(2);
        let mut d = g.dep(0, DepType::Blocks, None, TaskStatus::Running, false);
        d.after = DependencyAfter::Merged;
        let b = g.task(1, vec![d]);
        let plan = plan_completion(g.ids[0], &keys(&[]), true, std::slice::from_ref(&b));
        assert!(plan.resolved.is_empty());
        assert_eq!(
            plan.still_blocked,
            vec![(g.ids[1], "waiting for T1's branch to be merged".to_string())]
        );
        let plan = plan_merge(g.ids[0], &[b]);
        assert_eq!(plan.resolved.len(), 1);
        assert_eq!(plan.unblocked, vec![g.ids[1]]);
    }

    #[test]
    fn after_merged_on_an_upstream_with_no_workspace_is_met_by_its_completion() {
        let g = G::new(2);
        let mut d = g.dep(0, DepType::Blocks, None, TaskStatus::Running, false);
        d.after = DependencyAfter::Merged;
        let plan = plan_completion(g.ids[0], &keys(&[]), false, &[g.task(1, vec![d])]);
        assert_eq!(plan.resolved.len(), 1);
        assert_eq!(
            plan.resolved[0].note.as_deref(),
            Some("T1 has no workspace to merge: its completion meets after: merged")
        );
        assert_eq!(plan.unblocked, vec![g.ids[1]]);
    }

    #[test]
    fn a_merge_resolves_nothing_else() {
        let g = G::new(2);
        let b = g.task(
            1,
            vec![g.dep(0, DepType::Blocks, None, TaskStatus::Running, false)],
        );
        assert!(plan_merge(g.ids[0], &[b]).resolved.is_empty());
    }

    #[test]
    fn fan_out_of_a_thousand() {
        let g = G::new(1001);
        let ds: Vec<Downstream> = (1..=1000)
            .map(|i| {
                g.task(
                    i,
                    vec![g.dep(0, DepType::Input, Some("k"), TaskStatus::Running, false)],
                )
            })
            .collect();
        let plan = plan_completion(g.ids[0], &keys(&["k"]), true, &ds);
        assert_eq!(plan.unblocked.len(), 1000);
        assert_eq!(plan.resolved.len(), 1000);
    }
}
