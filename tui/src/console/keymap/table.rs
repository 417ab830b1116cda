//! The rows of the key table, in the order the help box lists them within a section. The
//! footer orders its items by their `pos`.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{Binding, EVERYWHERE, HELP_POS, Key, Place, QUIT_POS, Section, VIEWS, hint};
use crate::console::app::{Action, DiffFocus, Mode, PAGE, View};

use Key::{Char, Code, Ctrl};
use Place as P;

/// Every key the console takes, and the mouse.
pub static KEYS: &[Binding] = &[
    Binding {
        keys: &[
            Char('1'),
            Char('2'),
            Char('3'),
            Char('4'),
            Char('5'),
            Code(KeyCode::Tab),
            Code(KeyCode::BackTab),
        ],
        places: VIEWS,
        run: Some(|app, key| {
            let next = match key.code {
                KeyCode::Char(c) => (c as usize).wrapping_sub('1' as usize),
                KeyCode::Tab => (app.view.index() + 1) % 5,
                _ => (app.view.index() + 4) % 5,
            };
            View::ALL
                .get(next)
                .map_or_else(Vec::new, |v| app.switch(*v))
        }),
        footer: &[
            hint(P::Servers, 0, "1-5/Tab views"),
            hint(P::Graph, 4, "1-5/Tab views"),
        ],
        help: &[
            (
                Section::Views,
                "1 Servers 2 Tasks 3 Graph 4 Sessions 5 Inbox",
            ),
            (Section::Views, "Tab/Shift-Tab"),
        ],
    },
    Binding {
        keys: &[Code(KeyCode::Down), Char('j'), Code(KeyCode::Up), Char('k')],
        places: &[P::Servers, P::Tasks, P::Graph, P::Sessions, P::Inbox],
        run: Some(|app, key| app.move_by(if down(key) { 1 } else { -1 })),
        footer: &[
            hint(P::Servers, 1, "j/k move"),
            hint(P::Graph, 0, "j/k select"),
            hint(P::Sessions, 0, "j/k focus"),
        ],
        help: &[
            (Section::Move, "j/k or ↓/↑"),
            (Section::Sessions, "j/k focus"),
        ],
    },
    Binding {
        keys: &[
            Code(KeyCode::Home),
            Char('g'),
            Code(KeyCode::End),
            Char('G'),
        ],
        places: VIEWS,
        run: Some(|app, key| {
            let last = matches!(key.code, KeyCode::End | KeyCode::Char('G'));
            app.set_sel(if last {
                app.rows().saturating_sub(1)
            } else {
                0
            });
            app.after_move()
        }),
        footer: &[],
        help: &[(Section::Move, "g/G first/last")],
    },
    Binding {
        keys: &[Char('/')],
        places: &[P::Tasks, P::TaskOpen],
        run: Some(|app, _| app.filter_prompt()),
        footer: &[hint(P::Tasks, 1, "/ filter")],
        help: &[(Section::Tasks, "/ filter by status (empty clears)")],
    },
    // The open task's detail names these keys in its title.
    Binding {
        keys: &[
            Code(KeyCode::Down),
            Char('j'),
            Code(KeyCode::PageDown),
            Code(KeyCode::PageUp),
            Code(KeyCode::Up),
            Char('k'),
        ],
        places: &[P::TaskOpen],
        run: Some(|app, key| {
            app.scroll_task(match key.code {
                KeyCode::PageDown => 10,
                KeyCode::PageUp => -10,
                _ if down(key) => 1,
                _ => -1,
            })
        }),
        footer: &[],
        help: &[],
    },
    Binding {
        keys: &[Code(KeyCode::Enter)],
        places: VIEWS,
        run: Some(|app, _| app.on_enter()),
        footer: &[
            hint(P::Tasks, 0, "Enter open"),
            hint(P::Graph, 1, "Enter open"),
            hint(P::Sessions, 1, "Enter attach"),
            hint(P::Inbox, 5, "Enter task"),
        ],
        help: &[
            (Section::Move, "Enter open"),
            (Section::Tasks, "Enter: spec, deps, timeline"),
            (Section::Sessions, "Enter attach keys"),
        ],
    },
    Binding {
        keys: &[Code(KeyCode::Esc)],
        places: VIEWS,
        run: Some(|app, _| {
            app.task_open = None;
            app.task_view = None;
            app.status = None;
            Vec::new()
        }),
        footer: &[hint(P::TaskOpen, 0, "Esc back")],
        help: &[(Section::Move, "Esc back")],
    },
    Binding {
        keys: &[Ctrl(']'), Ctrl('5')],
        places: &[P::Attached],
        run: Some(|app, _| {
            app.mode = Mode::Normal;
            app.status = Some("detached".into());
            Vec::new()
        }),
        footer: &[hint(P::Attached, 1, "Ctrl-] detach")],
        help: &[(Section::Sessions, "Ctrl-] detach")],
    },
    Binding {
        keys: &[Code(KeyCode::PageUp), Code(KeyCode::PageDown)],
        places: &[P::Sessions],
        run: Some(|app, key| app.scroll(key.code == KeyCode::PageUp)),
        footer: &[hint(P::Sessions, 3, "PgUp/PgDn scroll")],
        help: &[(Section::Sessions, "PgUp/PgDn scroll")],
    },
    Binding {
        keys: &[Char('m')],
        places: &[P::Sessions],
        run: Some(|app, _| app.message_prompt()),
        footer: &[hint(P::Sessions, 2, "m message")],
        help: &[(
            Section::SessionsMore,
            "m message an idle agent (type, Enter submits it as its prompt)",
        )],
    },
    Binding {
        keys: &[
            Char('a'),
            Char('r'),
            Char('y'),
            Char('s'),
            Char('n'),
            Char('i'),
        ],
        places: VIEWS,
        run: Some(|app, key| match key.code {
            KeyCode::Char(c) => app.decide(c),
            _ => Vec::new(),
        }),
        footer: &[
            hint(P::Tasks, 4, "a/r/y/n/i decide"),
            hint(P::TaskOpen, 1, "a/r plan"),
            hint(P::TaskOpen, 2, "y/s/n permission"),
            hint(P::TaskOpen, 3, "i answer"),
            hint(P::Inbox, 0, "a/r plan"),
            hint(P::Inbox, 2, "i answer"),
        ],
        help: &[
            (Section::Plans, "a approve"),
            (Section::Plans, "r reject (type the feedback, Enter sends)"),
            (Section::Permission, "y allow once"),
            (Section::Permission, "s allow for its session"),
            (Section::Permission, "n deny"),
            (
                Section::Questions,
                "i answer (type, Enter sends) — in the Inbox or on a task",
            ),
        ],
    },
    // The Inbox's rule decisions: they open a prompt holding the suggested rule.
    Binding {
        keys: &[Char('A'), Char('N')],
        places: &[P::Inbox],
        run: Some(|app, key| match key.code {
            KeyCode::Char(c) => app.decide(c),
            _ => Vec::new(),
        }),
        footer: &[hint(P::Inbox, 1, "y/s/A allow · n/N deny")],
        help: &[
            (Section::PermissionMore, "A allow always · N deny always"),
            (Section::PermissionMore, "in the Inbox: edit, Enter saves"),
        ],
    },
    Binding {
        keys: &[Char('c')],
        places: VIEWS,
        run: Some(|app, _| app.create_form()),
        footer: &[hint(P::Tasks, 2, "c create"), hint(P::Graph, 2, "c create")],
        help: &[(Section::Work, "c create a task")],
    },
    // `A` in the Inbox allows a permission always (above).
    Binding {
        keys: &[Char('A')],
        places: &[P::Servers, P::Tasks, P::TaskOpen, P::Graph, P::Sessions],
        run: Some(|app, _| app.assign_picker()),
        footer: &[hint(P::Tasks, 3, "A assign"), hint(P::Graph, 3, "A assign")],
        help: &[(Section::Work, "A assign the selected task (servers ranked)")],
    },
    // A task's diff: `d` opens it, then its own keys (`app::review`).
    Binding {
        keys: &[Char('d')],
        places: &[P::Tasks, P::TaskOpen],
        run: Some(|app, _| app.open_diff()),
        footer: &[hint(P::Tasks, 0, "d diff"), hint(P::TaskOpen, 0, "d diff")],
        help: &[(Section::Review, "d diff")],
    },
    Binding {
        keys: &[Code(KeyCode::Esc)],
        places: &[P::Diff],
        run: Some(|app, _| {
            app.diff = None;
            app.status = None;
            Vec::new()
        }),
        footer: &[hint(P::Diff, 0, "Esc back")],
        help: &[],
    },
    Binding {
        keys: &[Code(KeyCode::Tab), Code(KeyCode::BackTab)],
        places: &[P::Diff],
        run: Some(|app, _| {
            if let Some(d) = app.diff.as_mut() {
                d.focus = match d.focus {
                    DiffFocus::Files => DiffFocus::Diff,
                    DiffFocus::Diff => DiffFocus::Files,
                };
            }
            Vec::new()
        }),
        footer: &[hint(P::Diff, 6, "Tab files/diff")],
        help: &[(Section::Review, "Tab files/diff")],
    },
    Binding {
        keys: &[Code(KeyCode::Enter)],
        places: &[P::Diff],
        run: Some(|app, _| {
            if let Some(d) = app.diff.as_mut() {
                d.jump();
            }
            Vec::new()
        }),
        footer: &[hint(P::Diff, 7, "Enter go to file")],
        help: &[(Section::Review, "Enter go to file")],
    },
    Binding {
        keys: &[
            Code(KeyCode::Down),
            Char('j'),
            Code(KeyCode::PageDown),
            Code(KeyCode::Up),
            Char('k'),
            Code(KeyCode::PageUp),
        ],
        places: &[P::Diff],
        run: Some(|app, key| {
            let page = matches!(key.code, KeyCode::PageUp | KeyCode::PageDown);
            let d = if page { PAGE } else { 1 };
            if let Some(v) = app.diff.as_mut() {
                v.move_by(if down(key) { d } else { -d });
            }
            Vec::new()
        }),
        footer: &[],
        help: &[(Section::Review, "j/k PgUp/PgDn")],
    },
    Binding {
        keys: &[
            Code(KeyCode::Home),
            Char('g'),
            Code(KeyCode::End),
            Char('G'),
        ],
        places: &[P::Diff],
        run: Some(|app, key| {
            let last = matches!(key.code, KeyCode::End | KeyCode::Char('G'));
            if let Some(v) = app.diff.as_mut() {
                v.move_by(if last { i64::MAX / 2 } else { i64::MIN / 2 });
            }
            Vec::new()
        }),
        footer: &[],
        help: &[(Section::Review, "g/G")],
    },
    Binding {
        keys: &[Char('m')],
        places: &[P::Diff],
        run: Some(|app, _| app.confirm_merge()),
        footer: &[hint(P::Diff, 1, "m merge")],
        help: &[(Section::ReviewMore, "m merge")],
    },
    Binding {
        keys: &[Char('K')],
        places: &[P::Diff],
        run: Some(|app, _| app.keep()),
        footer: &[hint(P::Diff, 2, "K keep")],
        help: &[(Section::ReviewMore, "K keep")],
    },
    Binding {
        keys: &[Char('X')],
        places: &[P::Diff],
        run: Some(|app, _| app.confirm_discard()),
        footer: &[hint(P::Diff, 3, "X discard")],
        help: &[(Section::ReviewMore, "X discard")],
    },
    Binding {
        keys: &[Char('c')],
        places: &[P::Diff],
        run: Some(|app, _| app.comment_prompt()),
        footer: &[hint(P::Diff, 4, "c comment")],
        help: &[(Section::ReviewMore, "c comment on the line")],
    },
    Binding {
        keys: &[Char('r')],
        places: &[P::Diff],
        run: Some(|app, _| app.reload_diff()),
        footer: &[hint(P::Diff, 5, "r reload")],
        help: &[(Section::ReviewMore, "r reload")],
    },
    // The mouse, which `App::on_mouse` handles: named in the help only.
    Binding {
        keys: &[],
        places: &[],
        run: None,
        footer: &[],
        help: &[
            (Section::Mouse, "click a tab or a row"),
            (Section::Mouse, "the wheel scrolls or moves the selection"),
        ],
    },
    Binding {
        keys: &[Char('?')],
        places: EVERYWHERE,
        run: Some(|app, _| {
            app.mode = Mode::Help;
            Vec::new()
        }),
        footer: &[
            hint(P::Servers, HELP_POS, "? help"),
            hint(P::TaskOpen, HELP_POS, "? help"),
            hint(P::Tasks, HELP_POS, "? help"),
            hint(P::Graph, HELP_POS, "? help"),
            hint(P::Sessions, HELP_POS, "? help"),
            hint(P::Inbox, HELP_POS, "? help"),
            hint(P::Diff, HELP_POS, "? help"),
        ],
        help: &[(Section::Console, "? this help")],
    },
    Binding {
        keys: &[Ctrl('c'), Char('q')],
        places: EVERYWHERE,
        run: Some(|app, _| {
            app.quit = true;
            vec![Action::Quit]
        }),
        footer: &[
            hint(P::Servers, QUIT_POS, "q quit"),
            hint(P::TaskOpen, QUIT_POS, "q quit"),
            hint(P::Tasks, QUIT_POS, "q quit"),
            hint(P::Graph, QUIT_POS, "q quit"),
            hint(P::Sessions, QUIT_POS, "q quit"),
            hint(P::Inbox, QUIT_POS, "q quit"),
        ],
        help: &[(Section::Console, "q quit (Ctrl-C too)")],
    },
    // The dialogs' own keys (`App::on_prompt_key`, `TaskForm::on_key`,
    // `AssignPicker::on_key`, `App::on_attached_key`).
    Binding {
        keys: &[],
        places: &[P::Attached],
        run: None,
        footer: &[hint(
            P::Attached,
            0,
            "attached to the session: keys go to it",
        )],
        help: &[],
    },
    Binding {
        keys: &[Code(KeyCode::Tab)],
        places: &[P::Form],
        run: None,
        footer: &[hint(P::Form, 0, "Tab next field")],
        help: &[],
    },
    Binding {
        keys: &[Char('j'), Char('k')],
        places: &[P::Picker],
        run: None,
        footer: &[hint(P::Picker, 0, "j/k choose a server")],
        help: &[],
    },
    Binding {
        keys: &[Code(KeyCode::Enter)],
        places: &[P::Prompt, P::Form, P::Picker],
        run: None,
        footer: &[
            hint(P::Prompt, 0, "Enter send"),
            hint(P::Form, 1, "Enter create"),
            hint(P::Picker, 1, "Enter assign"),
        ],
        help: &[],
    },
    Binding {
        keys: &[Code(KeyCode::Esc)],
        places: &[P::Prompt, P::Form, P::Picker],
        run: None,
        footer: &[
            hint(P::Prompt, 1, "Esc cancel"),
            hint(P::Form, 2, "Esc cancel"),
            hint(P::Picker, 2, "Esc cancel"),
        ],
        help: &[],
    },
    Binding {
        keys: &[Char('y'), Char('n'), Code(KeyCode::Esc)],
        places: &[P::Confirm],
        run: None,
        footer: &[hint(P::Confirm, 0, "y yes · n/Esc no")],
        help: &[],
    },
    Binding {
        keys: &[Ctrl('u')],
        places: &[P::Prompt],
        run: None,
        footer: &[hint(P::Prompt, 2, "Ctrl-U clear")],
        help: &[],
    },
];

/// Whether a movement key goes down (the rest go up).
fn down(key: KeyEvent) -> bool {
    matches!(
        key.code,
        KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown
    )
}
