//! Stored records turned into what others work from: what a task asks of a server and the
//! servers' matching facts (for the matcher), dependency facts (for blocked reasons), and the
//! task payload a daemon and its agent receive.

use std::collections::{BTreeMap, HashMap};

use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::TaskPayload;
use orchestratia_proto::{Server, ServerStatus, task_ref};
use serde_json::Value;
use uuid::Uuid;

use crate::engine::deps::{DepFacts, blocked_reason};
use crate::engine::matching::{Requirements, ServerFacts};
use crate::error::HubResult;
use crate::store::deps::DepRecord;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// The task as a daemon (and the agent) receives it.
pub(crate) fn payload(t: &TaskRecord, resolved_inputs: BTreeMap<String, Value>) -> TaskPayload {
    TaskPayload {
        id: t.id,
        reference: t.reference(),
        title: t.title.clone(),
        spec: t.spec.clone(),
        structured_spec: t.structured_spec.clone(),
        priority: t.priority.to_string(),
        repo: t.repo.clone(),
        languages: t.languages.clone(),
        require_plan_approval: t.require_plan_approval,
        orchestrator: t.orchestrator,
        resolved_inputs,
        review: None,
    }
}

/// What a task asks of a server.
pub(crate) fn requirements(t: &TaskRecord) -> Requirements {
    Requirements {
        repo: t.repo.clone(),
        languages: t.languages.clone(),
        agent: t.agent.clone(),
        os: t.os.clone(),
    }
}

/// A project's servers that may take a task: as the matcher sees them, and themselves.
pub(crate) struct Candidates {
    /// What the matcher weighs, one entry a server.
    pub facts: Vec<ServerFacts>,
    /// The servers themselves, by id.
    pub servers: HashMap<Uuid, Server>,
}

/// The servers of a project as the matcher sees them, and the servers themselves by id.
pub(crate) async fn server_facts(c: &mut Conn, project: Uuid) -> HubResult<Candidates> {
    let since = now_ms() - 24 * 3600 * 1000;
    let records = store::servers::candidates(c, project, since).await?;
    let facts = records
        .iter()
        .map(|r| ServerFacts {
            id: r.server.id,
            name: r.server.name.clone(),
            online: r.server.status == ServerStatus::Online,
            revoked: r.server.revoked,
            os: r.server.os.clone(),
            repos: r.server.repos.keys().cloned().collect(),
            languages: r.server.languages.iter().cloned().collect(),
            running: r.server.sessions,
            recent_successes: r.recent_successes,
        })
        .collect();
    let servers = records
        .into_iter()
        .map(|r| (r.server.id, r.server))
        .collect();
    Ok(Candidates { facts, servers })
}

/// Dependency facts for the blocked reason, from stored dependencies seen from downstream.
pub(crate) fn facts_of(deps: &[DepRecord]) -> Vec<DepFacts> {
    deps.iter()
        .map(|d| DepFacts {
            upstream_ref: task_ref(d.other_number),
            upstream_status: d.other_status,
            dep_type: d.dep_type,
            contract_key: d.contract_key.clone(),
            resolved: d.resolved,
            after: d.after,
        })
        .collect()
}

/// Groups dependencies by downstream task and derives each blocked reason.
pub(crate) fn reasons_from(deps: &[DepRecord]) -> HashMap<Uuid, String> {
    let mut by_task: HashMap<Uuid, Vec<DepRecord>> = HashMap::new();
    for d in deps {
        by_task.entry(d.downstream_id).or_default().push(d.clone());
    }
    by_task
        .into_iter()
        .filter_map(|(id, ds)| blocked_reason(&facts_of(&ds)).map(|r| (id, r)))
        .collect()
}
