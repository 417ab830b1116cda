//! "Allow always…" and "Deny always…": a permission request's suggested patterns proposed as
//! a rule for the task's project, confirmed in a message of its own ([Save rule]
//! [Edit pattern] [Back]). "Edit pattern" asks for the pattern with a forced reply; the reply
//! replaces it and the confirmation comes again. Proposals live in memory under a short key
//! (callback data holds at most 64 bytes) until saved, dropped, or their request is decided.

use orchestratia_proto::PermissionRequest;
use orchestratia_proto::api::{AllowPermission, AllowScope, DenyPermission};
use orchestratia_proto::policy::{self, RuleEffect};
use teloxide::types::{ChatId, ForceReply, Message, MessageId, ReplyMarkup};
use uuid::Uuid;

use super::decisions::{Decision, ProposalAction, telegram_actor};
use super::{Bot, Tracked, render};
use crate::auth::Principal;

/// A rule proposed from a permission request, not saved yet.
pub(super) struct Proposal {
    request: PermissionRequest,
    effect: RuleEffect,
    patterns: Vec<String>,
    /// The task's project, by name, for display.
    project: Option<String>,
}

impl Bot {
    /// "Always" was tapped: sends the proposed rule to confirm; the toast to show.
    pub(super) async fn propose(&mut self, chat: ChatId, id: Uuid, effect: RuleEffect) -> String {
        let p = match self.hub.permission(&Principal::Admin, id).await {
            Ok(p) if p.waits() => p,
            Ok(_) => return render::ALREADY_DECIDED.into(),
            Err(e) => return render::error(&e),
        };
        if p.suggested.is_empty() {
            return render::CANNOT_BE_RULE.into();
        }
        let project = self.project_of(&p).await;
        let key = Uuid::new_v4().as_u64_pair().0;
        self.proposals.insert(
            key,
            Proposal {
                patterns: p.suggested.clone(),
                request: p,
                effect,
                project,
            },
        );
        self.confirm(chat, key).await;
        String::new()
    }

    /// The name of the project of a request's task.
    async fn project_of(&self, p: &PermissionRequest) -> Option<String> {
        let task = p.task_id?;
        let v = self
            .hub
            .view_task(&Principal::Admin, &task.to_string())
            .await
            .ok()?;
        let projects = self.hub.projects(&Principal::Admin).await.ok()?;
        projects
            .into_iter()
            .find(|x| x.id == v.task.project_id)
            .map(|x| x.name)
    }

    /// Sends a proposal's confirmation to `chat`; it closes with its request.
    async fn confirm(&mut self, chat: ChatId, key: u64) {
        let Some(p) = self.proposals.get(&key) else {
            return;
        };
        let request = p.request.id;
        let text = render::proposal(
            p.effect,
            &p.request.tool_name,
            &p.patterns,
            p.project.as_deref(),
            &p.request,
        );
        if let Some(m) = self
            .send(chat, text.clone(), Some(render::proposal_buttons(key)))
            .await
        {
            self.track(request, chat, m.id, text);
        }
    }

    /// Remembers a message that shows a permission request, to close it with the request.
    fn track(&mut self, request: Uuid, chat: ChatId, message: MessageId, text: String) {
        self.decisions
            .entry(Decision::Permission(request))
            .or_default()
            .push(Tracked {
                chat,
                message,
                text,
            });
    }

    /// A button under a proposal; the toast to show.
    pub(super) async fn on_proposal(
        &mut self,
        chat: ChatId,
        message: Option<MessageId>,
        key: u64,
        action: ProposalAction,
        who: &str,
    ) -> String {
        if !self.proposals.contains_key(&key) {
            return render::PROPOSAL_GONE.into();
        }
        match action {
            ProposalAction::Save => self.save(chat, key, who).await,
            ProposalAction::Edit => {
                self.end_confirmation(chat, message, render::EDITING).await;
                self.ask_pattern(chat, key).await;
                String::new()
            }
            ProposalAction::Back => {
                self.proposals.remove(&key);
                self.prompts.retain(|_, k| *k != key);
                self.end_confirmation(chat, message, render::NOT_SAVED)
                    .await;
                String::new()
            }
        }
    }

    /// Closes one confirmation message with `footer` (its request stays open).
    async fn end_confirmation(&mut self, chat: ChatId, message: Option<MessageId>, footer: &str) {
        let Some(message) = message else { return };
        let text = self
            .decisions
            .values()
            .flatten()
            .find(|t| t.chat == chat && t.message == message)
            .map(|t| t.text.clone());
        if let Some(text) = text {
            self.edit(chat, message, render::closed(&text, footer))
                .await;
        }
    }

    /// Asks for the pattern with a forced reply.
    async fn ask_pattern(&mut self, chat: ChatId, key: u64) {
        let Some(p) = self.proposals.get(&key) else {
            return;
        };
        let text = render::pattern_prompt(&p.request.tool_name, &p.patterns);
        let markup = ReplyMarkup::ForceReply(ForceReply::new());
        if let Some(m) = self.send_markup(chat, text, Some(markup)).await {
            self.prompts.insert((chat.0, m.id.0), key);
        }
    }

    /// A reply to a pattern prompt replaces the proposal's patterns (one per line) and sends
    /// the confirmation again; a bad pattern is refused and the prompt still takes a reply.
    /// Whether `m` was such a reply.
    pub(super) async fn pattern_reply(&mut self, m: &Message, text: &str) -> bool {
        let Some(key) = m
            .reply_to_message()
            .and_then(|replied| self.prompts.get(&(m.chat.id.0, replied.id.0)))
            .copied()
        else {
            return false;
        };
        let Some(p) = self.proposals.get_mut(&key) else {
            return false;
        };
        let patterns: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let checked = if patterns.is_empty() {
            Err("the pattern is empty".to_string())
        } else {
            patterns
                .iter()
                .try_for_each(|x| policy::check_rule(&p.request.tool_name, x, false))
        };
        if let Err(e) = checked {
            self.send(m.chat.id, render::pattern_refused(&e), None)
                .await;
            return true;
        }
        p.patterns = patterns;
        self.prompts.retain(|_, k| *k != key);
        self.confirm(m.chat.id, key).await;
        true
    }

    /// Saves a proposal: the hub makes the rule and decides the request with it; every
    /// message of the request says how it ended, with the rule's line.
    async fn save(&mut self, chat: ChatId, key: u64, who: &str) -> String {
        let Some(p) = self.proposals.remove(&key) else {
            return render::PROPOSAL_GONE.into();
        };
        let a = Principal::Admin;
        let by = telegram_actor(who);
        let id = p.request.id.to_string();
        let decided = match p.effect {
            RuleEffect::Allow => {
                let body = AllowPermission {
                    scope: AllowScope::Always,
                    patterns: p.patterns.clone(),
                };
                self.hub.allow_permission(&a, &id, &body, Some(&by)).await
            }
            RuleEffect::Deny => {
                let body = DenyPermission {
                    reason: Some(render::denied_from_telegram(who)),
                    rule: true,
                    patterns: p.patterns.clone(),
                };
                self.hub.deny_permission(&a, &id, &body, Some(&by)).await
            }
        };
        let request = p.request.id;
        if let Err(e) = decided {
            let still_waits = self
                .hub
                .permission(&a, request)
                .await
                .is_ok_and(|r| r.waits());
            if still_waits {
                // The rule was refused (a bad pattern): the proposal stands.
                self.proposals.insert(key, p);
                self.send(chat, render::rule_refused(&e), None).await;
                return render::RULE_NOT_SAVED.into();
            }
            self.close(Decision::Permission(request), &render::already_decided(&e))
                .await;
            return render::ALREADY_DECIDED.into();
        }
        let rules = self.rules_made(&p, &by).await;
        let verdict = render::always_verdict(p.effect);
        self.close(
            Decision::Permission(request),
            &render::rule_made(verdict, who, &rules),
        )
        .await;
        verdict.into()
    }

    /// The lines of the rules a saved proposal made (found among the live rules by maker,
    /// tool, effect and pattern).
    async fn rules_made(&self, p: &Proposal, by: &str) -> Vec<String> {
        let rules = self
            .hub
            .rules(&Principal::Admin, false)
            .await
            .unwrap_or_default();
        p.patterns
            .iter()
            .filter_map(|pattern| {
                rules
                    .iter()
                    .rev()
                    .find(|r| {
                        r.created_by == by
                            && r.effect == p.effect
                            && r.tool == p.request.tool_name
                            && &r.pattern == pattern
                    })
                    .map(|r| r.describe())
            })
            .collect()
    }

    /// Forgets the proposals of a decided request (and their prompts).
    pub(super) fn drop_proposals(&mut self, request: Uuid) {
        self.proposals.retain(|_, p| p.request.id != request);
        let live: std::collections::HashSet<u64> = self.proposals.keys().copied().collect();
        self.prompts.retain(|_, k| live.contains(k));
    }
}
