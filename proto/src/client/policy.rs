//! Typed calls about permission rules: list, add, remove, and which rule would decide a
//! tool call.

use super::{ClientError, HubClient, enc};
use crate::api::{NewRule, PolicyTest};
use crate::policy::{PermissionRule, Verdict};

impl HubClient {
    /// The permission rules (admin); with `all`, expired ones too.
    pub async fn rules(&self, all: bool) -> Result<Vec<PermissionRule>, ClientError> {
        self.get(if all {
            "/policy/rules?all=true"
        } else {
            "/policy/rules"
        })
        .await
    }

    /// Adds a permission rule (it decides the pending requests it matches at once).
    pub async fn add_rule(&self, rule: &NewRule) -> Result<PermissionRule, ClientError> {
        self.post("/policy/rules", rule).await
    }

    /// Removes a permission rule by id or unique id prefix.
    pub async fn remove_rule(&self, id: &str) -> Result<PermissionRule, ClientError> {
        self.request::<(), PermissionRule>(
            reqwest::Method::DELETE,
            &format!("/policy/rules/{}", enc(id)),
            None,
            None,
        )
        .await
    }

    /// Which rule would decide this tool call, and why.
    pub async fn test_policy(&self, body: &PolicyTest) -> Result<Verdict, ClientError> {
        self.post("/policy/test", body).await
    }
}
