//! A person's decision on a permission request that reaches past one call: allow for the
//! rest of the session (session rules), allow always (project rules), deny as a rule; and the
//! decision once. The rules made decide the other pending requests they match.

use std::path::Path;

use orchestratia_proto::api::{AllowPermission, AllowScope, DenyPermission};
use orchestratia_proto::policy::{self, PermissionRule, RuleEffect, RuleScope};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{PermissionRequest, PermissionStatus};
use serde_json::json;
use uuid::Uuid;

use super::policy::{MAX_PATTERN, Origin, decided_event};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// A person's decision: allow or deny, the reason for the agent, and who decided.
struct HumanDecision {
    allow: bool,
    reason: Option<String>,
    actor: String,
}

impl Hub {
    /// Allows a pending request once, for the rest of its session (a session rule), or
    /// always (a project rule with `body.patterns`, default the suggested ones); `by` names
    /// who decided (default: the principal's actor word).
    pub async fn allow_permission(
        &self,
        p: &Principal,
        key: &str,
        body: &AllowPermission,
        by: Option<&str>,
    ) -> HubResult<PermissionRequest> {
        p.require_admin("allowing a tool call")?;
        let scope = match body.scope {
            AllowScope::Once => None,
            AllowScope::Session => Some(RuleScope::Session),
            AllowScope::Always => Some(RuleScope::Project),
        };
        self.decide_by_human(p, key, true, None, scope, &body.patterns, by)
            .await
    }

    /// Denies a pending request, with a reason for the agent, and with `body.rule` also
    /// makes a project rule that denies calls like it.
    pub async fn deny_permission(
        &self,
        p: &Principal,
        key: &str,
        body: &DenyPermission,
        by: Option<&str>,
    ) -> HubResult<PermissionRequest> {
        p.require_admin("denying a tool call")?;
        let scope = body.rule.then_some(RuleScope::Project);
        self.decide_by_human(
            p,
            key,
            false,
            body.reason.as_deref(),
            scope,
            &body.patterns,
            by,
        )
        .await
    }

    /// A human's decision on a pending request; with `rule_scope`, rules of that scope for
    /// `patterns` (default: the suggested ones) are made too, and decide the other pending
    /// requests they match.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn decide_by_human(
        &self,
        p: &Principal,
        key: &str,
        allow: bool,
        reason: Option<&str>,
        rule_scope: Option<RuleScope>,
        patterns: &[String],
        by: Option<&str>,
    ) -> HubResult<PermissionRequest> {
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| validate::text("reason", r, 10_000))
            .transpose()?;
        let d = HumanDecision {
            allow,
            reason,
            actor: by.map(str::to_string).unwrap_or_else(|| p.actor()),
        };
        let mut tx = self.store.write().await?;
        if rule_scope.is_some() {
            // First: a request deciding meanwhile waits for these rules (PostgreSQL).
            store::rules::new_version(&mut tx).await?;
        }
        let req = self.resolve_permission(&mut tx, p, key).await?;
        if req.status != PermissionStatus::Pending {
            return Err(HubError::Conflict(format!(
                "permission request {} is already {}",
                req.id, req.status
            )));
        }
        let task = match req.task_id {
            Some(tid) => store::tasks::get(&mut tx, tid).await?,
            None => None,
        };
        let mut out = Effects::default();
        let mut made = Vec::new();
        if let Some(scope) = rule_scope {
            let origin = self.origin(&mut tx, task.as_ref(), req.session_id).await?;
            made = self
                .rules_for(&req, &origin, scope, allow, patterns, &d.actor)
                .await?;
            for r in &made {
                self.insert_rule(&mut tx, r, &d.actor, &mut out).await?;
            }
        }
        self.record_decision(&mut tx, &req, task.as_ref(), &d, &made, &mut out)
            .await?;
        if !made.is_empty() {
            self.decide_pending(&mut tx, &mut out).await?;
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let decided = store::humans::permission(&mut c, req.id)
            .await?
            .ok_or_else(|| HubError::NotFound("permission request vanished".into()))?;
        Ok(decided)
    }

    /// Marks `req` decided by a person (with the first rule `made`, if any), tells its
    /// session, and logs the decision with the rules it made.
    async fn record_decision(
        &self,
        c: &mut Conn,
        req: &PermissionRequest,
        task: Option<&TaskRecord>,
        d: &HumanDecision,
        made: &[PermissionRule],
        out: &mut Effects,
    ) -> HubResult<()> {
        let status = if d.allow {
            PermissionStatus::Allowed
        } else {
            PermissionStatus::Denied
        };
        let rule_id = made.first().map(|r| r.id);
        if !store::humans::decide_permission(
            c,
            req.id,
            status,
            d.reason.as_deref(),
            &d.actor,
            rule_id,
            now_ms(),
        )
        .await?
        {
            return Err(HubError::Conflict(format!(
                "permission request {} was decided meanwhile",
                req.id
            )));
        }
        if let Some(t) = task {
            self.tell_decision(c, t, req, d.allow, &d.reason, out)
                .await?;
        }
        let mut e = decided_event(req, task, d.allow, &d.actor, &d.reason, None);
        if !made.is_empty() {
            e.details["rules_made"] = json!(made);
        }
        out.event(e);
        Ok(())
    }

    /// The rules a decision makes for `req`: one per pattern, of `scope`.
    async fn rules_for(
        &self,
        req: &PermissionRequest,
        origin: &Origin,
        scope: RuleScope,
        allow: bool,
        patterns: &[String],
        by: &str,
    ) -> HubResult<Vec<PermissionRule>> {
        let mut patterns: Vec<String> = patterns
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if patterns.is_empty() {
            patterns = policy::suggest(
                &req.tool_name,
                &req.tool_input,
                origin.working_dir.as_deref().map(Path::new),
            );
        }
        if patterns.is_empty() {
            return Err(bad!(
                "this call cannot be {} by a rule (it has a part no rule may match, or a path outside the working dir); give --pattern, or decide it once",
                if allow { "allowed" } else { "denied" }
            ));
        }
        if scope == RuleScope::Session && origin.session_id.is_none() {
            return Err(bad!(
                "the request came from no session; allow it once or always"
            ));
        }
        if origin.project_id.is_none() {
            return Err(bad!("the request belongs to no task; decide it once"));
        }
        let now = now_ms();
        let mut made = Vec::new();
        for pattern in patterns {
            policy::check_rule(&req.tool_name, &pattern, false).map_err(|e| bad!("{e}"))?;
            let pattern = validate::line("pattern", &pattern, MAX_PATTERN)?;
            made.push(PermissionRule {
                id: Uuid::new_v4(),
                scope,
                project_id: origin.project_id,
                project: None,
                task_id: if scope == RuleScope::Session {
                    origin.task_id
                } else {
                    None
                },
                task_reference: None,
                session_id: if scope == RuleScope::Session {
                    origin.session_id
                } else {
                    None
                },
                tool: req.tool_name.clone(),
                pattern,
                effect: if allow {
                    RuleEffect::Allow
                } else {
                    RuleEffect::Deny
                },
                created_by: by.to_string(),
                created_at: now,
                expires_at: None,
                note: Some(policy::decision_note(req.id)),
            });
        }
        Ok(made)
    }
}
