//! A project's task graph as read (`task graph`): nodes with status, edges with type and key,
//! the layers of pending work and the cascade's phases.

use std::collections::{BTreeSet, HashMap};

use orchestratia_proto::TaskStatus;
use orchestratia_proto::api::{Graph, GraphEdge, GraphNode};
use uuid::Uuid;

use super::Hub;
use crate::auth::Principal;
use crate::engine::graph::{PhaseFacts, layers, phases};
use crate::error::HubResult;
use crate::store;
use crate::store::tasks::TaskRecord;

/// What the phase reckoning needs of each task; a leaf is a task nothing depends on.
fn phase_facts(recs: &[TaskRecord], with_dependents: &BTreeSet<Uuid>) -> Vec<PhaseFacts> {
    recs.iter()
        .map(|r| PhaseFacts {
            reference: r.reference(),
            number: r.number,
            status: r.status,
            phase: r.phase,
            released_by: r.released_by.clone(),
            leaf: !with_dependents.contains(&r.id),
        })
        .collect()
}

/// The graph's nodes: each task with its blocked state and layer.
fn nodes(
    recs: &[TaskRecord],
    reasons: &HashMap<Uuid, String>,
    layer: &HashMap<Uuid, i64>,
) -> Vec<GraphNode> {
    recs.iter()
        .map(|r| {
            let task = r.to_task(reasons.get(&r.id).cloned());
            GraphNode {
                id: r.id,
                reference: r.reference(),
                title: r.title.clone(),
                status: r.status,
                blocked: task.blocked,
                blocked_reason: task.blocked_reason,
                server: r.server_name.clone(),
                repo: r.repo.clone(),
                agent: r.agent.clone(),
                languages: r.languages.clone(),
                layer: layer.get(&r.id).copied().unwrap_or(0),
                phase: r.phase,
            }
        })
        .collect()
}

/// The references of the pending tasks, layer by layer.
fn pending_layers(nodes: &[GraphNode]) -> Vec<Vec<String>> {
    let max_layer = nodes
        .iter()
        .filter(|n| n.status == TaskStatus::Pending)
        .map(|n| n.layer)
        .max();
    let mut out: Vec<Vec<String>> =
        vec![Vec::new(); max_layer.map(|m| m as usize + 1).unwrap_or(0)];
    for n in nodes.iter().filter(|n| n.status == TaskStatus::Pending) {
        out[n.layer as usize].push(n.reference.clone());
    }
    out
}

impl Hub {
    /// The project's DAG: nodes with status, edges with type and key, layers and phases.
    pub async fn graph(&self, p: &Principal, project: Option<&str>) -> HubResult<Graph> {
        let mut c = self.read().await?;
        let project = self.default_project(&mut c, p, project).await?;
        if !matches!(p, Principal::Admin | Principal::Hub) {
            p.require_manager(project.id, "reading the graph")?;
        }
        let recs = store::tasks::list(&mut c, Some(project.id), &[], None).await?;
        let edges = store::deps::edges_of_project(&mut c, project.id).await?;
        let reasons = self.blocked_reasons(&mut c, &recs).await?;
        let ids: Vec<Uuid> = recs.iter().map(|r| r.id).collect();
        let pairs: Vec<(Uuid, Uuid)> = edges.iter().map(|e| (e.upstream, e.downstream)).collect();
        let layer = layers(&ids, &pairs);
        let with_dependents: BTreeSet<Uuid> = edges.iter().map(|e| e.upstream).collect();
        let (phases, all_done) = phases(&phase_facts(&recs, &with_dependents));
        let nodes = nodes(&recs, &reasons, &layer);
        Ok(Graph {
            project_id: project.id,
            project: project.name,
            layers: pending_layers(&nodes),
            nodes,
            edges: edges
                .into_iter()
                .map(|e| GraphEdge {
                    from: e.upstream,
                    to: e.downstream,
                    dep_type: e.dep_type,
                    contract_key: e.contract_key,
                    resolved: e.resolved,
                    after: e.after,
                })
                .collect(),
            phases,
            all_done,
        })
    }
}
