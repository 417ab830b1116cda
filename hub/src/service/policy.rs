//! Permission policy: rules that decide tool calls without a human (list, add, remove,
//! test), the live rules cached for the hook's request, and what a new rule decides among the
//! pending requests. Every decision a rule makes is logged on the task's timeline
//! (`permission_decided` with the rule), so nothing is decided silently. A person's decisions
//! that make rules are in `permission_decisions.rs`.

use std::path::Path;
use std::sync::Arc;

use orchestratia_proto::api::{NewRule, PolicyTest};
use orchestratia_proto::policy::{
    self, PermissionRule, Request, RuleEffect, RuleScope, RuleSet, Verdict,
};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{EventKind, PermissionRequest, PermissionStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use super::lookup::{exactly_one, with_id_prefix};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// Who a rule's decision is by, in `decided_by`.
pub(crate) const BY_POLICY: &str = "policy";

/// Longest rule pattern, in characters.
pub(super) const MAX_PATTERN: usize = 2_000;

/// Where a request comes from, as the rules see it.
pub(crate) struct Origin {
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub working_dir: Option<String>,
}

impl Origin {
    /// The matcher's view of a call of `tool` with `input` from here, at `now`.
    pub fn request<'a>(&'a self, tool: &'a str, input: &'a Value, now: i64) -> Request<'a> {
        Request {
            tool,
            input,
            working_dir: self.working_dir.as_deref().map(Path::new),
            project_id: self.project_id,
            task_id: self.task_id,
            session_id: self.session_id,
            now,
        }
    }
}

impl Hub {
    /// The live rules, indexed: the cached set while its version is the store's, else read
    /// again. In a write transaction on PostgreSQL the version stays locked until the commit,
    /// so no rule change can commit between this read and the decision made with it. Every
    /// rule change writes a new version, so no replica needs telling that its cache is stale.
    pub(crate) async fn rule_set(&self, c: &mut Conn) -> HubResult<Arc<RuleSet>> {
        let version = store::rules::version(c).await?;
        let cached = self.rules.lock().ok().and_then(|g| g.clone());
        if let Some((v, set)) = cached
            && v == version
        {
            return Ok(set);
        }
        let set = Arc::new(RuleSet::new(store::rules::list(c, true, now_ms()).await?));
        if let Ok(mut g) = self.rules.lock() {
            *g = Some((version, set.clone()));
        }
        Ok(set)
    }

    /// Where a request of `task` from `session` comes from.
    pub(crate) async fn origin(
        &self,
        c: &mut Conn,
        task: Option<&TaskRecord>,
        session: Option<Uuid>,
    ) -> HubResult<Origin> {
        let working_dir = working_dir_of(c, session).await?;
        Ok(Origin {
            project_id: task.map(|t| t.project_id),
            task_id: task.map(|t| t.id),
            session_id: session,
            working_dir,
        })
    }

    /// Fills in what "allow always" would propose for each pending request.
    pub(crate) async fn with_suggestions(
        &self,
        c: &mut Conn,
        mut reqs: Vec<PermissionRequest>,
    ) -> HubResult<Vec<PermissionRequest>> {
        for r in reqs.iter_mut().filter(|r| r.waits()) {
            let wd = working_dir_of(c, r.session_id).await?;
            r.suggested =
                policy::suggest(&r.tool_name, &r.tool_input, wd.as_deref().map(Path::new));
        }
        Ok(reqs)
    }

    /// The permission rules (admin), oldest first; with `all`, expired ones too.
    pub async fn rules(&self, p: &Principal, all: bool) -> HubResult<Vec<PermissionRule>> {
        p.require_admin("listing permission rules")?;
        let mut c = self.read().await?;
        Ok(store::rules::list(&mut c, all, now_ms()).await?)
    }

    /// Adds a rule (admin) made by `by` (default: the principal's actor word); it decides at
    /// once the pending requests it matches.
    pub async fn add_rule(
        &self,
        p: &Principal,
        body: &NewRule,
        by: Option<&str>,
    ) -> HubResult<PermissionRule> {
        p.require_admin("adding a permission rule")?;
        let now = now_ms();
        let tool = body.tool.trim();
        let pattern = body.pattern.trim();
        policy::check_rule(tool, pattern, body.force).map_err(|e| bad!("{e}"))?;
        let pattern = validate::line("pattern", pattern, MAX_PATTERN)?;
        if let Some(at) = body.expires_at
            && at <= now
        {
            return Err(bad!(
                "the expiry {} is in the past; give a time to come",
                orchestratia_proto::time::format_ms(at)
            ));
        }
        let note = body
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| validate::text("note", n, 2_000))
            .transpose()?;
        let by = by.map(str::to_string).unwrap_or_else(|| p.actor());
        let mut tx = self.store.write().await?;
        // First: a request deciding meanwhile waits for this rule (PostgreSQL).
        store::rules::new_version(&mut tx).await?;
        let placed = self.place_rule(&mut tx, p, body).await?;
        let rule = PermissionRule {
            id: Uuid::new_v4(),
            scope: placed.scope,
            project_id: placed.project_id,
            project: None,
            task_id: placed.task_id,
            task_reference: None,
            session_id: placed.session_id,
            tool: tool.to_string(),
            pattern,
            effect: body.effect,
            created_by: by.clone(),
            created_at: now,
            expires_at: body.expires_at,
            note,
        };
        let mut out = Effects::default();
        self.insert_rule(&mut tx, &rule, &by, &mut out).await?;
        self.decide_pending(&mut tx, &mut out).await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        store::rules::get(&mut c, rule.id)
            .await?
            .ok_or_else(|| HubError::NotFound("the rule vanished".into()))
    }

    /// Where a new rule applies: its scope and the ids that scope needs.
    async fn place_rule(&self, c: &mut Conn, p: &Principal, b: &NewRule) -> HubResult<Placed> {
        let scope = b.scope.unwrap_or(if b.session.is_some() {
            RuleScope::Session
        } else if b.task.as_deref().is_some_and(|t| !t.trim().is_empty()) {
            RuleScope::Task
        } else {
            RuleScope::Project
        });
        match scope {
            RuleScope::Global => {
                if b.project.is_some() || b.task.is_some() || b.session.is_some() {
                    return Err(bad!(
                        "a global rule names no project, task or session; drop --global or them"
                    ));
                }
                Ok(Placed {
                    scope,
                    project_id: None,
                    task_id: None,
                    session_id: None,
                })
            }
            RuleScope::Project => {
                let pr = self.default_project(c, p, b.project.as_deref()).await?;
                Ok(Placed {
                    scope,
                    project_id: Some(pr.id),
                    task_id: None,
                    session_id: None,
                })
            }
            RuleScope::Task => {
                let Some(reference) = b.task.as_deref() else {
                    return Err(bad!("a task rule needs the task (--task T7)"));
                };
                let project = match b.project.as_deref() {
                    Some(n) => Some(self.resolve_project(c, p, n).await?.id),
                    None => None,
                };
                let t = self.resolve_task(c, p, reference, project).await?;
                Ok(Placed {
                    scope,
                    project_id: Some(t.project_id),
                    task_id: Some(t.id),
                    session_id: None,
                })
            }
            RuleScope::Session => {
                let Some(id) = b.session else {
                    return Err(bad!("a session rule needs the session (--session ID)"));
                };
                let s = store::sessions::get(c, id)
                    .await?
                    .ok_or_else(|| HubError::NotFound(format!("session {id} not found")))?;
                if s.ended_at.is_some() {
                    return Err(HubError::Conflict(format!(
                        "session {} has ended; a rule for it would decide nothing",
                        s.name
                    )));
                }
                let task = match s.task_id {
                    Some(t) => store::tasks::get(c, t).await?,
                    None => None,
                };
                let project_id = match &task {
                    Some(t) => Some(t.project_id),
                    None => store::servers::get(c, s.server_id)
                        .await?
                        .map(|sv| sv.project_id),
                };
                Ok(Placed {
                    scope,
                    project_id,
                    task_id: s.task_id,
                    session_id: Some(s.id),
                })
            }
        }
    }

    /// Stores a rule and logs it.
    pub(super) async fn insert_rule(
        &self,
        c: &mut Conn,
        rule: &PermissionRule,
        by: &str,
        out: &mut Effects,
    ) -> HubResult<()> {
        store::rules::insert(c, rule).await?;
        out.event(rule_event(EventKind::PolicyRuleAdded, by, rule));
        Ok(())
    }

    /// Removes a rule by id or unique id prefix (admin).
    pub async fn remove_rule(&self, p: &Principal, key: &str) -> HubResult<PermissionRule> {
        p.require_admin("removing a permission rule")?;
        let key = key.trim();
        let mut tx = self.store.write().await?;
        store::rules::new_version(&mut tx).await?;
        let rule = match Uuid::parse_str(key) {
            Ok(id) => store::rules::get(&mut tx, id).await?,
            Err(_) => {
                let all = store::rules::list(&mut tx, true, now_ms()).await?;
                Some(exactly_one(
                    with_id_prefix(all, key, |r| r.id),
                    || HubError::NotFound(format!("permission rule '{key}' not found")),
                    |_| bad!("'{key}' matches several permission rules; give more characters"),
                )?)
            }
        }
        .ok_or_else(|| HubError::NotFound(format!("permission rule '{key}' not found")))?;
        if !store::rules::delete(&mut tx, rule.id).await? {
            return Err(HubError::Conflict(format!(
                "permission rule {} was removed meanwhile",
                rule.id
            )));
        }
        let mut out = Effects::default();
        out.event(rule_event(EventKind::PolicyRuleRemoved, &p.actor(), &rule));
        self.commit(tx, out).await?;
        Ok(rule)
    }

    /// Which rule would decide this tool call, and why (admin). Nothing is filed or decided.
    pub async fn test_policy(&self, p: &Principal, body: &PolicyTest) -> HubResult<Verdict> {
        p.require_admin("testing the policy")?;
        let tool = body.tool.trim();
        if tool.is_empty() {
            return Err(bad!("name the tool (--tool Bash)"));
        }
        policy::check_tool(tool).map_err(|e| bad!("{e}"))?;
        let input = match (&body.input, tool) {
            (Value::String(s), "Bash") => json!({"command": s}),
            (v, _) => v.clone(),
        };
        let mut c = self.read().await?;
        let project = match body.project.as_deref() {
            Some(n) => Some(self.resolve_project(&mut c, p, n).await?),
            None => None,
        };
        let task = match body.task.as_deref() {
            Some(r) => Some(
                self.resolve_task(&mut c, p, r, project.as_ref().map(|x| x.id))
                    .await?,
            ),
            None => None,
        };
        let mut origin = self.origin(&mut c, task.as_ref(), body.session).await?;
        if origin.project_id.is_none() {
            origin.project_id = project.map(|x| x.id);
        }
        if let Some(s) = body.session
            && origin.task_id.is_none()
            && let Some(sess) = store::sessions::get(&mut c, s).await?
        {
            origin.task_id = sess.task_id;
            if let Some(t) = sess.task_id
                && let Some(t) = store::tasks::get(&mut c, t).await?
            {
                origin.project_id = Some(t.project_id);
            }
        }
        if let Some(d) = body.working_dir.as_deref().filter(|d| !d.trim().is_empty()) {
            origin.working_dir = Some(d.trim().to_string());
        }
        let rules = self.rule_set(&mut c).await?;
        Ok(rules.decide(&origin.request(tool, &input, now_ms())))
    }

    /// Decides every pending request that the rules now decide (a rule was added).
    pub(crate) async fn decide_pending(&self, c: &mut Conn, out: &mut Effects) -> HubResult<()> {
        let pending = store::humans::permissions(c, Some(PermissionStatus::Pending), None).await?;
        if pending.is_empty() {
            return Ok(());
        }
        // Read in this transaction (it may hold a rule not yet committed), never cached.
        let now = now_ms();
        let rules = RuleSet::new(store::rules::list(c, true, now).await?);
        for req in pending {
            let task = match req.task_id {
                Some(t) => store::tasks::get(c, t).await?,
                None => None,
            };
            let origin = self.origin(c, task.as_ref(), req.session_id).await?;
            let verdict = rules.decide(&origin.request(&req.tool_name, &req.tool_input, now));
            let Some(effect) = verdict.effect else {
                continue;
            };
            let allow = effect == RuleEffect::Allow;
            let status = if allow {
                PermissionStatus::Allowed
            } else {
                PermissionStatus::Denied
            };
            let rule_id = verdict.rule.as_ref().map(|r| r.id);
            if !store::humans::decide_permission(
                c,
                req.id,
                status,
                Some(&verdict.reason),
                BY_POLICY,
                rule_id,
                now,
            )
            .await?
            {
                continue;
            }
            let reason = Some(verdict.reason.clone());
            if let Some(t) = &task {
                self.tell_decision(c, t, &req, allow, &reason, out).await?;
            }
            out.event(decided_event(
                &req,
                task.as_ref(),
                allow,
                BY_POLICY,
                &reason,
                Some(&verdict),
            ));
        }
        Ok(())
    }
}

/// The working dir of a session (paths in a request are judged against it).
async fn working_dir_of(c: &mut Conn, session: Option<Uuid>) -> HubResult<Option<String>> {
    Ok(match session {
        Some(id) => store::sessions::get(c, id)
            .await?
            .and_then(|s| s.working_dir),
        None => None,
    })
}

/// Where a new rule applies.
struct Placed {
    scope: RuleScope,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    session_id: Option<Uuid>,
}

/// The `permission_decided` event of a decision on `req` (by a rule when `verdict` is given).
pub(crate) fn decided_event(
    req: &PermissionRequest,
    task: Option<&TaskRecord>,
    allow: bool,
    actor: &str,
    reason: &Option<String>,
    verdict: Option<&Verdict>,
) -> NewEvent {
    let mut details = json!({
        "request_id": req.id,
        "tool_name": req.tool_name,
        "allowed": allow,
        "reason": reason,
    });
    if let Some(v) = verdict {
        details["auto"] = json!(true);
        details["rule"] = json!(v.rule);
        details["rules"] = json!(v.rule_ids());
        details["input"] = json!(req.input_text());
    }
    NewEvent {
        kind: EventKind::PermissionDecided,
        actor: actor.to_string(),
        project_id: task.map(|t| t.project_id),
        task_id: req.task_id,
        related_task_id: None,
        server_id: task.and_then(|t| t.server_id),
        session_id: req.session_id,
        details,
    }
}

/// The event that a rule was added or removed, on the rule's own scope.
fn rule_event(kind: EventKind, by: &str, rule: &PermissionRule) -> NewEvent {
    NewEvent {
        kind,
        actor: by.to_string(),
        project_id: rule.project_id,
        task_id: rule.task_id,
        related_task_id: None,
        server_id: None,
        session_id: rule.session_id,
        details: json!({"rule": rule}),
    }
}
