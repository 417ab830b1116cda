//! The frame around the views: the help box, the hub banner, tabs and rows under the mouse.

use super::*;

#[test]
fn help_and_the_hub_banner() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('?')));
    a.on_msg(Msg::Disconnected("connection refused".into()));
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("help_offline_80x24", t.backend());
}

#[test]
fn the_header_names_the_replica_the_link_talks_to() {
    let mut a = app();
    let first = |a: &App| {
        text(&render(a, 100, 24))
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    // A single hub: no replica named.
    assert!(first(&a).trim_end().ends_with("● live"), "{}", first(&a));
    a.on_msg(Msg::Replica(Some("r1".into())));
    assert!(first(&a).contains("● live · r1"), "{}", first(&a));
    // Offline: the replica is not claimed; after a failover the new one is named.
    a.on_msg(Msg::Disconnected("connection reset".into()));
    assert!(!first(&a).contains("r1"), "{}", first(&a));
    a.on_msg(Msg::Replica(Some("r2\u{1b}[2J".into())));
    a.on_msg(Msg::Connected);
    let line = first(&a);
    assert!(
        line.contains("● live · r2") && !line.contains('\u{1b}'),
        "{line}"
    );
}

#[test]
fn the_mouse_switches_tabs_selects_rows_and_scrolls() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mouse = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let mut a = app();
    // " 1 Servers  2 Tasks …": column 13 is inside " 2 Tasks ".
    a.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 13, 0));
    assert_eq!(a.view, View::Tasks);
    // The third task row (tabs, title, header, then rows).
    a.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 5, 5));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::OpenTask {
            task: Uuid::parse_str(&id(3)).expect("uuid")
        }]
    );
    a.on_key(key(KeyCode::Esc));
    a.on_mouse(mouse(MouseEventKind::ScrollDown, 5, 5));
    assert_eq!(a.selected[1], 3, "the wheel moves the selection");

    // In the Sessions view the wheel scrolls the focused screen's history.
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    let lines: String = (1..=60).map(|i| format!("line {i}\r\n")).collect();
    a.on_msg(Msg::Frame(Frame {
        kind: FrameKind::Keyframe,
        session_id: s,
        seq: 1,
        data: lines.into_bytes(),
    }));
    a.on_mouse(mouse(MouseEventKind::ScrollUp, 40, 10));
    assert_eq!(a.screens.get(&s).map(|sc| sc.scrollback()), Some(3));
    a.on_mouse(mouse(MouseEventKind::ScrollDown, 40, 10));
    assert_eq!(a.screens.get(&s).map(|sc| sc.scrollback()), Some(0));
}
