//! Credentials an admin manages: registration tokens and admin tokens, listed by a short id
//! (never the token) and revoked by it.

use orchestratia_proto::api::TokenInfo;
use orchestratia_proto::time::now_ms;

use super::lookup::exactly_one;
use super::{Effects, Hub};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store;
use crate::store::tokens::{Token, TokenKind};

/// Hex digits of a token's hash that name it in lists.
const SHORT_ID_LEN: usize = 12;
/// Fewest hex digits accepted to pick a token.
const MIN_PREFIX: usize = 6;

/// The id a token is listed and revoked by: the start of its hash.
pub fn short_id(hash: &str) -> String {
    hash.chars().take(SHORT_ID_LEN).collect()
}

fn info(t: &Token, now: i64) -> TokenInfo {
    let status = if t.revoked_at.is_some() {
        "revoked"
    } else if t.used_at.is_some() {
        "used"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    TokenInfo {
        id: short_id(&t.hash),
        kind: t.kind.as_str().to_string(),
        project_id: t.project_id,
        replaces: t.server_name.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        used_at: t.used_at,
        revoked_at: t.revoked_at,
        status: status.to_string(),
    }
}

impl Hub {
    /// Tokens of one kind (admin or registration), newest first.
    pub async fn list_tokens(&self, p: &Principal, kind: TokenKind) -> HubResult<Vec<TokenInfo>> {
        p.require_admin("listing tokens")?;
        let mut c = self.read().await?;
        let now = now_ms();
        Ok(store::tokens::list(&mut c, kind, None)
            .await?
            .iter()
            .map(|t| info(t, now))
            .collect())
    }

    /// Revokes a token of `kind` by its id (or a unique start of it, at least six hex digits).
    pub async fn revoke_token(
        &self,
        p: &Principal,
        kind: TokenKind,
        id: &str,
    ) -> HubResult<TokenInfo> {
        p.require_admin("revoking a token")?;
        let id = id.trim().to_ascii_lowercase();
        if id.len() < MIN_PREFIX || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad!(
                "invalid token id '{id}': use the id 'token list' shows (at least {MIN_PREFIX} hex digits)"
            ));
        }
        let what = kind.as_str();
        let mut tx = self.store.write().await?;
        let found = store::tokens::list(&mut tx, kind, Some(&id)).await?;
        let t = exactly_one(
            found,
            || HubError::NotFound(format!("no {what} token '{id}'")),
            |n| bad!("'{id}' matches {n} {what} tokens; give more of the id"),
        )?;
        let now = now_ms();
        if !store::tokens::revoke(&mut tx, &t.hash, now).await? {
            return Err(HubError::Conflict(format!(
                "{what} token '{}' is already revoked",
                short_id(&t.hash)
            )));
        }
        let out = Effects {
            revoked_tokens: true,
            ..Effects::default()
        };
        self.commit(tx, out).await?;
        let revoked = Token {
            revoked_at: Some(now),
            ..t
        };
        Ok(info(&revoked, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_at: Option<i64>, used_at: Option<i64>, revoked_at: Option<i64>) -> Token {
        Token {
            hash: "0123456789abcdef0123".into(),
            kind: TokenKind::Registration,
            project_id: None,
            server_id: None,
            task_id: None,
            session_id: None,
            orchestrator: false,
            created_at: 1,
            expires_at,
            used_at,
            revoked_at,
            server_name: None,
        }
    }

    #[test]
    fn status_says_why_a_token_no_longer_works() {
        assert_eq!(info(&token(Some(100), None, None), 50).status, "active");
        assert_eq!(info(&token(Some(100), None, None), 100).status, "expired");
        assert_eq!(info(&token(Some(100), Some(60), None), 50).status, "used");
        assert_eq!(info(&token(None, Some(60), Some(70)), 80).status, "revoked");
        assert_eq!(info(&token(None, None, None), 80).id, "0123456789ab");
    }
}
