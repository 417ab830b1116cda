//! Contracts: the data a task publishes on completion, and the inputs its downstream receive.

use std::collections::BTreeMap;

use orchestratia_proto::Contract;
use serde_json::Value;
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, placeholders};
use crate::params;

/// Stores the contracts a task published.
pub async fn insert(
    c: &mut Conn,
    task: Uuid,
    contracts: &BTreeMap<String, Value>,
    now: i64,
) -> Result<()> {
    let items: Vec<(&String, &Value)> = contracts.iter().collect();
    for chunk in items.chunks(BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, $2)", 3 + 2 * i, 4 + 2 * i))
            .collect();
        let sql = format!(
            "INSERT INTO contracts (task_id, key, data, created_at) VALUES {}",
            values.join(", ")
        );
        let mut args = params![task, now].to_vec();
        for (k, v) in chunk {
            args.push(Param::from(k.as_str()));
            args.push(Param::from(v.to_string()));
        }
        c.execute(&sql, &args).await?;
    }
    Ok(())
}

/// The contracts a task published, by key.
pub async fn of_task(c: &mut Conn, task: Uuid) -> Result<BTreeMap<String, Contract>> {
    c.fetch(
        "SELECT key, data FROM contracts WHERE task_id = $1 ORDER BY key",
        &params![task],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.text("key")?,
            Contract {
                status: "fulfilled".into(),
                data: r.json("data")?,
            },
        ))
    })
    .collect()
}

/// The resolved inputs of each given task: key → data, from its resolved `input` dependencies.
pub async fn inputs_of(
    c: &mut Conn,
    tasks: &[Uuid],
) -> Result<BTreeMap<Uuid, BTreeMap<String, Value>>> {
    let mut out: BTreeMap<Uuid, BTreeMap<String, Value>> = BTreeMap::new();
    for chunk in tasks.chunks(BATCH) {
        let sql = format!(
            "SELECT d.downstream_id, d.contract_key, c.data
             FROM dependencies d
             JOIN contracts c ON c.task_id = d.upstream_id AND c.key = d.contract_key
             WHERE d.dep_type = 'input' AND d.resolved = 1 AND d.downstream_id IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        for r in c.fetch(&sql, &args).await? {
            out.entry(r.uuid("downstream_id")?)
                .or_default()
                .insert(r.text("contract_key")?, r.json("data")?);
        }
    }
    Ok(out)
}
