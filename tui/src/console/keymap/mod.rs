//! The one key table. Each row is a command: the keys that run it, the places (views and
//! modes) where it applies, what it does, and how the footer and the help box name it.
//! `App::on_key` looks keys up here, the footer and the help are drawn from it, so a key is
//! described where it is handled and nowhere else.
//!
//! Rows without `run` are keys a dialog handles itself (the prompt, the create form, the
//! assign picker, typing into an attached session): the table only names them. The help box
//! lists each section's items in table order (`table.rs`); a footer lists its place's items
//! by their `pos`, as the footers were written by hand before.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod table;

use super::app::{Action, App, Mode, View};
pub use table::KEYS;

/// Where keys apply: a view (the Tasks view with a task open is its own place) or a mode
/// that has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Servers,
    Tasks,
    /// The Tasks view with one task open.
    TaskOpen,
    /// A task's diff (`d`), over the Tasks view.
    Diff,
    Graph,
    Sessions,
    Inbox,
    /// Keys go to the focused session.
    Attached,
    Prompt,
    Form,
    Picker,
    /// A `y`/`n` question before a merge or a discard.
    Confirm,
}

/// Every place the views have the keys.
const VIEWS: &[Place] = &[
    Place::Servers,
    Place::Tasks,
    Place::TaskOpen,
    Place::Graph,
    Place::Sessions,
    Place::Inbox,
];

/// The views' places and the diff view: where help and quit apply.
const EVERYWHERE: &[Place] = &[
    Place::Servers,
    Place::Tasks,
    Place::TaskOpen,
    Place::Graph,
    Place::Sessions,
    Place::Inbox,
    Place::Diff,
];

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// This character, whatever the modifiers.
    Char(char),
    /// This character with Ctrl (it wins over the bare character).
    Ctrl(char),
    /// This key, whatever the modifiers.
    Code(KeyCode),
}

impl Key {
    fn matches(self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Char(c) => key.code == KeyCode::Char(c),
            Key::Ctrl(c) => ctrl && key.code == KeyCode::Char(c),
            Key::Code(code) => key.code == code,
        }
    }
}

/// The help box's sections, in order; each is one line (`PermissionMore` continues
/// Permission, `ReviewMore` Review, `SessionsMore` Sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Views,
    Move,
    Tasks,
    Plans,
    Permission,
    PermissionMore,
    Questions,
    Work,
    Review,
    ReviewMore,
    Sessions,
    SessionsMore,
    Mouse,
    Console,
}

impl Section {
    const ALL: [Section; 14] = [
        Section::Views,
        Section::Move,
        Section::Tasks,
        Section::Plans,
        Section::Permission,
        Section::PermissionMore,
        Section::Questions,
        Section::Work,
        Section::Review,
        Section::ReviewMore,
        Section::Sessions,
        Section::SessionsMore,
        Section::Mouse,
        Section::Console,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Views => "Views",
            Section::Move => "Move",
            Section::Tasks => "Tasks",
            Section::Plans => "Plans",
            Section::Permission => "Permission",
            Section::PermissionMore => "",
            Section::Questions => "Questions",
            Section::Work => "Work",
            Section::Review => "Review",
            Section::ReviewMore => "",
            Section::Sessions => "Sessions",
            Section::SessionsMore => "",
            Section::Mouse => "Mouse",
            Section::Console => "Console",
        }
    }
}

/// A footer item: in this place, at this position, these words.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    /// The footer it is in.
    pub at: Place,
    /// Its position there (lower first).
    pub pos: u8,
    /// Its words ("j/k move").
    pub text: &'static str,
}

const fn hint(at: Place, pos: u8, text: &'static str) -> Hint {
    Hint { at, pos, text }
}

/// Where "? help" and "q quit" go in a footer: last.
const HELP_POS: u8 = 90;
const QUIT_POS: u8 = 99;

/// What a key does to the app.
pub type Run = fn(&mut App, KeyEvent) -> Vec<Action>;

/// One row of the table.
#[derive(Debug)]
pub struct Binding {
    /// The keys (none for the mouse, or for "every other key" of an attached session).
    pub keys: &'static [Key],
    /// Where the keys do this.
    pub places: &'static [Place],
    /// What they do; `None`: the dialog that has the keys handles them.
    pub run: Option<Run>,
    /// The footer's words for them, per place.
    pub footer: &'static [Hint],
    /// The help box's words for them, per section.
    pub help: &'static [(Section, &'static str)],
}

/// What `key` runs in `place`: a Ctrl chord before the bare character.
pub fn command(place: Place, key: KeyEvent) -> Option<Run> {
    let here = || {
        KEYS.iter()
            .filter(|b| b.places.contains(&place))
            .filter_map(|b| b.run.map(|run| (b.keys, run)))
    };
    let chord = here().find(|(keys, _)| {
        keys.iter()
            .any(|k| matches!(k, Key::Ctrl(_)) && k.matches(key))
    });
    chord
        .or_else(|| here().find(|(keys, _)| keys.iter().any(|k| k.matches(key))))
        .map(|(_, run)| run)
}

/// The footer's line of keys for `place`.
pub fn footer(place: Place) -> String {
    let mut hints: Vec<&Hint> = KEYS
        .iter()
        .flat_map(|b| b.footer)
        .filter(|h| h.at == place)
        .collect();
    hints.sort_by_key(|h| h.pos);
    hints.iter().map(|h| h.text).collect::<Vec<_>>().join(" · ")
}

/// The help box's text: a line per section, its keys in table order.
pub fn help() -> String {
    Section::ALL
        .iter()
        .map(|s| {
            let items: Vec<&str> = KEYS
                .iter()
                .flat_map(|b| b.help)
                .filter(|(at, _)| at == s)
                .map(|(_, text)| *text)
                .collect();
            format!("{:<11}{}", s.label(), items.join(" · "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl App {
    /// Where the keys are: the mode that has them, or the view (the help box shows over the
    /// view, whose footer stays).
    pub fn place(&self) -> Place {
        match &self.mode {
            Mode::Attached => Place::Attached,
            Mode::Prompt(_) => Place::Prompt,
            Mode::Form(_) => Place::Form,
            Mode::Picker(_) => Place::Picker,
            Mode::Confirm(_) => Place::Confirm,
            Mode::Normal | Mode::Help if self.view == View::Tasks && self.diff.is_some() => {
                Place::Diff
            }
            Mode::Normal | Mode::Help => match self.view {
                View::Servers => Place::Servers,
                View::Tasks if self.task_open.is_some() => Place::TaskOpen,
                View::Tasks => Place::Tasks,
                View::Graph => Place::Graph,
                View::Sessions => Place::Sessions,
                View::Inbox => Place::Inbox,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The footers and the help box as they were written by hand before the table.
    #[test]
    fn the_table_draws_the_footers_and_the_help_as_before() {
        let footers = [
            (Place::Servers, "1-5/Tab views · j/k move · ? help · q quit"),
            (
                Place::TaskOpen,
                "Esc back · d diff · a/r plan · y/s/n permission · i answer · ? help · q quit",
            ),
            (
                Place::Tasks,
                "Enter open · d diff · / filter · c create · A assign · a/r/y/n/i decide · ? help · q quit",
            ),
            (
                Place::Diff,
                "Esc back · m merge · K keep · X discard · c comment · r reload · Tab files/diff · Enter go to file · ? help",
            ),
            (Place::Confirm, "y yes · n/Esc no"),
            (
                Place::Graph,
                "j/k select · Enter open · c create · A assign · 1-5/Tab views · ? help · q quit",
            ),
            (
                Place::Sessions,
                "j/k focus · Enter attach · m message · PgUp/PgDn scroll · ? help · q quit",
            ),
            (
                Place::Inbox,
                "a/r plan · y/s/A allow · n/N deny · i answer · Enter task · ? help · q quit",
            ),
            (
                Place::Attached,
                "attached to the session: keys go to it · Ctrl-] detach",
            ),
            (Place::Prompt, "Enter send · Esc cancel · Ctrl-U clear"),
            (Place::Form, "Tab next field · Enter create · Esc cancel"),
            (
                Place::Picker,
                "j/k choose a server · Enter assign · Esc cancel",
            ),
        ];
        for (place, want) in footers {
            assert_eq!(footer(place), want, "{place:?}");
        }
        let want = "\
Views      1 Servers 2 Tasks 3 Graph 4 Sessions 5 Inbox · Tab/Shift-Tab
Move       j/k or ↓/↑ · g/G first/last · Enter open · Esc back
Tasks      / filter by status (empty clears) · Enter: spec, deps, timeline
Plans      a approve · r reject (type the feedback, Enter sends)
Permission y allow once · s allow for its session · n deny
           A allow always · N deny always · in the Inbox: edit, Enter saves
Questions  i answer (type, Enter sends) — in the Inbox or on a task
Work       c create a task · A assign the selected task (servers ranked)
Review     d diff · Tab files/diff · Enter go to file · j/k PgUp/PgDn · g/G
           m merge · K keep · X discard · c comment on the line · r reload
Sessions   j/k focus · Enter attach keys · Ctrl-] detach · PgUp/PgDn scroll
           m message an idle agent (type, Enter submits it as its prompt)
Mouse      click a tab or a row · the wheel scrolls or moves the selection
Console    ? this help · q quit (Ctrl-C too)";
        assert_eq!(help(), want);
    }

    /// A key that runs something in a place is named there (in the footer or the help), and a
    /// footer names only keys that run in its place.
    #[test]
    fn every_bound_key_is_named_and_every_hint_is_bound() {
        for b in KEYS {
            // The open task's scrolling keys are named in the title of its detail.
            let in_the_detail_title = b.places == [Place::TaskOpen];
            assert!(
                !b.footer.is_empty() || !b.help.is_empty() || in_the_detail_title,
                "{b:?} is named nowhere"
            );
            for h in b.footer {
                assert!(b.places.contains(&h.at), "{h:?} is not bound in its place");
            }
        }
    }

    /// Within a place, one key runs one thing (a Ctrl chord is a key of its own).
    #[test]
    fn no_key_runs_two_things_in_one_place() {
        for place in VIEWS.iter().chain([&Place::Attached, &Place::Diff]) {
            let keys: Vec<Key> = KEYS
                .iter()
                .filter(|b| b.run.is_some() && b.places.contains(place))
                .flat_map(|b| b.keys.iter().copied())
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} twice in {place:?}");
            }
        }
    }
}
