//! `orchestratia status`: which hub answers (its version, the replica, the database) and every
//! replica sharing that database, with what each holds and how fast it handles heartbeats.

use orchestratia_proto::api::{HubStatus, ReplicaStatus};
use orchestratia_proto::text::one_line;
use orchestratia_proto::time::{ago, now_ms};

use super::Ctx;
use super::print::table;

/// Prints the hub's status (`--json`: the API's `HubStatus` as it is).
pub(crate) async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.client.status().await?;
    ctx.out(&s, |s| say!("{}", text(s, now_ms())))
}

/// The status as text: a header, then the replicas' table. Everything in it came from the API,
/// so the header and every cell are shown escaped, on one line each.
pub(crate) fn text(s: &HubStatus, now: i64) -> String {
    let replica = s.replica.as_deref().unwrap_or("main (single hub)");
    let header = one_line(&format!(
        "hub {} · answered by {} · database {}",
        s.version, replica, s.database
    ))
    .into_owned();
    if s.replicas.is_empty() {
        return format!("{header}\nno replicas reported");
    }
    let rows = s.replicas.iter().map(|r| row(r, now)).collect();
    let table = table(
        &[
            "REPLICA",
            "URL",
            "ALIVE",
            "DAEMONS",
            "CONSOLES",
            "HEARTBEAT P99",
            "SEEN",
            "VERSION",
        ],
        rows,
    );
    format!("{header}\n{table}")
}

fn row(r: &ReplicaStatus, now: i64) -> Vec<String> {
    vec![
        r.id.clone(),
        r.url.clone(),
        if r.alive { "yes" } else { "no" }.to_string(),
        r.daemons.to_string(),
        r.consoles.to_string(),
        r.heartbeat_p99_us.map(micros).unwrap_or_else(|| "-".into()),
        format!("{} ago", ago(r.seen_at, now)),
        r.version.clone(),
    ]
}

/// Microseconds as people read them: 850µs, 12.3ms, 1.20s.
fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1_000.0),
        _ => format!("{:.2}s", us as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: &str, alive: bool) -> ReplicaStatus {
        ReplicaStatus {
            id: id.into(),
            url: format!("http://127.0.0.1:1/{id}"),
            version: "0.1.0".into(),
            started_at: 0,
            seen_at: 7_000,
            alive,
            daemons: 2,
            consoles: 1,
            heartbeat_p99_us: Some(1_250),
        }
    }

    #[test]
    fn lists_every_replica_with_what_it_holds() {
        let s = HubStatus {
            version: "0.1.0".into(),
            replica: Some("r0".into()),
            database: "postgresql".into(),
            replicas: vec![replica("r0", true), replica("r1", false)],
        };
        let t = text(&s, 10_000);
        assert!(
            t.starts_with("hub 0.1.0 · answered by r0 · database postgresql"),
            "{t}"
        );
        let r1 = t.lines().find(|l| l.starts_with("r1")).expect("r1 row");
        assert!(
            r1.contains(" no ") && r1.contains("1.2ms") && r1.contains("3s ago"),
            "{r1}"
        );
    }

    #[test]
    fn text_from_the_api_is_escaped() {
        let mut r = replica("r0\u{1b}[2J", true);
        r.url = "http://x\rEVIL".into();
        let s = HubStatus {
            version: "0.1.0".into(),
            replica: None,
            database: "sqlite".into(),
            replicas: vec![r],
        };
        let t = text(&s, 10_000);
        assert!(!t.contains('\u{1b}') && !t.contains('\r'), "{t:?}");
        assert!(t.contains("main (single hub)"), "{t}");
        let s = HubStatus {
            replica: Some("r0\u{1b}]0;title\u{7}\nfake".into()),
            ..s
        };
        let t = text(&s, 10_000);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        assert_eq!(t.lines().count(), 3, "{t}");
    }
}
