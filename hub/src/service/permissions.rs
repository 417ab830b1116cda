//! Permission requests: an agent (its Claude Code hook) asks to run a tool, an admin allows
//! or denies it; the hook long-polls the decision (see `watch.rs`).

use orchestratia_proto::api::RequestPermission;
use orchestratia_proto::policy::{RuleEffect, Verdict};
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{EventKind, PermissionRequest, PermissionStatus};
use serde_json::json;
use uuid::Uuid;

use super::lookup::{exactly_one, with_id_prefix};
use super::policy::{BY_POLICY, decided_event};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::agent_state::Signal;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// Largest tool input of a permission request, in bytes.
const MAX_TOOL_INPUT: usize = 256 * 1024;

impl Hub {
    /// An agent (or its Claude Code hook) asks to run a tool.
    pub async fn request_permission(
        &self,
        p: &Principal,
        body: &RequestPermission,
    ) -> HubResult<PermissionRequest> {
        let tool = validate::line("tool_name", &body.tool_name, 200)?;
        let size = body.tool_input.to_string().len();
        if size > MAX_TOOL_INPUT {
            return Err(HubError::TooLarge(format!(
                "tool_input is {size} bytes; the limit is {MAX_TOOL_INPUT}"
            )));
        }
        let mut tx = self.store.write().await?;
        let t = self.task_asking(&mut tx, p, body).await?;
        let now = now_ms();
        let session_id = match p {
            Principal::Session { session_id, .. } => *session_id,
            _ => None,
        };
        let origin = self.origin(&mut tx, Some(&t), session_id).await?;
        // Read in this transaction: on PostgreSQL no rule change commits until this one does,
        // and one that did is seen (or a rule change waiting decides this request).
        let rules = self.rule_set(&mut tx).await?;
        let verdict = rules.decide(&origin.request(&tool, &body.tool_input, now));
        if verdict.effect.is_some() {
            return self
                .decided_by_rule(tx, p, &t, session_id, &tool, body, verdict, now)
                .await;
        }
        let req = PermissionRequest {
            id: Uuid::new_v4(),
            task_id: Some(t.id),
            task_reference: Some(t.reference()),
            session_id,
            tool_name: tool,
            tool_input: body.tool_input.clone(),
            status: PermissionStatus::Pending,
            reason: None,
            decided_by: None,
            created_at: now,
            decided_at: None,
            rule_id: None,
            suggested: Vec::new(),
        };
        self.file_request(tx, p, &t, &req).await?;
        let mut c = self.read().await?;
        Ok(self.with_suggestions(&mut c, vec![req]).await?.remove(0))
    }

    /// The open task a permission request is for: the one named, else the asking session's.
    async fn task_asking(
        &self,
        c: &mut Conn,
        p: &Principal,
        body: &RequestPermission,
    ) -> HubResult<TaskRecord> {
        let reference = match (&body.task, p) {
            (Some(r), _) => r.clone(),
            (
                None,
                Principal::Session {
                    task_id: Some(id), ..
                },
            ) => id.to_string(),
            (None, _) => return Err(bad!("name the task the permission is for")),
        };
        let t = self.resolve_task(c, p, &reference, None).await?;
        p.require_work_on(&t, "request a permission for")?;
        if t.status.is_terminal() {
            return Err(HubError::Conflict(format!(
                "{} is {}",
                t.reference(),
                t.status
            )));
        }
        Ok(t)
    }

    /// Files a pending request no rule decided: its session now waits for a person, and the
    /// timeline says so.
    async fn file_request(
        &self,
        mut tx: crate::store::Tx,
        p: &Principal,
        t: &TaskRecord,
        req: &PermissionRequest,
    ) -> HubResult<()> {
        store::humans::insert_permission(&mut tx, req).await?;
        let mut out = Effects::default();
        self.signal_permission(
            &mut tx,
            t.id,
            req.session_id,
            Signal::PermissionRequested,
            &mut out,
        )
        .await?;
        out.event(NewEvent {
            kind: EventKind::PermissionRequested,
            actor: p.actor(),
            project_id: Some(t.project_id),
            task_id: Some(t.id),
            related_task_id: None,
            server_id: t.server_id,
            session_id: req.session_id,
            details: json!({"request_id": req.id, "tool_name": req.tool_name, "tool_input": req.tool_input}),
        });
        self.commit(tx, out).await
    }

    /// Files a request that a rule decided at once: nobody is asked, the session never
    /// waits, and the timeline says which rule decided.
    #[allow(clippy::too_many_arguments)]
    async fn decided_by_rule(
        &self,
        mut tx: crate::store::Tx,
        p: &Principal,
        t: &TaskRecord,
        session_id: Option<Uuid>,
        tool: &str,
        body: &RequestPermission,
        verdict: Verdict,
        now: i64,
    ) -> HubResult<PermissionRequest> {
        let allow = verdict.effect == Some(RuleEffect::Allow);
        let req = PermissionRequest {
            id: Uuid::new_v4(),
            task_id: Some(t.id),
            task_reference: Some(t.reference()),
            session_id,
            tool_name: tool.to_string(),
            tool_input: body.tool_input.clone(),
            status: if allow {
                PermissionStatus::Allowed
            } else {
                PermissionStatus::Denied
            },
            reason: Some(verdict.reason.clone()),
            decided_by: Some(BY_POLICY.to_string()),
            created_at: now,
            decided_at: Some(now),
            rule_id: verdict.rule.as_ref().map(|r| r.id),
            suggested: Vec::new(),
        };
        store::humans::insert_permission(&mut tx, &req).await?;
        let mut out = Effects::default();
        let mut e = decided_event(&req, Some(t), allow, BY_POLICY, &req.reason, Some(&verdict));
        e.details["asked_by"] = json!(p.actor());
        out.event(e);
        self.commit(tx, out).await?;
        Ok(req)
    }

    /// A permission request the principal may see.
    pub async fn permission(&self, p: &Principal, id: Uuid) -> HubResult<PermissionRequest> {
        let mut c = self.read().await?;
        let req = store::humans::permission(&mut c, id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("permission request {id} not found")))?;
        let visible = match req.task_id {
            Some(tid) => store::tasks::get(&mut c, tid)
                .await?
                .is_some_and(|t| p.can_see_task(&t)),
            None => matches!(p, Principal::Admin),
        };
        if !visible {
            return Err(HubError::NotFound(format!(
                "permission request {id} not found"
            )));
        }
        Ok(self.with_suggestions(&mut c, vec![req]).await?.remove(0))
    }

    /// Permission requests (admin), newest first, with `status` when given.
    pub async fn permissions(
        &self,
        p: &Principal,
        status: Option<PermissionStatus>,
    ) -> HubResult<Vec<PermissionRequest>> {
        p.require_admin("listing permission requests")?;
        let mut c = self.read().await?;
        let all = store::humans::permissions(&mut c, status, None).await?;
        self.with_suggestions(&mut c, all).await
    }

    /// After a decision on `req` for task `t`: the asking session's state moves once no
    /// request of it is pending, and the task's daemon is told the decision.
    pub(super) async fn tell_decision(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        req: &PermissionRequest,
        allow: bool,
        reason: &Option<String>,
        out: &mut Effects,
    ) -> HubResult<()> {
        let pending =
            store::humans::permissions(c, Some(PermissionStatus::Pending), Some(t.project_id))
                .await?
                .into_iter()
                .any(|r| r.task_id == Some(t.id) && r.session_id == req.session_id);
        if !pending {
            self.signal_permission(c, t.id, req.session_id, Signal::PermissionDecided, out)
                .await?;
        }
        if let Some(server) = t.server_id {
            out.tell(
                server,
                HubToDaemon::PermissionDecision {
                    request_id: req.id,
                    task_id: Some(t.id),
                    allowed: allow,
                    reason: reason.clone(),
                },
            );
        }
        Ok(())
    }

    /// A permission request by id, a task with exactly one pending, or a unique id prefix.
    pub(super) async fn resolve_permission(
        &self,
        c: &mut Conn,
        p: &Principal,
        key: &str,
    ) -> HubResult<PermissionRequest> {
        let key = key.trim();
        if let Ok(id) = Uuid::parse_str(key) {
            return store::humans::permission(c, id)
                .await?
                .ok_or_else(|| HubError::NotFound(format!("permission request {id} not found")));
        }
        if let Ok(r @ TaskRef::Number(_)) = TaskRef::parse(key)
            && let Some(t) = self.task_or_id_prefix(c, p, key, &r).await?
        {
            let pending: Vec<PermissionRequest> =
                store::humans::permissions(c, Some(PermissionStatus::Pending), Some(t.project_id))
                    .await?
                    .into_iter()
                    .filter(|x| x.task_id == Some(t.id))
                    .collect();
            return exactly_one(
                pending,
                || {
                    HubError::NotFound(format!(
                        "{} has no pending permission request",
                        t.reference()
                    ))
                },
                |n| {
                    bad!(
                        "{} has {n} pending permission requests; decide one by its id",
                        t.reference()
                    )
                },
            );
        }
        let all = store::humans::permissions(c, None, None).await?;
        exactly_one(
            with_id_prefix(all, key, |x| x.id),
            || HubError::NotFound(format!("permission request '{key}' not found")),
            |_| bad!("'{key}' matches several permission requests; give more characters"),
        )
    }

    /// Moves the state of the session that asked for a permission (or, without one, of the
    /// task's open sessions).
    async fn signal_permission(
        &self,
        c: &mut Conn,
        task: Uuid,
        session: Option<Uuid>,
        signal: Signal<'_>,
        out: &mut Effects,
    ) -> HubResult<()> {
        match session {
            Some(id) => {
                if let Some(s) = store::sessions::get(c, id).await? {
                    self.signal(c, &s, signal, out).await?;
                }
                Ok(())
            }
            None => self.signal_task(c, task, signal, out).await,
        }
    }
}
