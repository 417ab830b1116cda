//! What an agent's model calls cost: tokens in and out, cache reads and writes, the model,
//! and an estimated cost in US dollars. The daemon reads it from Claude Code's transcript,
//! the hub sums it per task and per project.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Token counts and the estimated cost of some model calls (a session's, a task's sum, a
/// project's sum).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// The model of the last call (`claude-sonnet-4-5-…`), when known.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Estimated from the daemon's price table.
    #[serde(default)]
    pub cost_usd: f64,
    /// Model calls counted.
    #[serde(default)]
    pub calls: u64,
    /// Calls whose model has no price in the table (their cost is not in `cost_usd`).
    #[serde(default)]
    pub unpriced_calls: u64,
}

impl Usage {
    /// Adds `other` to this (the model becomes `other`'s when it names one).
    pub fn add(&mut self, other: &Usage) {
        if other.model.is_some() {
            self.model.clone_from(&other.model);
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_usd += other.cost_usd;
        self.calls += other.calls;
        self.unpriced_calls += other.unpriced_calls;
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.calls == 0
            && self.input_tokens == 0
            && self.output_tokens == 0
            && self.cache_read_tokens == 0
            && self.cache_write_tokens == 0
    }

    /// The cost as people read it: `$0.42` (`$0.0042` below a cent), `~` when some calls
    /// had no price.
    pub fn cost_text(&self) -> String {
        let approx = if self.unpriced_calls > 0 { "~" } else { "" };
        if self.cost_usd > 0.0 && self.cost_usd < 0.01 {
            format!("{approx}${:.4}", self.cost_usd)
        } else {
            format!("{approx}${:.2}", self.cost_usd)
        }
    }

    /// Tokens as people read them: `12.3k in · 4.1k out · 80k cache`.
    pub fn tokens_text(&self) -> String {
        fn k(n: u64) -> String {
            if n >= 1_000_000 {
                format!("{:.1}M", n as f64 / 1e6)
            } else if n >= 1_000 {
                format!("{:.1}k", n as f64 / 1e3)
            } else {
                n.to_string()
            }
        }
        format!(
            "{} in · {} out · {} cache read · {} cache write",
            k(self.input_tokens),
            k(self.output_tokens),
            k(self.cache_read_tokens),
            k(self.cache_write_tokens)
        )
    }
}

/// A project's budget: spending is warned about at 80% and, when `enforce`, new assignments
/// are held once it is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    pub usd: f64,
    #[serde(default)]
    pub enforce: bool,
}

/// Body of `POST /projects/{id}/budget`: set or clear a project's budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SetBudget {
    /// US dollars, more than zero; `None` clears the budget.
    pub budget_usd: Option<f64>,
    /// Hold new assignments once it is reached (otherwise only warn).
    #[serde(default)]
    pub enforce: bool,
}

/// The share of a budget at which it is warned about.
pub const BUDGET_WARN_AT: f64 = 0.8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usages_add_up() {
        let mut a = Usage {
            model: Some("m1".into()),
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.5,
            calls: 1,
            ..Usage::default()
        };
        a.add(&Usage {
            model: None,
            input_tokens: 1,
            cache_read_tokens: 100,
            cost_usd: 0.25,
            calls: 2,
            unpriced_calls: 1,
            ..Usage::default()
        });
        assert_eq!(a.model.as_deref(), Some("m1"));
        assert_eq!((a.input_tokens, a.cache_read_tokens, a.calls), (11, 100, 3));
        assert_eq!(a.cost_text(), "~$0.75");
        assert_eq!(Usage::default().cost_text(), "$0.00");
        assert!(Usage::default().is_empty());
    }
}
