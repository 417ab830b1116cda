//! Several real hub processes (`serve --replica-id rN`) sharing one fresh PostgreSQL
//! database: kill any of them like a crash, start it again, and talk to any or all.

use orchestratia_proto::client::HubClient;

use crate::{Backend, CliOutput, HubOptions, PgDatabase, TestHub, run_cli};

/// Hub replicas on one database. Dropping it stops them and drops the database.
pub struct TestCluster {
    /// The replicas, `r0`, `r1`, … in order.
    pub hubs: Vec<TestHub>,
    /// The shared database (dropped after the hubs).
    pub db: PgDatabase,
}

impl TestCluster {
    /// Starts `n` replicas named `r0`… on a fresh database, with `options` for each (its
    /// backend and database are set here); `None` where PostgreSQL is missing outside CI.
    pub async fn start(n: usize, options: HubOptions) -> Option<TestCluster> {
        let db = PgDatabase::create().await?;
        let mut hubs = Vec::with_capacity(n);
        for i in 0..n {
            let mut o = options.clone();
            o.backend = Backend::Postgres;
            o.db_url = Some(db.url.clone());
            o.args.extend(["--replica-id".to_string(), format!("r{i}")]);
            hubs.push(TestHub::start_with(o).await?);
        }
        Some(TestCluster { hubs, db })
    }

    /// Starts `n` replicas with the default test timing (heartbeat 300 ms, offline after 3 s)
    /// and a project `project` made through the first.
    pub async fn with_project(n: usize, project: &str) -> Option<TestCluster> {
        let cluster = TestCluster::start(n, HubOptions::default()).await?;
        cluster
            .admin(0)
            .create_project(project)
            .await
            .expect("create the project");
        Some(cluster)
    }

    /// Waits up to `secs` until task `id` has `status`, as replica `i` sees it.
    pub async fn wait_status(
        &self,
        i: usize,
        id: uuid::Uuid,
        status: orchestratia_proto::TaskStatus,
        secs: u64,
    ) {
        let admin = self.admin(i);
        crate::eventually(secs, &format!("{id} {status:?}"), || async {
            let v = admin.task(&id.to_string()).await.ok()?;
            (v.task.status == status).then_some(())
        })
        .await
    }

    /// Every replica's URL, comma-separated (what daemons, consoles and the CLI accept).
    pub fn urls(&self) -> String {
        self.hubs
            .iter()
            .map(|h| h.url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The URLs of replicas `order`, comma-separated, in that order.
    pub fn urls_of(&self, order: &[usize]) -> String {
        order
            .iter()
            .map(|&i| self.hubs[i].url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// An admin client for replica `i` only.
    pub fn admin(&self, i: usize) -> HubClient {
        self.hubs[i].admin()
    }

    /// An admin client over every replica (moving on when one cannot be reached).
    pub fn admin_all(&self) -> HubClient {
        HubClient::new(&self.urls(), Some(self.hubs[0].admin_token.clone()))
    }

    /// Kills replica `i` with SIGKILL.
    pub async fn kill(&mut self, i: usize) {
        self.hubs[i].kill().await;
    }

    /// Kills replica `i` with SIGKILL and starts it again on its port.
    pub async fn restart(&mut self, i: usize) {
        self.hubs[i].restart().await;
    }

    /// Runs the real CLI against `urls` (one or several, comma-separated) as admin.
    pub async fn cli_at(&self, urls: &str, args: &[&str]) -> CliOutput {
        let h = &self.hubs[0];
        run_cli(urls, &h.admin_token, h.dir.path(), &[], args).await
    }
}
