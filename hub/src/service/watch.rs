//! Long-polls: a caller asks for a state and waits up to a bound for it to change (an answer to
//! a question, a plan decision, a permission decision, new events). The bus wakes the wait; the
//! store is read again, so a hub restart or a lagging subscriber never loses an answer.

use std::future::Future;
use std::time::Duration;

use orchestratia_proto::api::{EventPage, EventQuery};
use orchestratia_proto::{
    Event, EventKind, Intervention, InterventionStatus, PermissionRequest, PermissionStatus, Plan,
    PlanStatus,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

use super::{Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::bus::BusMessage;
use crate::error::{HubError, HubResult};
use crate::store;
use crate::store::events::EventFilter;

impl Hub {
    /// Reads with `check` until it reports done or `wait` passes, re-reading whenever a bus
    /// message that `relevant` accepts arrives. When the hub shuts down it answers at once with
    /// what `check` reads (the client asks again, as after a timeout).
    pub(super) async fn wait_until<T, F, Fut>(
        &self,
        wait: Duration,
        check: F,
        relevant: impl Fn(&BusMessage) -> bool,
    ) -> HubResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = HubResult<(T, bool)>>,
    {
        self.wait_until_every(wait, None, check, relevant).await
    }

    /// [`Hub::wait_until`], also re-reading every `every` when given: for a state that can
    /// change with no bus message saying so (an event becomes readable when an older
    /// transaction ends, one that may have written nothing).
    pub(super) async fn wait_until_every<T, F, Fut>(
        &self,
        wait: Duration,
        every: Option<Duration>,
        mut check: F,
        relevant: impl Fn(&BusMessage) -> bool,
    ) -> HubResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = HubResult<(T, bool)>>,
    {
        let mut rx = self.bus.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            let (value, done) = check().await?;
            if done || Instant::now() >= deadline || self.is_shutting_down() {
                return Ok(value);
            }
            let until = every.map_or(deadline, |e| deadline.min(Instant::now() + e));
            loop {
                let received = tokio::select! {
                    r = tokio::time::timeout_at(until, rx.recv()) => r,
                    _ = self.shutting_down() => return Ok(check().await?.0),
                };
                match received {
                    Err(_) if until < deadline => break,
                    Err(_) => return Ok(check().await?.0),
                    Ok(Ok(m)) if relevant(&m) => break,
                    Ok(Ok(_)) => continue,
                    Ok(Err(RecvError::Lagged(_))) => break,
                    Ok(Err(RecvError::Closed)) => return Ok(check().await?.0),
                }
            }
        }
    }

    fn wait_bound(&self, wait: Option<&str>) -> HubResult<Duration> {
        validate::parse_wait(wait, self.config.limits.max_wait)
    }

    /// An intervention, waiting up to `wait` for it to be answered.
    pub async fn wait_intervention(
        &self,
        p: &Principal,
        id: Uuid,
        wait: Option<&str>,
    ) -> HubResult<Intervention> {
        let wait = self.wait_bound(wait)?;
        let task = self.intervention(p, id).await?.task_id;
        let i = self
            .wait_until(
                wait,
                || async {
                    let i = self.intervention(p, id).await?;
                    let done = i.status != InterventionStatus::Pending;
                    Ok((i, done))
                },
                |m| about_task(m, task),
            )
            .await?;
        // The agent's own call received the answer: it need not come as a prompt.
        if matches!(p, Principal::Session { .. })
            && i.status == InterventionStatus::Answered
            && i.delivered_at.is_none()
        {
            self.delivered_to_caller(Some(i.id), None).await?;
        }
        Ok(i)
    }

    /// A plan, waiting up to `wait` for a decision.
    pub async fn wait_plan(&self, p: &Principal, id: Uuid, wait: Option<&str>) -> HubResult<Plan> {
        let wait = self.wait_bound(wait)?;
        let task = self.plan(p, id).await?.task_id;
        let plan = self
            .wait_until(
                wait,
                || async {
                    let plan = self.plan(p, id).await?;
                    let done = plan.status != PlanStatus::Submitted;
                    Ok((plan, done))
                },
                |m| about_task(m, task),
            )
            .await?;
        if matches!(p, Principal::Session { .. })
            && matches!(plan.status, PlanStatus::Approved | PlanStatus::Rejected)
            && plan.delivered_at.is_none()
        {
            self.delivered_to_caller(None, Some(plan.id)).await?;
        }
        Ok(plan)
    }

    /// A permission request, waiting up to `wait` for a decision.
    pub async fn wait_permission(
        &self,
        p: &Principal,
        id: Uuid,
        wait: Option<&str>,
    ) -> HubResult<PermissionRequest> {
        let wait = self.wait_bound(wait)?;
        let task = self.permission(p, id).await?.task_id;
        self.wait_until(
            wait,
            || async {
                let r = self.permission(p, id).await?;
                let done = r.status != PermissionStatus::Pending;
                Ok((r, done))
            },
            |m| match (m, task) {
                (BusMessage::Event(e), Some(t)) => e.task_id == Some(t),
                (BusMessage::Event(e), None) => e.event == EventKind::PermissionDecided,
                _ => false,
            },
        )
        .await
    }

    /// Events after a cursor, filtered, waiting up to `wait` for the first one.
    pub async fn events(&self, p: &Principal, q: &EventQuery) -> HubResult<EventPage> {
        let wait = self.wait_bound(q.wait.as_deref())?;
        let filter = self.event_filter(p, q, wait).await?;
        // PostgreSQL: a committed event may wait for an older transaction to end before it can
        // be read (see `store::events::list`); that end comes with no bus message of its own.
        let every = (self.store.backend() == store::Backend::Postgres)
            .then_some(Duration::from_millis(EVENTS_RECHECK_MS));
        self.wait_until_every(
            wait,
            every,
            || async {
                let mut c = self.read().await?;
                let events = store::events::list(&mut c, &filter).await?;
                let cursor = events.last().map(|e| e.id).unwrap_or(filter.after);
                let done = !events.is_empty();
                Ok((EventPage { events, cursor }, done))
            },
            |m| matches!(m, BusMessage::Event(e) if accepts(&filter, e)),
        )
        .await
    }

    /// What an events query asks for, narrowed to what the principal may follow, with its
    /// cursor checked (or, for a wait with no cursor, set to the newest event: "from now on").
    async fn event_filter(
        &self,
        p: &Principal,
        q: &EventQuery,
        wait: Duration,
    ) -> HubResult<EventFilter> {
        let mut f = EventFilter {
            after: q.after.unwrap_or(0).max(0),
            limit: q.limit.unwrap_or(1000),
            ..Default::default()
        };
        if let Some(kinds) = q.kind.as_deref().filter(|k| !k.trim().is_empty()) {
            for k in kinds.split(',').map(str::trim) {
                f.kinds
                    .push(k.parse::<EventKind>().map_err(|e| bad!("{e}"))?);
            }
        }
        let mut c = self.read().await?;
        if let Some(pr) = &q.project {
            f.project = Some(self.resolve_project(&mut c, p, pr).await?.id);
        }
        if let Some(ts) = q.task.as_deref().filter(|t| !t.trim().is_empty()) {
            for r in ts.split(',').map(str::trim) {
                let t = self.resolve_task(&mut c, p, r, f.project).await?;
                f.tasks.push(t.id);
            }
        }
        scope_events(p, &mut f)?;
        if f.after == 0 && q.after.is_none() && wait > Duration::ZERO {
            // "From now on": start at the end of what can be read now.
            f.after = store::events::head(&mut c).await?;
        } else if f.after > 0 && !store::events::exists(&mut c, f.after).await? {
            return Err(bad!(
                "no event {}: `after` is 0 or the cursor of a page (the id of its last event)",
                f.after
            ));
        }
        Ok(f)
    }
}

/// Narrows an events filter to what the principal may follow: an orchestrator session its
/// project, another session its task (unless it names tasks), a server only tasks it names.
fn scope_events(p: &Principal, f: &mut EventFilter) -> HubResult<()> {
    match p {
        Principal::Admin | Principal::Hub => {}
        Principal::Session {
            orchestrator: true,
            project_id,
            ..
        } => f.project = Some(*project_id),
        Principal::Session { task_id, .. } => {
            if f.tasks.is_empty() {
                f.tasks.extend(task_id.iter().copied());
            }
            if f.tasks.is_empty() {
                return Err(HubError::Forbidden(
                    "this session has no task to follow".into(),
                ));
            }
        }
        Principal::Server { .. } => {
            if f.tasks.is_empty() {
                return Err(HubError::Forbidden(
                    "a server token may only follow the events of its own tasks (?task=…)".into(),
                ));
            }
        }
    }
    Ok(())
}

/// How often a waiting events long-poll reads again on PostgreSQL with no bus message.
const EVENTS_RECHECK_MS: u64 = 200;

/// Whether event `e` is one the filter reads (its cursor aside).
fn accepts(f: &EventFilter, e: &Event) -> bool {
    (f.project.is_none() || e.project_id == f.project)
        && (f.tasks.is_empty()
            || e.task_id.is_some_and(|t| f.tasks.contains(&t))
            || e.related_task_id.is_some_and(|t| f.tasks.contains(&t)))
        && (f.kinds.is_empty() || f.kinds.contains(&e.event))
}

/// Whether a bus message is an event about `task`.
fn about_task(m: &BusMessage, task: Uuid) -> bool {
    matches!(m, BusMessage::Event(e) if e.task_id == Some(task))
}
