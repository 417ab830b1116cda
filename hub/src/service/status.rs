//! `GET /status`: which hub answers, on which database, and every replica sharing it.

use orchestratia_proto::api::{HubStatus, ReplicaStatus};
use orchestratia_proto::time::now_ms;

use super::Hub;
use crate::error::HubResult;
use crate::store::{self, Backend};

/// Replicas silent for longer than this are left out of the status (they stopped).
const LISTED_WITHIN_MS: i64 = 10 * 60 * 1000;

impl Hub {
    /// This hub and, between replicas, every replica heard from in the last ten minutes
    /// (this one first).
    pub async fn status(&self) -> HubResult<HubStatus> {
        let database = match self.store.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        };
        let now = now_ms();
        let here = ReplicaStatus {
            id: self.replica().unwrap_or("main").to_string(),
            url: self.public_url.clone(),
            version: orchestratia_proto::VERSION.to_string(),
            started_at: self.started_at,
            seen_at: now,
            alive: true,
            daemons: self.daemons.count_here() as u64,
            consoles: self.metrics.consoles(),
            heartbeat_p99_us: self.metrics.heartbeat_p99_us(),
        };
        let mut replicas = vec![here];
        if self.replica().is_some() {
            let mut c = self.read().await?;
            let others = store::replicas::list(&mut c, now, LISTED_WITHIN_MS).await?;
            replicas.extend(
                others
                    .into_iter()
                    .filter(|r| Some(r.id.as_str()) != self.replica()),
            );
        }
        Ok(HubStatus {
            version: orchestratia_proto::VERSION.to_string(),
            replica: self.replica().map(str::to_string),
            database: database.to_string(),
            replicas,
        })
    }
}
