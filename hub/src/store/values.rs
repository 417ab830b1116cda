//! Values going into statements ([`Param`], built with `params!`; `$N` lists for batches)
//! and rows coming out ([`Row`], read by column name; stored ids, words and JSON parsed):
//! the same on both backends.

use std::str::FromStr;
use std::sync::Arc;

use uuid::Uuid;

use super::{Result, StoreError};

/// A statement parameter. NULLs carry their type: PostgreSQL infers parameter types from them.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    NullInt,
    NullText,
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Int(v as i64)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(v.clone())
    }
}
impl From<Uuid> for Param {
    fn from(v: Uuid) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Blob(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::NullInt, Param::Int)
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Param::NullText, |s| Param::Text(s.to_string()))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Param::NullText, Param::Text)
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        v.clone().map_or(Param::NullText, Param::Text)
    }
}
impl From<Option<Uuid>> for Param {
    fn from(v: Option<Uuid>) -> Self {
        v.map_or(Param::NullText, |u| Param::Text(u.to_string()))
    }
}

/// Builds a parameter array: `&params![id, name, 3]` (`.to_vec()` to extend it).
#[macro_export]
macro_rules! params {
    ($($p:expr),* $(,)?) => { [$($crate::store::Param::from($p)),*] };
}

/// Size of the batches of multi-row statements (well under both backends' parameter limits).
pub(crate) const BATCH: usize = 400;

/// `$start, $start+1, …` for `n` values, for `IN (…)` lists built at run time.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One result row, read by column name.
#[derive(Debug, Clone)]
pub struct Row {
    pub(super) names: Arc<Vec<String>>,
    pub(super) vals: Vec<Val>,
}

impl Row {
    fn val(&self, name: &str) -> Result<&Val> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.vals[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name}")))
    }

    fn mismatch(name: &str, want: &str, got: &Val) -> StoreError {
        StoreError::Corrupt(format!("column {name}: expected {want}, found {got:?}"))
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        match self.val(name)? {
            Val::Int(i) => Ok(*i),
            other => Err(Self::mismatch(name, "an integer", other)),
        }
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.val(name)? {
            Val::Null => Ok(None),
            Val::Int(i) => Ok(Some(*i)),
            other => Err(Self::mismatch(name, "an integer", other)),
        }
    }

    /// An integer flag (0/1) as a bool.
    pub fn flag(&self, name: &str) -> Result<bool> {
        Ok(self.int(name)? != 0)
    }

    pub fn text(&self, name: &str) -> Result<String> {
        match self.val(name)? {
            Val::Text(s) => Ok(s.clone()),
            other => Err(Self::mismatch(name, "text", other)),
        }
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.val(name)? {
            Val::Null => Ok(None),
            Val::Text(s) => Ok(Some(s.clone())),
            other => Err(Self::mismatch(name, "text", other)),
        }
    }

    pub fn blob(&self, name: &str) -> Result<Vec<u8>> {
        match self.val(name)? {
            Val::Blob(b) => Ok(b.clone()),
            Val::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(Self::mismatch(name, "bytes", other)),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid> {
        uuid(&self.text(name)?)
    }

    pub fn opt_uuid(&self, name: &str) -> Result<Option<Uuid>> {
        self.opt_text(name)?.as_deref().map(uuid).transpose()
    }

    /// A stored enum word.
    pub fn word<T: FromStr>(&self, name: &str) -> Result<T> {
        word(&self.text(name)?)
    }

    /// Stored JSON text.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        json(&self.text(name)?)
    }

    /// Stored JSON text, or `None` for NULL.
    pub fn opt_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        self.opt_text(name)?.as_deref().map(json).transpose()
    }
}

/// Parses a stored UUID.
fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(format!("bad id '{s}'")))
}

/// Parses a stored enum word.
fn word<T: FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unexpected value '{s}'")))
}

/// Parses stored JSON text.
fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_from_start() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}
