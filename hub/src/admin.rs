//! The admin token and the file the hub writes it to, so that `orchestratia` run by the same
//! user finds the hub and its token with no flags.

use std::path::{Path, PathBuf};

use orchestratia_proto::ADMIN_TOKEN_PREFIX;
use orchestratia_proto::files::{CredentialFile, write_private};
use orchestratia_proto::time::now_ms;

use crate::auth::{Principal, new_token};
use crate::service::Hub;
use crate::store::tokens::{Token, TokenKind};
use crate::store::{self, Store};

/// Creates a new admin token in the store and returns it.
pub async fn create_admin_token(store: &Store) -> anyhow::Result<String> {
    let (token, hash) = new_token(ADMIN_TOKEN_PREFIX);
    let mut tx = store.write().await?;
    store::tokens::insert(
        &mut tx,
        &Token {
            hash,
            kind: TokenKind::Admin,
            project_id: None,
            server_id: None,
            task_id: None,
            session_id: None,
            orchestrator: false,
            created_at: now_ms(),
            expires_at: None,
            used_at: None,
            revoked_at: None,
            server_name: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Makes sure `path` holds a working admin token for this hub and its URL: keeps a token that
/// still works (updating the URL), else creates one. The file is written with mode 0600.
pub async fn ensure_admin_file(hub: &Hub, path: &Path) -> anyhow::Result<PathBuf> {
    let existing: Option<CredentialFile> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| yaml_serde::from_str(&t).ok());
    let mut token = None;
    if let Some(t) = existing.as_ref().and_then(|f| f.token.clone())
        && matches!(hub.authenticate(Some(&t)).await, Ok(Principal::Admin))
    {
        if existing.as_ref().and_then(|f| f.hub_url.as_deref()) == Some(hub.public_url.as_str()) {
            return Ok(path.to_path_buf());
        }
        token = Some(t);
    }
    let token = match token {
        Some(t) => t,
        None => create_admin_token(&hub.store).await?,
    };
    let file = CredentialFile {
        hub_url: Some(hub.public_url.clone()),
        token: Some(token),
        api_key: None,
    };
    write_private(path, &yaml_serde::to_string(&file)?)?;
    Ok(path.to_path_buf())
}
