//! The store suite: the same checks on SQLite and on PostgreSQL (a fresh database per run).

mod common;

use std::collections::BTreeMap;

use orchestratia_hub::store::deps::NewDep;
use orchestratia_hub::store::events::{EventFilter, NewEvent};
use orchestratia_hub::store::prompts::PromptRecord;
use orchestratia_hub::store::sessions::Chunk;
use orchestratia_hub::store::tokens::{Token, TokenKind};
use orchestratia_hub::store::{self, Store};
use orchestratia_proto::api::AgentMessage;
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::{
    DepType, EventKind, PlanStatus, Project, Server, ServerStatus, Session, SessionState,
    SessionStatus, TaskStatus,
};
use orchestratia_testkit::PgDatabase;
use serde_json::json;
use uuid::Uuid;

use common::task_record as task;

async fn suite(store: Store) {
    let mut tx = store.write().await.expect("tx");
    let p = Project {
        id: Uuid::new_v4(),
        name: "P".into(),
        budget: None,
        usage: None,
        created_at: 5,
    };
    store::projects::insert(&mut tx, &p).await.expect("project");
    assert_eq!(
        store::projects::allocate_number(&mut tx, p.id)
            .await
            .expect("n"),
        1
    );
    assert_eq!(
        store::projects::allocate_number(&mut tx, p.id)
            .await
            .expect("n"),
        2
    );
    assert_eq!(
        store::projects::allocate_phase(&mut tx, p.id)
            .await
            .expect("phase"),
        1
    );

    // Tasks round-trip every field, and are found by id, prefix and number.
    let a = task(p.id, 1, "A");
    let b = task(p.id, 2, "B");
    store::tasks::insert(&mut tx, &a).await.expect("a");
    store::tasks::insert(&mut tx, &b).await.expect("b");
    assert_eq!(
        store::tasks::get(&mut tx, a.id).await.expect("get"),
        Some(a.clone())
    );
    assert_eq!(
        store::tasks::find(&mut tx, None, &TaskRef::Number(2))
            .await
            .expect("find")[0]
            .id,
        b.id
    );
    let prefix = a.id.to_string()[..8].to_string();
    assert_eq!(
        store::tasks::find(&mut tx, Some(p.id), &TaskRef::Prefix(prefix))
            .await
            .expect("find")[0]
            .id,
        a.id
    );
    assert!(
        store::tasks::find(&mut tx, Some(Uuid::new_v4()), &TaskRef::Id(a.id))
            .await
            .expect("find")
            .is_empty()
    );
    assert_eq!(
        store::tasks::by_pipeline_key(&mut tx, p.id, "k2")
            .await
            .expect("key")
            .map(|t| t.id),
        Some(b.id)
    );
    tx.commit().await.expect("commit");
    // A failed statement ends its transaction on PostgreSQL: try the duplicate in its own.
    let mut tx = store.write().await.expect("tx");
    let dup = store::tasks::insert(&mut tx, &task(p.id, 1, "again")).await;
    assert!(
        dup.is_err_and(|e| e.is_unique_violation()),
        "task numbers are unique per project"
    );
    drop(tx);

    // Guarded transitions: a second close does nothing.
    let mut tx = store.write().await.expect("tx");
    assert!(
        store::tasks::transition(
            &mut tx,
            a.id,
            &[TaskStatus::Pending],
            TaskStatus::Running,
            9
        )
        .await
        .expect("t")
    );
    assert!(
        !store::tasks::transition(
            &mut tx,
            a.id,
            &[TaskStatus::Pending],
            TaskStatus::Running,
            9
        )
        .await
        .expect("t")
    );
    assert!(
        store::tasks::close(
            &mut tx,
            a.id,
            &[TaskStatus::Running],
            TaskStatus::Done,
            &json!({"s": 1}),
            10
        )
        .await
        .expect("c")
    );
    assert!(
        !store::tasks::close(
            &mut tx,
            a.id,
            &[TaskStatus::Running],
            TaskStatus::Done,
            &json!({"s": 2}),
            11
        )
        .await
        .expect("c")
    );
    let listed = store::tasks::list(&mut tx, Some(p.id), &[TaskStatus::Done], None)
        .await
        .expect("list");
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![a.id]);
    assert_eq!(listed[0].result, Some(json!({"s": 1})));

    // Dependencies, contracts and the cascade's view.
    let dep = Uuid::new_v4();
    store::deps::insert(
        &mut tx,
        &NewDep {
            id: dep,
            upstream: a.id,
            downstream: b.id,
            dep_type: DepType::Blocks,
            contract_key: None,
            resolved: false,
            after: orchestratia_proto::DependencyAfter::Done,
            now: 3,
        },
    )
    .await
    .expect("dep");
    store::deps::upgrade_to_input(&mut tx, dep, "api", false, 4)
        .await
        .expect("upgrade");
    let pair = store::deps::between(&mut tx, a.id, b.id)
        .await
        .expect("between");
    assert_eq!(
        (
            pair.len(),
            pair[0].dep_type,
            pair[0].contract_key.as_deref()
        ),
        (1, DepType::Input, Some("api"))
    );
    let mut contracts = BTreeMap::new();
    contracts.insert("api".to_string(), json!({"paths": ["/x"]}));
    store::contracts::insert(&mut tx, a.id, &contracts, 5)
        .await
        .expect("contracts");
    let down = store::deps::downstream_of(&mut tx, a.id)
        .await
        .expect("downstream");
    assert_eq!((down.len(), down[0].id, down[0].deps.len()), (1, b.id, 1));
    assert_eq!(down[0].deps[0].upstream_status, TaskStatus::Done);
    assert!(
        store::contracts::inputs_of(&mut tx, &[b.id])
            .await
            .expect("inputs")
            .is_empty(),
        "not resolved yet"
    );
    store::deps::resolve(&mut tx, &[dep], 6)
        .await
        .expect("resolve");
    let inputs = store::contracts::inputs_of(&mut tx, &[b.id])
        .await
        .expect("inputs");
    assert_eq!(inputs[&b.id]["api"], json!({"paths": ["/x"]}));
    assert_eq!(
        store::contracts::of_task(&mut tx, a.id).await.expect("of")["api"].data,
        json!({"paths": ["/x"]})
    );
    let edges = store::deps::edges_of_project(&mut tx, p.id)
        .await
        .expect("edges");
    assert_eq!(
        edges,
        vec![store::deps::Edge {
            upstream: a.id,
            downstream: b.id,
            dep_type: DepType::Input,
            contract_key: Some("api".into()),
            resolved: true,
            after: orchestratia_proto::DependencyAfter::Done,
        }]
    );
    tx.commit().await.expect("commit");

    // Tokens: looked up by hash, consumed once.
    let mut tx = store.write().await.expect("tx");
    let tok = |hash: &str, kind| Token {
        hash: hash.into(),
        kind,
        project_id: Some(p.id),
        server_id: None,
        task_id: None,
        session_id: None,
        orchestrator: false,
        created_at: 1,
        expires_at: Some(i64::MAX),
        used_at: None,
        revoked_at: None,
        server_name: None,
    };
    store::tokens::insert(&mut tx, &tok("h1", TokenKind::Registration))
        .await
        .expect("token");
    assert!(
        store::tokens::consume(&mut tx, "h1", 2)
            .await
            .expect("consume")
    );
    assert!(
        !store::tokens::consume(&mut tx, "h1", 3)
            .await
            .expect("consume")
    );
    assert_eq!(
        store::tokens::lookup(&mut tx, "h1")
            .await
            .expect("lookup")
            .and_then(|t| t.used_at),
        Some(2)
    );
    assert!(
        store::tokens::lookup(&mut tx, "nope")
            .await
            .expect("lookup")
            .is_none()
    );

    // Servers and sessions, heartbeats and staleness.
    let s = Server {
        id: Uuid::new_v4(),
        project_id: p.id,
        name: "srv".into(),
        status: ServerStatus::Offline,
        os: "linux".into(),
        hostname: "h".into(),
        repos: [("r".to_string(), "/r".to_string())].into_iter().collect(),
        languages: vec!["rust".into()],
        sessions: 0,
        last_heartbeat: None,
        revoked: false,
        created_at: 1,
    };
    store::servers::insert(&mut tx, &s).await.expect("server");
    assert!(
        store::servers::heartbeat(&mut tx, s.id, 100)
            .await
            .expect("hb"),
        "came online"
    );
    assert!(
        !store::servers::heartbeat(&mut tx, s.id, 200)
            .await
            .expect("hb")
    );
    assert!(
        store::servers::mark_stale_offline(&mut tx, 150)
            .await
            .expect("stale")
            .is_empty()
    );
    assert_eq!(
        store::servers::mark_stale_offline(&mut tx, 250)
            .await
            .expect("stale")
            .len(),
        1
    );
    let sess = Session {
        id: Uuid::new_v4(),
        name: "orc-abcdef".into(),
        server_id: s.id,
        server: "srv".into(),
        task_id: Some(b.id),
        task: Some("T2".into()),
        status: SessionStatus::Starting,
        pid: None,
        tmux: None,
        working_dir: Some("/r".into()),
        exit_code: None,
        state: SessionState::Starting,
        state_since: 7,
        waiting: false,
        conversation_id: None,
        started_at: 7,
        ended_at: None,
    };
    store::sessions::insert(&mut tx, &sess)
        .await
        .expect("session");
    assert!(
        store::sessions::set_active(&mut tx, sess.id, Some(42), Some("orc-abcdef"), true, 100)
            .await
            .expect("active")
    );
    // An agent that reports through hooks and has not is silent from when it became active.
    let silent = |cutoff: i64| {
        let id = sess.id;
        move |v: Vec<Session>| v.iter().any(|x| x.id == id) == (cutoff >= 100)
    };
    for cutoff in [99, 100] {
        let got = store::sessions::silent_since(&mut tx, cutoff)
            .await
            .expect("silent");
        assert!(silent(cutoff)(got), "cutoff {cutoff}");
    }
    assert!(
        store::sessions::set_state(&mut tx, sess.id, SessionState::Working, 200)
            .await
            .expect("state")
    );
    assert!(
        !store::sessions::set_state(&mut tx, sess.id, SessionState::Working, 300)
            .await
            .expect("same state"),
        "a state it has already is no change"
    );
    store::sessions::set_conversation(&mut tx, sess.id, "c-1")
        .await
        .expect("conversation");
    let got = store::sessions::by_name(&mut tx, "orc-abcdef")
        .await
        .expect("by name")
        .expect("found");
    assert_eq!(
        (
            got.state,
            got.state_since,
            got.conversation_id.as_deref(),
            got.waiting
        ),
        (SessionState::Working, 200, Some("c-1"), false)
    );
    assert!(
        store::sessions::silent_since(&mut tx, 1000)
            .await
            .expect("silent")
            .is_empty(),
        "a working agent is not silent"
    );

    // Messages for the agent: stored, found by what they deliver, taken once.
    let prompt = PromptRecord {
        message: AgentMessage {
            id: Uuid::new_v4(),
            session_id: sess.id,
            session: sess.name.clone(),
            text: "carry on".into(),
            kind: "answer".into(),
            taken: false,
            created_at: 5,
        },
        task_id: Some(b.id),
        ref_id: Some(Uuid::new_v4()),
    };
    store::prompts::insert(&mut tx, &prompt, "hub")
        .await
        .expect("prompt");
    let found = store::prompts::for_ref(&mut tx, prompt.ref_id.expect("ref"))
        .await
        .expect("for ref");
    assert_eq!(found.as_ref(), Some(&prompt));
    assert_eq!(
        store::prompts::untaken(&mut tx, sess.id)
            .await
            .expect("untaken")
            .len(),
        1
    );
    assert!(
        store::prompts::set_taken(&mut tx, prompt.message.id, 9)
            .await
            .expect("taken")
    );
    assert!(
        !store::prompts::set_taken(&mut tx, prompt.message.id, 10)
            .await
            .expect("twice")
    );
    assert!(
        store::prompts::untaken(&mut tx, sess.id)
            .await
            .expect("untaken")
            .is_empty()
    );

    // An answer reaches its asker once; asked again before that, it is the same question.
    let q = Uuid::new_v4();
    store::humans::insert_intervention(&mut tx, q, b.id, "JWT?", TaskStatus::Running, 10)
        .await
        .expect("question");
    let open = store::humans::open_intervention_for(&mut tx, b.id, "JWT?")
        .await
        .expect("open");
    assert_eq!(open.map(|o| o.intervention.id), Some(q));
    assert!(
        store::humans::answer_intervention(&mut tx, q, "yes", "admin", 20)
            .await
            .expect("answer")
    );
    let late = store::humans::undelivered_answers(&mut tx, 20)
        .await
        .expect("late");
    assert_eq!(
        late.iter().map(|l| l.intervention.id).collect::<Vec<_>>(),
        vec![q]
    );
    assert!(
        store::humans::undelivered_answers(&mut tx, 19)
            .await
            .expect("not yet")
            .is_empty()
    );
    assert!(
        store::humans::open_intervention_for(&mut tx, b.id, "JWT?")
            .await
            .expect("open")
            .is_some(),
        "answered but not delivered: asking again gets this answer"
    );
    assert!(
        store::humans::deliver_intervention(&mut tx, q, "caller", 30)
            .await
            .expect("deliver")
    );
    assert!(
        !store::humans::deliver_intervention(&mut tx, q, "prompt", 31)
            .await
            .expect("once")
    );
    let delivered = store::humans::intervention(&mut tx, q)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (
            delivered.intervention.delivered_at,
            delivered.intervention.delivered_via.as_deref()
        ),
        (Some(30), Some("caller"))
    );
    assert!(
        store::humans::open_intervention_for(&mut tx, b.id, "JWT?")
            .await
            .expect("open")
            .is_none(),
        "delivered: asking again is a new question"
    );
    let plan = Uuid::new_v4();
    store::humans::insert_plan(&mut tx, plan, b.id, "step 1", 40)
        .await
        .expect("plan");
    assert_eq!(
        store::humans::open_plan_for(&mut tx, b.id, "step 1")
            .await
            .expect("open plan")
            .map(|p| p.id),
        Some(plan)
    );
    assert!(
        store::humans::decide_plan(&mut tx, plan, PlanStatus::Approved, None, "admin", 50)
            .await
            .expect("decide")
    );
    assert_eq!(
        store::humans::undelivered_decisions(&mut tx, 60)
            .await
            .expect("late plans")
            .len(),
        1
    );
    assert!(
        store::humans::deliver_plan(&mut tx, plan, "prompt", 70)
            .await
            .expect("deliver plan")
    );
    assert!(
        store::humans::undelivered_decisions(&mut tx, 80)
            .await
            .expect("late plans")
            .is_empty()
    );
    assert_eq!(
        store::servers::get(&mut tx, s.id)
            .await
            .expect("get")
            .map(|s| s.sessions),
        Some(1)
    );
    let chunk = |seq: i64, d: &[u8]| Chunk {
        keyframe: false,
        session_id: sess.id,
        seq,
        data: d.to_vec(),
    };
    store::sessions::insert_chunks(&mut tx, &[chunk(1, b"a\x00\xff"), chunk(2, b"b")], 1)
        .await
        .expect("chunks");
    store::sessions::insert_chunks(&mut tx, &[chunk(2, b"dup"), chunk(3, b"c")], 1)
        .await
        .expect("chunks again");
    let got = store::sessions::chunks(&mut tx, sess.id, 0, 10)
        .await
        .expect("read");
    assert_eq!(
        got,
        vec![chunk(1, b"a\x00\xff"), chunk(2, b"b"), chunk(3, b"c")],
        "a replayed chunk is not stored twice"
    );

    // The recording's bound: the cut falls on a keyframe, so a replay starts on a clean screen.
    let keyframe = |seq: i64, d: &[u8]| Chunk {
        keyframe: true,
        ..chunk(seq, d)
    };
    store::sessions::insert_chunks(
        &mut tx,
        &[keyframe(3, b"KKKK"), chunk(4, b"dddd"), chunk(5, b"ee")],
        1,
    )
    .await
    .expect("more chunks");
    assert_eq!(
        store::sessions::stored_bytes(&mut tx, sess.id)
            .await
            .expect("bytes"),
        15
    );
    assert_eq!(
        store::sessions::trim(&mut tx, sess.id, 20)
            .await
            .expect("trim"),
        15,
        "under the bound nothing goes"
    );
    assert_eq!(
        store::sessions::trim(&mut tx, sess.id, 10)
            .await
            .expect("trim"),
        10,
        "over the bound the oldest go, up to the keyframe from which the rest fits"
    );
    let kept = store::sessions::chunks(&mut tx, sess.id, 0, 10)
        .await
        .expect("read");
    assert_eq!(
        kept,
        vec![keyframe(3, b"KKKK"), chunk(4, b"dddd"), chunk(5, b"ee")],
        "the replay starts with the keyframe"
    );
    assert_eq!(
        store::sessions::trim(&mut tx, sess.id, 3)
            .await
            .expect("trim"),
        10,
        "the last keyframe is never cut away"
    );
    assert_eq!(
        store::sessions::chunks(&mut tx, sess.id, 0, 10)
            .await
            .expect("read")
            .len(),
        3
    );
    assert!(
        store::sessions::set_ended(&mut tx, sess.id, Some(0), Some("bye"), 9)
            .await
            .expect("end")
    );
    assert!(
        !store::sessions::set_ended(&mut tx, sess.id, Some(0), None, 9)
            .await
            .expect("end")
    );
    assert_eq!(
        store::sessions::screen(&mut tx, sess.id)
            .await
            .expect("screen")
            .as_deref(),
        Some("bye")
    );

    // Events: ordered ids, filters, and the related task's timeline.
    let ev = |kind, task: Uuid, related: Option<Uuid>| NewEvent {
        kind,
        actor: "hub".into(),
        project_id: Some(p.id),
        task_id: Some(task),
        related_task_id: related,
        server_id: None,
        session_id: None,
        details: json!({"k": "v"}),
    };
    let many: Vec<NewEvent> = (0..450)
        .map(|_| ev(EventKind::TaskNoteAdded, a.id, None))
        .collect();
    let written = store::events::insert(&mut tx, many, 50)
        .await
        .expect("events");
    assert!(
        written.windows(2).all(|w| w[0].id < w[1].id),
        "ids grow in order, across batches"
    );
    store::events::insert(
        &mut tx,
        vec![ev(EventKind::TaskUnblocked, a.id, Some(b.id))],
        51,
    )
    .await
    .expect("event");
    let of_b = store::events::of_task(&mut tx, b.id).await.expect("of b");
    assert_eq!(
        of_b.iter().map(|e| e.event).collect::<Vec<_>>(),
        vec![EventKind::TaskUnblocked]
    );
    tx.commit().await.expect("commit");
    // Pages are read once committed (on PostgreSQL, once no older transaction is in flight,
    // in any database of the server: other tests' transactions may hold it back a moment).
    let mut c = store.read().await.expect("read");
    let mut filtered = Vec::new();
    for _ in 0..100 {
        filtered = store::events::list(
            &mut c,
            &EventFilter {
                after: 0,
                tasks: vec![b.id],
                project: Some(p.id),
                kinds: vec![EventKind::TaskUnblocked],
                limit: 10,
            },
        )
        .await
        .expect("list");
        if !filtered.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(filtered.len(), 1);
    assert_eq!(
        store::events::last_id(&mut c).await.expect("last"),
        filtered[0].id
    );
    assert_eq!(
        store::events::head(&mut c).await.expect("head"),
        filtered[0].id
    );
    drop(c);

    // A dropped transaction leaves nothing behind.
    {
        let mut tx = store.write().await.expect("tx");
        store::tasks::insert(&mut tx, &task(p.id, 3, "rolled back"))
            .await
            .expect("insert");
    }
    let mut c = store.read().await.expect("read");
    assert_eq!(
        store::tasks::list(&mut c, Some(p.id), &[], None)
            .await
            .expect("list")
            .len(),
        2
    );
}

/// Replicas and leases: a lease has one holder until it runs out, its holder renews it, and
/// the next taker gets it once it expired; a replica's report lists it alive, then not.
async fn leases_and_replicas(store: &Store) {
    use orchestratia_hub::store::replicas::{self, ReplicaReport};
    let mut c = store.read().await.expect("read");
    let t = 1_000_000;
    assert!(
        replicas::take_lease(&mut c, "monitor", "a", t, 6_000)
            .await
            .expect("a takes")
    );
    assert!(
        !replicas::take_lease(&mut c, "monitor", "b", t + 1_000, 6_000)
            .await
            .expect("b waits")
    );
    assert!(
        replicas::take_lease(&mut c, "monitor", "a", t + 5_000, 6_000)
            .await
            .expect("a renews")
    );
    assert!(
        !replicas::take_lease(&mut c, "monitor", "b", t + 10_000, 6_000)
            .await
            .expect("renewed"),
        "a renewal moves the expiry on"
    );
    assert!(
        replicas::take_lease(&mut c, "monitor", "b", t + 11_001, 6_000)
            .await
            .expect("b takes")
    );
    assert_eq!(
        replicas::lease_holder(&mut c, "monitor", t + 11_002)
            .await
            .expect("holder")
            .as_deref(),
        Some("b")
    );
    replicas::release_lease(&mut c, "monitor", "a")
        .await
        .expect("not a's");
    assert!(
        replicas::lease_holder(&mut c, "monitor", t + 11_002)
            .await
            .expect("holder")
            .is_some()
    );
    replicas::release_lease(&mut c, "monitor", "b")
        .await
        .expect("b lets go");
    assert!(
        replicas::take_lease(&mut c, "monitor", "a", t + 11_003, 6_000)
            .await
            .expect("free")
    );

    let r = ReplicaReport {
        id: "r1".into(),
        url: "http://r1".into(),
        daemons: 3,
        consoles: 1,
        heartbeat_p99_us: Some(250),
    };
    replicas::report(&mut c, &r, true, t).await.expect("report");
    let listed = replicas::list(&mut c, t + 1_000, 60_000)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].alive && listed[0].daemons == 3 && listed[0].heartbeat_p99_us == Some(250));
    let later = replicas::list(&mut c, t + 30_000, 60_000)
        .await
        .expect("list");
    assert!(!later[0].alive, "silent for 29 s: not alive");
    assert!(
        replicas::list(&mut c, t + 70_000, 60_000)
            .await
            .expect("list")
            .is_empty()
    );
}

/// Concurrent writers: each commit is durable and visible when it returns; an operation that
/// fails rolls back alone, whatever else shares its commit.
async fn concurrent_writes(store: Store) {
    let mut handles = Vec::new();
    for i in 0..40i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut tx = store.write().await.expect("tx");
            let p = Project {
                id: Uuid::new_v4(),
                name: format!("c{i}"),
                budget: None,
                usage: None,
                created_at: i,
            };
            store::projects::insert(&mut tx, &p).await.expect("insert");
            tokio::task::yield_now().await;
            if i % 5 == 0 {
                drop(tx);
                return None;
            }
            tx.commit().await.expect("commit");
            // Read-your-writes from another connection, right after the commit returns.
            let mut c = store.read().await.expect("read");
            assert!(
                store::projects::get(&mut c, p.id)
                    .await
                    .expect("get")
                    .is_some(),
                "committed c{i} is visible"
            );
            Some(p.id)
        }));
    }
    let mut committed = 0;
    for h in handles {
        if h.await.expect("join").is_some() {
            committed += 1;
        }
    }
    let mut c = store.read().await.expect("read");
    let names: Vec<String> = store::projects::list(&mut c)
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .filter(|n| n.starts_with('c'))
        .collect();
    assert_eq!(names.len(), committed);
    assert!(
        names
            .iter()
            .all(|n| n[1..].parse::<i64>().is_ok_and(|i| i % 5 != 0)),
        "{names:?}"
    );
    // A writer left nothing open: a lone write still works.
    let mut tx = store.write().await.expect("tx");
    store::projects::insert(
        &mut tx,
        &Project {
            id: Uuid::new_v4(),
            name: "after".into(),
            budget: None,
            usage: None,
            created_at: 0,
        },
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writes() {
    let dir = tempfile::tempdir().expect("dir");
    concurrent_writes(
        Store::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
            .await
            .expect("open"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_writes() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = Store::open(&db.url).await.expect("open");
    concurrent_writes(store.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/hub.db").display()
    );
    let store = Store::open(&url).await.expect("open");
    leases_and_replicas(&store).await;
    suite(store).await;
    // Migrations are idempotent: opening again works and keeps the data.
    let again = Store::open(&url).await.expect("reopen");
    let mut c = again.read().await.expect("read");
    assert_eq!(
        store::projects::list(&mut c).await.expect("projects").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = Store::open(&db.url).await.expect("open");
    leases_and_replicas(&store).await;
    suite(store).await;
    let again = Store::open(&db.url).await.expect("reopen");
    let mut c = again.read().await.expect("read");
    assert_eq!(
        store::projects::list(&mut c).await.expect("projects").len(),
        1
    );
    drop(c);
    again.close().await;
}
