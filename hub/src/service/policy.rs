//! Permission policy: rules that decide tool calls without a human (list, add, remove,
//! test), and decisions that reach past one call (allow for the session, allow always, deny
//! as a rule).

use orchestratia_proto::PermissionRequest;
use orchestratia_proto::api::{AllowPermission, DenyPermission, NewRule, PolicyTest};
use orchestratia_proto::policy::{PermissionRule, Verdict};

use super::Hub;
use crate::auth::Principal;
use crate::error::HubResult;

impl Hub {
    /// The permission rules (admin), oldest first; with `all`, expired ones too.
    pub async fn rules(&self, p: &Principal, all: bool) -> HubResult<Vec<PermissionRule>> {
        p.require_admin("listing permission rules")?;
        let _ = all;
        Ok(Vec::new())
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
        let _ = (body, by);
        Err(crate::bad!("not yet"))
    }

    /// Removes a rule by id or unique id prefix (admin).
    pub async fn remove_rule(&self, p: &Principal, key: &str) -> HubResult<PermissionRule> {
        p.require_admin("removing a permission rule")?;
        let _ = key;
        Err(crate::bad!("not yet"))
    }

    /// Which rule would decide this tool call, and why (admin).
    pub async fn test_policy(&self, p: &Principal, body: &PolicyTest) -> HubResult<Verdict> {
        p.require_admin("testing the policy")?;
        let _ = body;
        Err(crate::bad!("not yet"))
    }

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
        let _ = (body, by);
        self.decide_permission(p, key, true, None).await
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
        let _ = by;
        self.decide_permission(p, key, false, body.reason.as_deref())
            .await
    }
}
