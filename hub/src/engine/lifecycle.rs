//! The task state machine: which status a task moves to on each action, and who may ask.
//!
//! `pending → assigned → [planning → (plan submitted) → plan approved] → running ⇄ needs_human
//! → done | failed`, and `cancelled` from any open state (docs/ARCHITECTURE.md, Engine rules).

use orchestratia_proto::TaskStatus::{self, *};

/// What is being done to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Given to a server (by hand or by the cascade).
    Assign,
    /// The agent's session runs.
    Start,
    /// A human approved the plan.
    ApprovePlan,
    /// The agent asked a question.
    AskHuman,
    /// A human answered; the task resumes where it was.
    Answer {
        resume: TaskStatus,
    },
    Complete,
    Fail,
    Cancel,
    Retry,
}

impl Transition {
    fn verb(self) -> &'static str {
        match self {
            Transition::Assign => "assign",
            Transition::Start => "start",
            Transition::ApprovePlan => "approve the plan of",
            Transition::AskHuman => "ask for help on",
            Transition::Answer { .. } => "answer",
            Transition::Complete => "complete",
            Transition::Fail => "fail",
            Transition::Cancel => "cancel",
            Transition::Retry => "retry",
        }
    }
}

/// Who asks for a transition (its initiator; "actor" means an event's author): an admin may
/// close any open task by hand (work done outside the system); an agent only its own work in
/// progress; the hub does what the protocol implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Admin,
    Agent,
    Hub,
}

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb} a task that is {from}{hint}")]
pub struct IllegalTransition {
    pub from: TaskStatus,
    pub verb: &'static str,
    pub hint: &'static str,
}

/// The status after `t`, or why `t` is not allowed from `from` for `initiator`.
pub fn next(
    from: TaskStatus,
    t: Transition,
    initiator: Initiator,
) -> Result<TaskStatus, IllegalTransition> {
    let open = !from.is_terminal();
    let to = match (t, from) {
        (Transition::Assign, Pending | Assigned) => Some(Assigned),
        (Transition::Start, Assigned) => Some(Running),
        (Transition::ApprovePlan, Planning) => Some(Running),
        (Transition::AskHuman, Assigned | Planning | Running | NeedsHuman) => Some(NeedsHuman),
        (Transition::Answer { resume }, NeedsHuman) => match resume {
            Assigned | Planning | Running => Some(resume),
            _ => Some(Running),
        },
        (Transition::Complete, _) if open => match initiator {
            Initiator::Admin | Initiator::Hub => Some(Done),
            Initiator::Agent => matches!(from, Assigned | Running | NeedsHuman).then_some(Done),
        },
        (Transition::Fail, _) if open => match initiator {
            Initiator::Admin | Initiator::Hub => Some(Failed),
            Initiator::Agent => (from != Pending).then_some(Failed),
        },
        (Transition::Cancel, _) if open || from == Failed => Some(Cancelled),
        (Transition::Retry, Failed | Cancelled) => Some(Pending),
        _ => None,
    };
    to.ok_or(IllegalTransition {
        from,
        verb: t.verb(),
        hint: hint(from, t, initiator),
    })
}

fn hint(from: TaskStatus, t: Transition, initiator: Initiator) -> &'static str {
    match (t, from, initiator) {
        (Transition::Complete, Planning, Initiator::Agent) => " (its plan is not approved yet)",
        (Transition::Complete | Transition::Fail, Pending, Initiator::Agent) => {
            " (it is not assigned)"
        }
        (Transition::Complete | Transition::Fail, Done | Failed | Cancelled, _) => {
            " (it is already closed)"
        }
        (Transition::Retry, _, _) => " (only failed or cancelled tasks can be retried)",
        (Transition::Assign, _, _) => " (only pending tasks can be assigned)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path() {
        let s = next(Pending, Transition::Assign, Initiator::Admin).unwrap();
        let s = next(s, Transition::Start, Initiator::Agent).unwrap();
        let s = next(s, Transition::AskHuman, Initiator::Agent).unwrap();
        assert_eq!(s, NeedsHuman);
        let s = next(s, Transition::Answer { resume: Running }, Initiator::Admin).unwrap();
        assert_eq!(next(s, Transition::Complete, Initiator::Agent), Ok(Done));
    }

    #[test]
    fn plan_approval_path() {
        let s = Planning;
        let e = next(s, Transition::Complete, Initiator::Agent).unwrap_err();
        assert!(e.to_string().contains("plan is not approved"));
        assert_eq!(
            next(s, Transition::ApprovePlan, Initiator::Admin),
            Ok(Running)
        );
        // A question while planning resumes planning.
        let q = next(s, Transition::AskHuman, Initiator::Agent).unwrap();
        assert_eq!(
            next(q, Transition::Answer { resume: Planning }, Initiator::Admin),
            Ok(Planning)
        );
    }

    #[test]
    fn closed_tasks_stay_closed() {
        for from in [Done, Failed, Cancelled] {
            for initiator in [Initiator::Admin, Initiator::Agent, Initiator::Hub] {
                let e = next(from, Transition::Complete, initiator).unwrap_err();
                assert!(e.to_string().contains("already closed"), "{e}");
            }
        }
        assert!(next(Done, Transition::Cancel, Initiator::Admin).is_err());
        assert!(next(Done, Transition::Retry, Initiator::Admin).is_err());
    }

    #[test]
    fn admins_close_open_work_by_hand_agents_do_not() {
        assert_eq!(
            next(Pending, Transition::Complete, Initiator::Admin),
            Ok(Done)
        );
        assert_eq!(
            next(Planning, Transition::Fail, Initiator::Admin),
            Ok(Failed)
        );
        assert!(next(Pending, Transition::Complete, Initiator::Agent).is_err());
        assert!(next(Pending, Transition::Fail, Initiator::Agent).is_err());
    }

    #[test]
    fn retry_and_cancel() {
        assert_eq!(
            next(Failed, Transition::Retry, Initiator::Admin),
            Ok(Pending)
        );
        assert_eq!(
            next(Cancelled, Transition::Retry, Initiator::Admin),
            Ok(Pending)
        );
        assert_eq!(
            next(Failed, Transition::Cancel, Initiator::Admin),
            Ok(Cancelled)
        );
        assert_eq!(
            next(Running, Transition::Cancel, Initiator::Admin),
            Ok(Cancelled)
        );
        assert!(next(Running, Transition::Assign, Initiator::Admin).is_err());
    }
}
