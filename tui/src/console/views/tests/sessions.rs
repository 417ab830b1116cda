//! The Sessions view: the focused screen, moving the focus, reconnects, scrollback and messages.

use super::*;

#[test]
fn sessions_view_draws_the_focused_screen_from_keyframe_and_chunks() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        let actions = a.on_key(key(KeyCode::Char('4')));
        // Focusing a session subscribes to it and sizes it to the console.
        let Some(Action::Watch { session, .. }) = actions.first().cloned() else {
            panic!("no watch action: {actions:?}");
        };
        render(&a, w, h);
        if let Some((c, r)) = super::super::session_area(&a, Rect::new(0, 0, w, h)) {
            a.set_session_area(c, r);
        }
        let frame = |kind, seq, data: &str| {
            Msg::Frame(Frame {
                kind,
                session_id: session,
                seq,
                data: data.as_bytes().to_vec(),
            })
        };
        a.on_msg(frame(
            FrameKind::Output,
            3,
            "before the keyframe: never drawn",
        ));
        a.on_msg(frame(
            FrameKind::Keyframe,
            3,
            "\x1b[H\x1b[2J$ cargo build\r\n   Compiling gateway v0.1.0\r\n",
        ));
        a.on_msg(frame(
            FrameKind::Output,
            4,
            "    Finished dev profile\r\n$ ",
        ));
        a.on_msg(Msg::Hub(
            orchestratia_proto::ws::HubToConsole::SessionScreen {
                session_id: Uuid::parse_str(&id(104)).expect("uuid"),
                task_id: None,
                lines: vec!["asking: Currency symbol or ISO code?".into()],
                cols: 80,
                rows: 24,
            },
        ));
        let t = render(&a, w, h);
        insta::assert_snapshot!(format!("sessions_{w}x{h}"), t.backend());
    }
}

#[test]
fn j_and_k_move_the_focus_between_sessions() {
    let mut a = app();
    let first = a.on_key(key(KeyCode::Char('4')));
    let Some(Action::Watch { session: s1, .. }) = first.first().cloned() else {
        panic!("no watch: {first:?}");
    };
    let next = a.on_key(key(KeyCode::Char('j')));
    let Some(Action::Watch {
        session: s2,
        previous,
    }) = next.first().cloned()
    else {
        panic!("no watch: {next:?}");
    };
    assert_ne!(s1, s2);
    assert_eq!(previous, Some(s1), "the previous stream is dropped");
    assert_eq!(a.focused, Some(s2));
    // Down to the ended session: it is replayed from its recording, not streamed.
    a.on_key(key(KeyCode::Char('G')));
    let ended = Uuid::parse_str(&id(101)).expect("uuid");
    assert_eq!(a.focused, Some(ended));
}

#[test]
fn a_reconnect_resumes_the_focused_stream_from_a_keyframe() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    a.on_msg(Msg::Disconnected("connection reset".into()));
    assert_eq!(a.model.connected, Some(false));
    let actions = a.on_msg(Msg::Connected);
    assert!(
        matches!(actions.first(), Some(Action::Watch { session, .. }) if *session == s),
        "{actions:?}"
    );
    assert!(
        a.screens.get(&s).is_some_and(|sc| !sc.synced),
        "the screen waits for the new keyframe"
    );
}

#[test]
fn scrolling_back_a_live_session_reads_its_whole_recording() {
    use base64::Engine;
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    a.on_msg(Msg::Frame(Frame {
        kind: FrameKind::Keyframe,
        session_id: s,
        seq: 200,
        data: b"\x1b[H\x1b[2Jnow".to_vec(),
    }));
    // The live screen holds no history yet: the first PgUp asks for the recording.
    assert_eq!(
        a.on_key(key(KeyCode::PageUp)),
        vec![Action::History { session: s }]
    );
    assert!(a.on_key(key(KeyCode::PageUp)).is_empty(), "asked once");
    let lines: String = (1..=200).map(|i| format!("old line {i}\r\n")).collect();
    let chunk = orchestratia_proto::api::RecordingChunk {
        seq: 1,
        keyframe: false,
        data: base64::engine::general_purpose::STANDARD.encode(lines),
        at: 0,
    };
    a.on_msg(Msg::Recording(s, vec![chunk]));
    let sc = a.screens.get(&s).expect("screen");
    assert!(sc.history.is_some());
    assert!(sc.scrollback() > 0);
    assert!(
        sc.view().contents().contains("old line"),
        "{}",
        sc.view().contents()
    );
    // Back down to the bottom: the live screen again.
    for _ in 0..10 {
        a.on_key(key(KeyCode::PageDown));
    }
    let sc = a.screens.get(&s).expect("screen");
    assert!(sc.history.is_none());
    assert_eq!(sc.view().contents(), "now");
}

#[test]
fn an_idle_agent_takes_a_message_and_a_busy_one_says_why_not() {
    use orchestratia_proto::SessionState;
    use orchestratia_proto::ws::HubToConsole;
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    // The newest session (T4) waits for a permission: no message for it.
    let t4 = Uuid::parse_str(&id(104)).expect("uuid");
    assert_eq!(a.focused, Some(t4));
    assert!(a.on_key(key(KeyCode::Char('m'))).is_empty());
    assert!(a.prompt().is_none());
    let why = a.status.clone().unwrap_or_default();
    assert!(
        why.contains("waiting_permission") && why.contains("idle"),
        "{why}"
    );
    // Its hooks say it finished its turn: the console socket carries the new state.
    a.on_msg(Msg::Hub(HubToConsole::SessionState {
        session_id: t4,
        task_id: None,
        state: SessionState::Idle,
    }));
    assert_eq!(
        a.model
            .snap
            .sessions
            .iter()
            .find(|s| s.id == t4)
            .map(|s| s.state),
        Some(SessionState::Idle)
    );
    a.on_key(key(KeyCode::Char('m')));
    assert!(a.prompt().is_some(), "a prompt for the message");
    for c in "go on".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    let sent = a.on_key(key(KeyCode::Enter));
    assert_eq!(
        sent,
        vec![Action::SendMessage {
            session: t4,
            name: "orc-000004".into(),
            text: "go on".into()
        }]
    );
}
