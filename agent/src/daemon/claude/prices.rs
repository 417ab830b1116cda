//! What Claude's model calls cost: US dollars per million tokens for each model, found by the
//! longest model-name prefix. Defaults for current Claude models; the daemon's config may
//! override or add models (`prices:` map in config.yaml).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A model's prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Reading from the prompt cache (default: a tenth of `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    /// Writing to the prompt cache (default: 1.25 × `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl Price {
    /// Input and output prices; the cache prices follow from the input price.
    pub const fn new(input: f64, output: f64) -> Price {
        Price {
            input,
            output,
            cache_read: None,
            cache_write: None,
        }
    }

    /// What one call with these token counts costs, in US dollars.
    pub fn cost(&self, input: u64, output: u64, cache_read: u64, cache_write: u64) -> f64 {
        let read = self.cache_read.unwrap_or(self.input * 0.1);
        let write = self.cache_write.unwrap_or(self.input * 1.25);
        (input as f64 * self.input
            + output as f64 * self.output
            + cache_read as f64 * read
            + cache_write as f64 * write)
            / 1e6
    }

    /// Refuses negative or non-finite prices, naming the model.
    pub fn check(&self, model: &str) -> Result<(), String> {
        let all = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
        ];
        for (name, v) in all {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(format!(
                    "prices.\"{model}\".{name} must be a number of US dollars per million tokens, 0 or more"
                ));
            }
        }
        Ok(())
    }
}

/// The default prices (USD per million input/output tokens), by model-name prefix.
const DEFAULTS: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price::new(5.0, 25.0)),
    ("claude-opus-4", Price::new(15.0, 75.0)),
    ("claude-sonnet-4", Price::new(3.0, 15.0)),
    ("claude-haiku-4-5", Price::new(1.0, 5.0)),
    ("claude-3-7-sonnet", Price::new(3.0, 15.0)),
    ("claude-3-5-haiku", Price::new(0.8, 4.0)),
];

/// The price table: the defaults with the config's entries over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    by_prefix: BTreeMap<String, Price>,
}

impl Default for Prices {
    fn default() -> Self {
        Prices::new(&BTreeMap::new())
    }
}

impl Prices {
    /// The defaults, overridden (or extended) by `overrides` (model prefix → price).
    pub fn new(overrides: &BTreeMap<String, Price>) -> Prices {
        let mut by_prefix: BTreeMap<String, Price> =
            DEFAULTS.iter().map(|(m, p)| (m.to_string(), *p)).collect();
        by_prefix.extend(overrides.iter().map(|(m, p)| (m.clone(), *p)));
        Prices { by_prefix }
    }

    /// The price of `model`: the entry with the longest prefix of its name.
    pub fn of(&self, model: &str) -> Option<&Price> {
        self.by_prefix
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins() {
        let p = Prices::default();
        assert_eq!(p.of("claude-opus-4-5-20251101").map(|p| p.input), Some(5.0));
        assert_eq!(
            p.of("claude-opus-4-1-20250805").map(|p| p.input),
            Some(15.0)
        );
        assert_eq!(
            p.of("claude-sonnet-4-5-20250929").map(|p| p.output),
            Some(15.0)
        );
        assert_eq!(p.of("claude-haiku-4-5").map(|p| p.output), Some(5.0));
        assert_eq!(
            p.of("claude-3-5-haiku-20241022").map(|p| p.input),
            Some(0.8)
        );
        assert!(p.of("gpt-5").is_none());
        assert!(p.of("<synthetic>").is_none());
    }

    #[test]
    fn cache_prices_follow_the_input_price_unless_set() {
        let sonnet = Price::new(3.0, 15.0);
        // 1M of each: 3 + 15 + 0.3 + 3.75.
        let c = sonnet.cost(1_000_000, 1_000_000, 1_000_000, 1_000_000);
        assert!((c - 22.05).abs() < 1e-9, "{c}");
        let mut over = BTreeMap::new();
        over.insert(
            "claude-sonnet-4".to_string(),
            Price {
                cache_read: Some(1.0),
                ..Price::new(2.0, 10.0)
            },
        );
        over.insert("my-model".to_string(), Price::new(1.0, 1.0));
        let p = Prices::new(&over);
        let s = p.of("claude-sonnet-4-5").expect("priced");
        assert!((s.cost(0, 0, 1_000_000, 1_000_000) - 3.5).abs() < 1e-9);
        assert!(p.of("my-model-x").is_some());
        assert!(p.of("claude-opus-4-5").is_some());
    }

    #[test]
    fn bad_prices_are_refused() {
        assert!(Price::new(-1.0, 1.0).check("m").is_err());
        let err = Price {
            cache_write: Some(f64::NAN),
            ..Price::new(1.0, 1.0)
        }
        .check("m")
        .expect_err("nan");
        assert!(err.contains("prices.\"m\".cache_write"), "{err}");
        assert!(Price::new(0.0, 1.0).check("m").is_ok());
    }
}
