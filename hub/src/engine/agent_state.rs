//! A session's agent state: one word per session (starting, working, waiting_permission,
//! waiting_input, idle, ended), moved by what the agent's own hooks report and by what the
//! agent asks through the CLI. The screen is never a source.

use orchestratia_proto::{HookEvent, SessionState};

/// Something that happened to a session's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal<'a> {
    /// A hook fired (`notification_type` for `Notification`, `source` for `SessionStart`,
    /// `tool` for the tool hooks).
    Hook {
        event: HookEvent,
        notification_type: Option<&'a str>,
        source: Option<&'a str>,
        tool: Option<&'a str>,
    },
    /// The agent process runs; `hooks`: it will report through hooks, so it is not known to
    /// work until the first one.
    Active {
        hooks: bool,
    },
    /// It asked for a permission / the request was decided.
    PermissionRequested,
    PermissionDecided,
    /// It asked a human (a question, a plan) / the human answered.
    Asked,
    Answered,
    /// No hook was heard long after it started: something (a dialog) holds it.
    Stalled,
}

/// The tool Claude Code uses to ask its user a question in the terminal.
const ASK_TOOL: &str = "AskUserQuestion";

/// The state after `signal`. `ended` is final.
pub fn next_state(current: SessionState, signal: Signal<'_>) -> SessionState {
    use SessionState::*;
    if current == Ended {
        return Ended;
    }
    match signal {
        Signal::Active { hooks } => match (current, hooks) {
            (Starting, false) => Working,
            _ => current,
        },
        Signal::PermissionRequested => WaitingPermission,
        Signal::PermissionDecided if current == WaitingPermission => Working,
        Signal::Asked => WaitingInput,
        Signal::Answered if current == WaitingInput => Working,
        Signal::PermissionDecided | Signal::Answered => current,
        Signal::Stalled if current == Starting => WaitingInput,
        Signal::Stalled => current,
        Signal::Hook {
            event,
            notification_type,
            source,
            tool,
        } => match event {
            // `/clear` leaves a fresh conversation waiting for a prompt. Compaction happens in
            // the middle of a turn. A start or resume by the daemon always comes with a prompt
            // (the task, or "carry on"), which is submitted next.
            HookEvent::SessionStart if source == Some("clear") => Idle,
            HookEvent::SessionStart if source == Some("compact") => match current {
                Starting => Working,
                other => other,
            },
            HookEvent::SessionStart => Working,
            HookEvent::UserPromptSubmit | HookEvent::PostToolUse => Working,
            HookEvent::PreToolUse if tool == Some(ASK_TOOL) => WaitingInput,
            HookEvent::PreToolUse => Working,
            HookEvent::Notification => match notification_type {
                Some("permission_prompt") => WaitingPermission,
                Some("idle_prompt") => Idle,
                Some("elicitation_dialog") => WaitingInput,
                _ => current,
            },
            HookEvent::Stop => Idle,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionState::*;

    fn hook(event: HookEvent) -> Signal<'static> {
        Signal::Hook {
            event,
            notification_type: None,
            source: None,
            tool: None,
        }
    }

    fn notification(kind: &'static str) -> Signal<'static> {
        Signal::Hook {
            event: HookEvent::Notification,
            notification_type: Some(kind),
            source: None,
            tool: None,
        }
    }

    #[test]
    fn each_signal_moves_the_state() {
        let cases: &[(SessionState, Signal, SessionState)] = &[
            (Starting, Signal::Active { hooks: false }, Working),
            (Starting, Signal::Active { hooks: true }, Starting),
            (Idle, Signal::Active { hooks: false }, Idle),
            (Starting, hook(HookEvent::SessionStart), Working),
            (Idle, hook(HookEvent::SessionStart), Working),
            (
                Working,
                Signal::Hook {
                    event: HookEvent::SessionStart,
                    notification_type: None,
                    source: Some("clear"),
                    tool: None,
                },
                Idle,
            ),
            (
                Working,
                Signal::Hook {
                    event: HookEvent::SessionStart,
                    notification_type: None,
                    source: Some("compact"),
                    tool: None,
                },
                Working,
            ),
            (Idle, hook(HookEvent::UserPromptSubmit), Working),
            (Working, hook(HookEvent::PreToolUse), Working),
            (
                Working,
                Signal::Hook {
                    event: HookEvent::PreToolUse,
                    notification_type: None,
                    source: None,
                    tool: Some("AskUserQuestion"),
                },
                WaitingInput,
            ),
            (WaitingPermission, hook(HookEvent::PostToolUse), Working),
            (
                Working,
                notification("permission_prompt"),
                WaitingPermission,
            ),
            (Working, notification("idle_prompt"), Idle),
            (Working, notification("elicitation_dialog"), WaitingInput),
            (Working, notification("auth_success"), Working),
            (Working, hook(HookEvent::Stop), Idle),
            (Working, Signal::PermissionRequested, WaitingPermission),
            (WaitingPermission, Signal::PermissionDecided, Working),
            (Idle, Signal::PermissionDecided, Idle),
            (Working, Signal::Asked, WaitingInput),
            (WaitingInput, Signal::Answered, Working),
            (Idle, Signal::Answered, Idle),
            (Starting, Signal::Stalled, WaitingInput),
            (Working, Signal::Stalled, Working),
            (Ended, hook(HookEvent::UserPromptSubmit), Ended),
            (Ended, Signal::Active { hooks: false }, Ended),
        ];
        for (from, signal, to) in cases {
            assert_eq!(next_state(*from, *signal), *to, "{from} + {signal:?}");
        }
    }
}
