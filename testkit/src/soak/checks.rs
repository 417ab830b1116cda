//! The soak's final checks, read through any replica: every task done with one completion
//! event; each task's events once and in order (the same whether paged by 7 or by 1,000);
//! every session's recording holding every byte its daemon sent, each chunk once; nothing
//! left waiting for a human.

use std::collections::HashSet;

use futures_util::StreamExt;
use orchestratia_proto::api::{EventQuery, TaskFilter};
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::{Event, EventKind, Task, TaskStatus};
use uuid::Uuid;

use super::{SessionLog, Shared, SoakReport, call};

/// At most this many lines of one kind of problem are listed (then a count).
const SHOWN: usize = 10;

/// Runs every check, filling `r` (done, events checked, bytes recorded, problems).
pub(crate) async fn run(admin: &HubClient, shared: &Shared, r: &mut SoakReport) {
    let Some(tasks) = list_tasks(admin, r).await else {
        return;
    };
    check_done(&tasks, r);
    check_events(admin, &tasks, r).await;
    check_recordings(admin, shared, r).await;
    check_nothing_pending(admin, r).await;
}

/// The soak project's tasks, or `None` (and a problem) when they cannot be listed.
async fn list_tasks(admin: &HubClient, r: &mut SoakReport) -> Option<Vec<Task>> {
    let filter = TaskFilter {
        project: Some("soak".into()),
        ..TaskFilter::default()
    };
    let listed = call(
        || admin.clone(),
        |c| {
            let filter = filter.clone();
            async move { c.tasks(&filter).await }
        },
    )
    .await;
    match listed {
        Ok(t) => Some(t),
        Err(e) => {
            r.problems.push(format!("cannot list the tasks: {e}"));
            None
        }
    }
}

/// Every task made is listed and done.
fn check_done(tasks: &[Task], r: &mut SoakReport) {
    r.done = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Done)
        .count();
    let open: Vec<String> = tasks
        .iter()
        .filter(|t| t.status != TaskStatus::Done)
        .map(|t| {
            format!(
                "{} ({}) {}",
                t.reference,
                t.pipeline_key.as_deref().unwrap_or("?"),
                t.status
            )
        })
        .collect();
    report_list(r, "task(s) not done", open);
    if tasks.len() != r.tasks {
        r.problems
            .push(format!("{} tasks made, {} listed", r.tasks, tasks.len()));
    }
}

/// Each task's events come once, in order, with one completion.
async fn check_events(admin: &HubClient, tasks: &[Task], r: &mut SoakReport) {
    let results: Vec<(usize, bool, Vec<String>)> = futures_util::stream::iter(tasks.iter())
        .map(|t| events_of(admin, t))
        .buffer_unordered(8)
        .collect()
        .await;
    r.events_checked = results.iter().map(|(n, _, _)| n).sum();
    r.tasks_events_not_in_id_order = results.iter().filter(|(_, o, _)| *o).count();
    report_list(
        r,
        "event problem(s)",
        results.into_iter().flat_map(|(_, _, p)| p).collect(),
    );
}

/// Every session's recording holds every byte its daemon sent, each chunk once.
async fn check_recordings(admin: &HubClient, shared: &Shared, r: &mut SoakReport) {
    let logs: Vec<(Uuid, SessionLog)> = shared
        .sessions
        .lock()
        .map(|l| l.iter().map(|(k, v)| (*k, v.clone())).collect())
        .unwrap_or_default();
    let results: Vec<(u64, Option<String>)> = futures_util::stream::iter(logs.iter())
        .map(|(id, log)| recording_of(admin, *id, log))
        .buffer_unordered(8)
        .collect()
        .await;
    r.bytes_recorded = results.iter().map(|(b, _)| b).sum();
    // Lost bytes first: they matter more than a missing acknowledgement.
    let mut incomplete: Vec<String> = results.into_iter().filter_map(|(_, p)| p).collect();
    incomplete.sort_by_key(|p| !p.contains("missing"));
    report_list(r, "incomplete recording(s)", incomplete);
}

/// No question and no permission request is left waiting for a human.
async fn check_nothing_pending(admin: &HubClient, r: &mut SoakReport) {
    let questions = call(
        || admin.clone(),
        |c| async move { c.interventions(Some("pending")).await },
    )
    .await;
    match questions {
        Ok(q) if !q.is_empty() => r
            .problems
            .push(format!("{} question(s) left pending", q.len())),
        Ok(_) => {}
        Err(e) => r.problems.push(format!("cannot list questions: {e}")),
    }
    let permissions = call(
        || admin.clone(),
        |c| async move { c.permissions(Some("pending")).await },
    )
    .await;
    match permissions {
        Ok(p) if !p.is_empty() => r
            .problems
            .push(format!("{} permission request(s) left pending", p.len())),
        Ok(_) => {}
        Err(e) => r
            .problems
            .push(format!("cannot list permission requests: {e}")),
    }
}

/// Adds `items` to the problems under `what`: the first few, then how many in all.
fn report_list(r: &mut SoakReport, what: &str, items: Vec<String>) {
    if items.is_empty() {
        return;
    }
    let n = items.len();
    for i in items.iter().take(SHOWN) {
        r.problems.push(format!("{what}: {i}"));
    }
    if n > SHOWN {
        r.problems.push(format!("{what}: {n} in all"));
    }
}

/// Checks one task's events: how many, and what is wrong with them.
async fn events_of(admin: &HubClient, t: &Task) -> (usize, bool, Vec<String>) {
    let mut problems = Vec::new();
    let name = format!(
        "{} ({})",
        t.reference,
        t.pipeline_key.as_deref().unwrap_or("?")
    );
    let big = match page_all(admin, t.id, 1000).await {
        Ok(e) => e,
        Err(e) => return (0, false, vec![format!("{name}: cannot read events: {e}")]),
    };
    let small = match page_all(admin, t.id, 7).await {
        Ok(e) => e,
        Err(e) => return (0, false, vec![format!("{name}: cannot page events: {e}")]),
    };
    let ids: Vec<i64> = big.iter().map(|e| e.id).collect();
    let paged: Vec<i64> = small.iter().map(|e| e.id).collect();
    if ids != paged {
        problems.push(format!(
            "{name}: paging by 7 gives other events than one page ({} vs {})",
            paged.len(),
            ids.len()
        ));
    }
    let unique: HashSet<i64> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        problems.push(format!(
            "{name}: {} duplicate event(s)",
            ids.len() - unique.len()
        ));
    }
    // On PostgreSQL pages follow commit order, not id order: an id below its predecessor is
    // counted, not a failure. The task's own lifecycle must still read in causal order.
    let out_of_id_order = ids.windows(2).any(|w| w[0] >= w[1]);
    let own: Vec<EventKind> = big
        .iter()
        .filter(|e| e.task_id == Some(t.id))
        .map(|e| e.event)
        .collect();
    let at = |k: EventKind| own.iter().position(|e| *e == k);
    if own.first() != Some(&EventKind::TaskCreated) {
        problems.push(format!(
            "{name}: its first event is {:?}, not task_created",
            own.first()
        ));
    }
    match (at(EventKind::TaskStarted), at(EventKind::TaskCompleted)) {
        (Some(s), Some(c)) if s < c => {}
        (s, c) => problems.push(format!("{name}: started at {s:?}, completed at {c:?}")),
    }
    let completions = big
        .iter()
        .filter(|e| e.event == EventKind::TaskCompleted && e.task_id == Some(t.id))
        .count();
    if completions != 1 {
        problems.push(format!("{name}: {completions} completion events"));
    }
    (big.len(), out_of_id_order, problems)
}

/// Every event of task `id`, page by page of `limit`.
async fn page_all(admin: &HubClient, id: Uuid, limit: i64) -> Result<Vec<Event>, ClientError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let q = EventQuery {
            after: Some(after),
            task: Some(id.to_string()),
            limit: Some(limit),
            ..EventQuery::default()
        };
        let page = call(
            || admin.clone(),
            |c| {
                let q = q.clone();
                async move { c.events(&q).await }
            },
        )
        .await?;
        if page.events.is_empty() {
            return Ok(out);
        }
        after = page.cursor;
        out.extend(page.events);
    }
}

/// Checks one session's recording against what its daemon sent: the bytes recorded, and
/// what is wrong.
async fn recording_of(admin: &HubClient, id: Uuid, log: &SessionLog) -> (u64, Option<String>) {
    let sid = id.to_string();
    let chunks = match call(
        || admin.clone(),
        |c| {
            let sid = sid.clone();
            async move { c.recording_all(&sid).await }
        },
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return (0, Some(format!("session {id}: cannot read: {e}"))),
    };
    let output: Vec<_> = chunks.iter().filter(|c| !c.keyframe).collect();
    let bytes: u64 = output.iter().map(|c| c.bytes().len() as u64).sum();
    let seqs: HashSet<u64> = output.iter().map(|c| c.seq).collect();
    let mut wrong = Vec::new();
    if bytes != log.bytes {
        wrong.push(format!("{} of {} bytes", bytes, log.bytes));
    }
    if seqs.len() != output.len() {
        wrong.push(format!("{} chunk(s) twice", output.len() - seqs.len()));
    }
    let missing: Vec<u64> = (1..=log.chunks).filter(|s| !seqs.contains(s)).collect();
    if !missing.is_empty() {
        let mut via: Vec<&str> = missing
            .iter()
            .filter_map(|s| log.sent_via.get(*s as usize - 1).map(String::as_str))
            .collect();
        via.sort_unstable();
        via.dedup();
        wrong.push(format!(
            "{} of {} chunks missing ({}; first sent on {})",
            missing.len(),
            log.chunks,
            ranges(&missing),
            via.join(" ")
        ));
    }
    if log.unacked_at_end > 0 {
        wrong.push(format!(
            "{} chunk(s) never acknowledged (output_stored)",
            log.unacked_at_end
        ));
    }
    if !log.ended && log.unacked_at_end == 0 {
        wrong.push("never ended".into());
    }
    let problem = (!wrong.is_empty()).then(|| {
        format!(
            "session {id} (task {} on {}): {}",
            log.task_id,
            log.daemon,
            wrong.join(", ")
        )
    });
    (bytes, problem)
}

/// Sorted numbers as ranges: `3-7, 9`.
fn ranges(n: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < n.len() {
        let mut j = i;
        while j + 1 < n.len() && n[j + 1] == n[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            n[i].to_string()
        } else {
            format!("{}-{}", n[i], n[j])
        });
        i = j + 1;
    }
    out.join(", ")
}
