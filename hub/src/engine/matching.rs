//! Capability matching (docs/ARCHITECTURE.md, Engine rules): which servers may run a task, how each scores, and
//! the winner, with an explanation for every candidate.
//!
//! A server is disqualified when its key is revoked, when it is offline, when it lacks the
//! task's repo, when it is not the pinned agent, or when its OS is not the one required. The
//! rest score: repo present +100, languages matched up to +100, idle +50 less 10 per running
//! session, and +1 per task it completed recently (up to 5). Highest wins; ties go by name.

use std::collections::BTreeSet;

use orchestratia_proto::ServerStatus;
use orchestratia_proto::api::Candidate;
use uuid::Uuid;

/// What a task asks of a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    pub repo: Option<String>,
    pub languages: Vec<String>,
    pub agent: Option<String>,
    pub os: Option<String>,
}

/// What the hub knows of a server when it chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    pub id: Uuid,
    pub name: String,
    pub online: bool,
    pub revoked: bool,
    pub os: String,
    pub repos: BTreeSet<String>,
    pub languages: BTreeSet<String>,
    /// Sessions not yet ended.
    pub running: i64,
    /// Tasks it completed in the last 24 hours.
    pub recent_successes: i64,
}

/// Folds language aliases so `ts` matches `typescript`.
pub fn canonical_language(l: &str) -> String {
    let l = l.trim().to_ascii_lowercase();
    match l.as_str() {
        "ts" => "typescript".into(),
        "js" => "javascript".into(),
        "py" => "python".into(),
        "rs" => "rust".into(),
        "golang" => "go".into(),
        "c++" => "cpp".into(),
        "c#" => "csharp".into(),
        _ => l,
    }
}

fn canonical_os(os: &str) -> String {
    let o = os.trim().to_ascii_lowercase();
    match o.as_str() {
        "darwin" | "mac" | "osx" => "macos".into(),
        "win" | "win32" | "win64" => "windows".into(),
        _ => o,
    }
}

/// Scores one server against the requirements.
pub fn evaluate(req: &Requirements, s: &ServerFacts) -> Candidate {
    let status = if s.online {
        ServerStatus::Online
    } else {
        ServerStatus::Offline
    };
    let why_not = disqualifications(req, s);
    let (score, disqualified, breakdown) = if why_not.is_empty() {
        let (score, breakdown) = score(req, s);
        (Some(score), None, breakdown)
    } else {
        (None, Some(why_not.join("; ")), Vec::new())
    };
    Candidate {
        server_id: s.id,
        server: s.name.clone(),
        status,
        score,
        disqualified,
        breakdown,
        winner: false,
    }
}

/// Why a server cannot take the task at all (empty: it may).
fn disqualifications(req: &Requirements, s: &ServerFacts) -> Vec<String> {
    let mut why_not = Vec::new();
    if s.revoked {
        why_not.push("key revoked".to_string());
    }
    if !s.online {
        why_not.push("offline".to_string());
    }
    if let Some(r) = &req.repo
        && !s.repos.contains(r)
    {
        why_not.push(format!("missing repo {r}"));
    }
    if let Some(a) = &req.agent
        && a != &s.name
    {
        why_not.push(format!("task is pinned to {a}"));
    }
    if let Some(os) = &req.os
        && canonical_os(os) != canonical_os(&s.os)
    {
        why_not.push(format!(
            "needs OS {os}, has {}",
            if s.os.is_empty() { "unknown" } else { &s.os }
        ));
    }
    why_not
}

/// An eligible server's score with a line per part: repo, languages, load, recent successes.
fn score(req: &Requirements, s: &ServerFacts) -> (i64, Vec<String>) {
    let mut score = 0i64;
    let mut breakdown = Vec::new();
    if let Some(r) = &req.repo {
        score += 100;
        breakdown.push(format!("+100 has repo {r}"));
    }
    if !req.languages.is_empty() {
        let have: BTreeSet<String> = s.languages.iter().map(|l| canonical_language(l)).collect();
        let want: Vec<String> = req
            .languages
            .iter()
            .map(|l| canonical_language(l))
            .collect();
        let matched = want.iter().filter(|l| have.contains(*l)).count() as i64;
        let pts = matched * 100 / want.len() as i64;
        score += pts;
        breakdown.push(format!(
            "+{pts} languages {matched}/{} ({})",
            want.len(),
            req.languages.join(", ")
        ));
    }
    let idle = (50 - 10 * s.running).max(0);
    score += idle;
    breakdown.push(format!("+{idle} load ({} running)", s.running));
    let recent = s.recent_successes.clamp(0, 5);
    score += recent;
    breakdown.push(format!(
        "+{recent} recent success ({} done in 24 h)",
        s.recent_successes
    ));
    (score, breakdown)
}

/// Every server as a candidate, eligible first by score (ties by name), the winner marked.
pub fn rank(req: &Requirements, servers: &[ServerFacts]) -> Vec<Candidate> {
    let mut cands: Vec<Candidate> = servers.iter().map(|s| evaluate(req, s)).collect();
    cands.sort_by(|a, b| {
        b.score
            .is_some()
            .cmp(&a.score.is_some())
            .then(b.score.cmp(&a.score))
            .then(a.server.cmp(&b.server))
    });
    if let Some(first) = cands.first_mut()
        && first.score.is_some()
    {
        first.winner = true;
    }
    cands
}

/// Why no server was chosen, for a task left waiting.
pub fn no_winner_reason(cands: &[Candidate]) -> String {
    if cands.is_empty() {
        return "no server is registered in this project".to_string();
    }
    let parts: Vec<String> = cands
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c.server,
                c.disqualified.as_deref().unwrap_or("eligible")
            )
        })
        .collect();
    format!("no eligible server ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The winning server, if any is eligible.
    fn choose(req: &Requirements, servers: &[ServerFacts]) -> Option<Candidate> {
        rank(req, servers).into_iter().find(|c| c.winner)
    }

    fn server(name: &str, online: bool, repos: &[&str], langs: &[&str]) -> ServerFacts {
        ServerFacts {
            id: Uuid::new_v4(),
            name: name.into(),
            online,
            revoked: false,
            os: "linux".into(),
            repos: repos.iter().map(|s| s.to_string()).collect(),
            languages: langs.iter().map(|s| s.to_string()).collect(),
            running: 0,
            recent_successes: 5,
        }
    }

    /// Workflow 5 (docs/WORKFLOWS.md): api-gateway + rust; dev-backend wins with 255.
    #[test]
    fn the_idle_server_with_the_repo_wins_and_the_others_say_why() {
        let req = Requirements {
            repo: Some("api-gateway".into()),
            languages: vec!["rust".into()],
            ..Default::default()
        };
        let servers = vec![
            server("hub-server", true, &["infra"], &["rust"]),
            server("dev-desktop", false, &["desktop-app"], &["csharp"]),
            server(
                "dev-backend",
                true,
                &["api-gateway", "core-service"],
                &["rust", "ts"],
            ),
        ];
        let ranked = rank(&req, &servers);
        assert_eq!(ranked[0].server, "dev-backend");
        assert_eq!(ranked[0].score, Some(255));
        assert!(ranked[0].winner);
        let desk = ranked.iter().find(|c| c.server == "dev-desktop").unwrap();
        assert_eq!(
            desk.disqualified.as_deref(),
            Some("offline; missing repo api-gateway")
        );
        let hub = ranked.iter().find(|c| c.server == "hub-server").unwrap();
        assert_eq!(
            hub.disqualified.as_deref(),
            Some("missing repo api-gateway")
        );
        assert!(!hub.winner);
    }

    #[test]
    fn pinned_agent_and_os() {
        let req = Requirements {
            repo: Some("desktop-app".into()),
            agent: Some("dev-desktop".into()),
            os: Some("windows".into()),
            ..Default::default()
        };
        let mut desk = server("dev-desktop", true, &["desktop-app"], &[]);
        desk.os = "Windows".into();
        let other = server("dev-other", true, &["desktop-app"], &[]);
        let ranked = rank(&req, &[other, desk]);
        assert_eq!(ranked[0].server, "dev-desktop");
        assert!(
            ranked[1]
                .disqualified
                .as_deref()
                .unwrap()
                .contains("pinned to dev-desktop")
        );
        assert!(
            ranked[1]
                .disqualified
                .as_deref()
                .unwrap()
                .contains("needs OS windows")
        );
    }

    #[test]
    fn load_and_name_break_ties() {
        let req = Requirements::default();
        let mut a = server("b-server", true, &[], &[]);
        let b = server("a-server", true, &[], &[]);
        assert_eq!(
            choose(&req, &[a.clone(), b.clone()]).unwrap().server,
            "a-server"
        );
        a.running = 0;
        let mut busy = b.clone();
        busy.running = 3;
        assert_eq!(choose(&req, &[a, busy]).unwrap().server, "b-server");
    }

    #[test]
    fn language_aliases_and_partial_matches() {
        let req = Requirements {
            languages: vec!["ts".into(), "go".into()],
            ..Default::default()
        };
        let s = server("x", true, &[], &["TypeScript"]);
        let c = evaluate(&req, &s);
        assert_eq!(c.score, Some(50 + 50 + 5));
    }

    #[test]
    fn nobody_eligible() {
        let req = Requirements {
            repo: Some("r".into()),
            ..Default::default()
        };
        let ranked = rank(&req, &[server("x", false, &["r"], &[])]);
        assert!(ranked.iter().all(|c| !c.winner));
        assert_eq!(no_winner_reason(&ranked), "no eligible server (x: offline)");
        assert_eq!(
            no_winner_reason(&[]),
            "no server is registered in this project"
        );
    }
}
