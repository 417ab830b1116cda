//! The soak's pipeline: groups of ten tasks, each a chain (a → b → c → d), a fan-out of d to
//! e1…e4, a fan-in of those to f, and h after f; some links also carry contract `out`. Every
//! group is made through its own replica first (moving on when that one dies), with pipeline
//! keys so a create retried after a lost answer makes nothing twice. Roots are assigned by
//! hand; the cascade assigns the rest.

use orchestratia_proto::DepType;
use orchestratia_proto::api::{AddDependency, CreateTask, TaskFilter};
use orchestratia_proto::client::HubClient;
use uuid::Uuid;

use super::{Shared, call, rotated};

/// A task of a group: its name, the tasks it waits for, and which of them send it contract
/// `out`.
const GROUP: &[(&str, &[&str], &[&str])] = &[
    ("a", &[], &[]),
    ("b", &["a"], &["a"]),
    ("c", &["b"], &[]),
    ("d", &["c"], &["c"]),
    ("e1", &["d"], &["d"]),
    ("e2", &["d"], &[]),
    ("e3", &["d"], &["d"]),
    ("e4", &["d"], &[]),
    ("f", &["e1", "e2", "e3", "e4"], &["e2"]),
    ("h", &["f"], &["f"]),
];

/// Creates `groups` groups (concurrently, group `g` through replica `g` first) and assigns
/// each root to a daemon; the number of tasks made.
pub(crate) async fn create(
    urls: &[String],
    token: &str,
    shared: &std::sync::Arc<Shared>,
    groups: usize,
    daemons: usize,
) -> usize {
    let mut made = Vec::new();
    for g in 0..groups {
        let client = HubClient::new(&rotated(urls, g), Some(token.to_string()));
        let shared = shared.clone();
        made.push(tokio::spawn(async move {
            let root = group(&client, &shared, g).await;
            (client, root)
        }));
    }
    let mut roots = Vec::new();
    for m in made {
        roots.push(m.await.expect("a pipeline group was made"));
    }
    for (g, (client, root)) in roots.into_iter().enumerate() {
        let server = format!("soak-{:02}", g % daemons.max(1));
        let id = root.to_string();
        let assigned = call(
            || client.clone(),
            |c| {
                let (id, server) = (id.clone(), server.clone());
                async move { c.assign(&id, &server).await }
            },
        )
        .await;
        // 409: an earlier try went through before its replica died.
        if let Err(e) = assigned
            && e.status() != Some(409)
        {
            shared.problem(format!("assigning root of group {g}: {e}"));
        }
    }
    groups * GROUP.len()
}

/// Makes one group; its root's id.
async fn group(client: &HubClient, shared: &Shared, g: usize) -> Uuid {
    let mut ids: Vec<(&str, Uuid)> = Vec::new();
    let id_of = |ids: &[(&str, Uuid)], name: &str| {
        ids.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
            .expect("upstreams are made first")
    };
    for (name, blocks, inputs) in GROUP {
        let key = format!("g{g}-{name}");
        let deps: Vec<String> = blocks.iter().map(|b| id_of(&ids, b).to_string()).collect();
        let id = task(client, &key, deps).await;
        for up in *inputs {
            let up = id_of(&ids, up).to_string();
            let body = AddDependency {
                depends_on: up,
                dep_type: DepType::Input,
                contract_key: Some("out".into()),
                after: None,
            };
            let tid = id.to_string();
            let added = call(
                || client.clone(),
                |c| {
                    let (tid, body) = (tid.clone(), body.clone());
                    async move { c.add_dependency(&tid, &body).await }
                },
            )
            .await;
            if let Err(e) = added
                && e.status() != Some(409)
            {
                shared.problem(format!("contract link to {key}: {e}"));
            }
        }
        ids.push((name, id));
    }
    id_of(&ids, "a")
}

/// Creates task `key` waiting for `deps`; a create refused because the key exists (a retry
/// after the answer was lost) finds the task made by the first try.
async fn task(client: &HubClient, key: &str, deps: Vec<String>) -> Uuid {
    let body = CreateTask {
        title: format!("soak {key}"),
        project: Some("soak".into()),
        spec: format!("Soak task {key}: stream output, maybe ask, complete."),
        repo: Some("app".into()),
        depends_on: deps,
        pipeline_key: Some(key.to_string()),
        ..CreateTask::default()
    };
    let made = call(
        || client.clone(),
        |c| {
            let body = body.clone();
            async move { c.create_task(&body).await }
        },
    )
    .await;
    match made {
        Ok(t) => t.id,
        Err(e) if e.status() == Some(409) => {
            let filter = TaskFilter {
                project: Some("soak".into()),
                ..TaskFilter::default()
            };
            let all = call(
                || client.clone(),
                |c| {
                    let filter = filter.clone();
                    async move { c.tasks(&filter).await }
                },
            )
            .await
            .expect("list the soak's tasks");
            all.iter()
                .find(|t| t.pipeline_key.as_deref() == Some(key))
                .map(|t| t.id)
                .unwrap_or_else(|| panic!("{key} refused as existing but not found: {e}"))
        }
        Err(e) => panic!("creating {key}: {e}"),
    }
}
