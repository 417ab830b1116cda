//! `orchestratia pipeline apply FILE`: a whole graph of tasks from YAML. Tasks are keyed by
//! their name in the file, so applying the same file again changes nothing; a file with an
//! unknown name or a cycle is refused whole, naming the line at fault.
//!
//! ```yaml
//! project: E-Commerce Platform Rebuild
//! tasks:
//!   - name: schema
//!     title: Update API Schema v2.5
//!     repo: core-service
//!     agent: dev-backend
//!   - name: gateway
//!     title: Gateway Integration
//!     repo: api-gateway
//!     languages: [rust]
//!     depends_on:
//!       - { task: schema, contract: api_schema }   # input: receives the contract
//!   - name: gateway-tests
//!     title: Gateway Tests
//!     base: upstream                                # starts from its lowest-numbered upstream,
//!                                                   # schema: once merged, from where it went
//!     branch: gateway-tests                         # its branch (default orc/T3-gateway-tests)
//!     depends_on:
//!       - gateway                                   # blocks: waits for it
//!       - { task: schema, after: merged }           # waits until schema's branch is merged
//! rules:                                            # permission rules (see pipeline_rules)
//!   - { tool: Bash, pattern: "cargo test *" }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use orchestratia_proto::api::{AddDependency, CreateTask, TaskFilter};
use orchestratia_proto::workspace::BASE_UPSTREAM;
use orchestratia_proto::{DepType, DependencyAfter, Priority};
use serde::Deserialize;
use serde_json::{Value, json};

use super::print::table;
use super::{Ctx, usage};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    project: Option<String>,
    tasks: Vec<TaskSpec>,
    /// Permission rules for the project or one of its tasks (see `pipeline_rules`).
    #[serde(default)]
    rules: Vec<super::pipeline_rules::RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSpec {
    name: String,
    title: String,
    #[serde(default)]
    spec: String,
    structured_spec: Option<Value>,
    repo: Option<String>,
    #[serde(default)]
    languages: Vec<String>,
    agent: Option<String>,
    os: Option<String>,
    priority: Option<Priority>,
    #[serde(default)]
    require_plan_approval: bool,
    /// Keep the agent running after the task is closed.
    #[serde(default)]
    keep_session: bool,
    /// What its worktree starts from: a branch, a commit, or `upstream`.
    base: Option<String>,
    /// Its branch name.
    branch: Option<String>,
    #[serde(default)]
    depends_on: Vec<DepSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DepSpec {
    Name(String),
    Full {
        task: String,
        contract: Option<String>,
        /// `done` (default) or `merged`: wait until the upstream's branch is merged.
        after: Option<String>,
    },
}

impl DepSpec {
    fn task(&self) -> &str {
        match self {
            DepSpec::Name(n) => n,
            DepSpec::Full { task, .. } => task,
        }
    }

    fn contract(&self) -> Option<&str> {
        match self {
            DepSpec::Name(_) => None,
            DepSpec::Full { contract, .. } => contract.as_deref(),
        }
    }

    fn after(&self) -> Option<&str> {
        match self {
            DepSpec::Name(_) => None,
            DepSpec::Full { after, .. } => after.as_deref(),
        }
    }

    /// Waits until the upstream's branch is merged (`after: merged`).
    fn after_merged(&self) -> bool {
        self.after() == Some("merged")
    }
}

impl TaskSpec {
    /// Whether any of its dependencies waits for a merge: such a task is created with no
    /// dependencies and wired afterwards, so it is never released before they are all there.
    fn waits_for_a_merge(&self) -> bool {
        self.depends_on.iter().any(DepSpec::after_merged)
    }
}

/// The 1-based line of the first occurrence of `needle` as a YAML value at or after `from`.
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| {
            l.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
                .any(|w| w == needle)
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(0)
}

/// `FILE:LINE`, where an error is.
fn at(path: &Path, line: usize) -> String {
    format!("{}:{line}", path.display())
}

/// Checks names, references and cycles; returns the tasks in an order where every task comes
/// after the ones it depends on.
fn check(file: &PipelineFile, text: &str, path: &Path) -> anyhow::Result<Vec<usize>> {
    if file.tasks.is_empty() {
        return Err(usage(format!(
            "{}: the pipeline has no tasks",
            path.display()
        )));
    }
    let (index, task_lines) = name_lines(file, text, path)?;
    check_references(file, text, path, &index, &task_lines)?;
    check_after(file, text, path, &task_lines)?;
    check_base(file, text, path, &task_lines)?;
    let mut order = dependency_order(file, path, &task_lines)?;
    order.sort_by_key(|&i| {
        // Keep file order where the dependencies allow it (numbers follow the file).
        let mut depth = 0;
        let mut stack = vec![(i, 0usize)];
        while let Some((k, d)) = stack.pop() {
            depth = depth.max(d);
            for dep in &file.tasks[k].depends_on {
                stack.push((index[dep.task()], d + 1));
            }
        }
        (depth, i)
    });
    Ok(order)
}

/// Each task's index by name, and the line each task is on; a name used twice is refused.
fn name_lines<'a>(
    file: &'a PipelineFile,
    text: &str,
    path: &Path,
) -> anyhow::Result<(HashMap<&'a str, usize>, Vec<usize>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut task_lines = Vec::new();
    for (i, t) in file.tasks.iter().enumerate() {
        let line = line_of(text, &t.name, task_lines.last().copied().unwrap_or(1));
        task_lines.push(line);
        if index.insert(t.name.as_str(), i).is_some() {
            return Err(usage(format!(
                "{}: task name '{}' is used twice",
                at(path, line),
                t.name
            )));
        }
    }
    Ok((index, task_lines))
}

/// Every dependency names another task of the file.
fn check_references(
    file: &PipelineFile,
    text: &str,
    path: &Path,
    index: &HashMap<&str, usize>,
    task_lines: &[usize],
) -> anyhow::Result<()> {
    for (i, t) in file.tasks.iter().enumerate() {
        for d in &t.depends_on {
            if !index.contains_key(d.task()) {
                let line = line_of(text, d.task(), task_lines[i]);
                return Err(usage(format!(
                    "{}: task '{}' depends on unknown task '{}'",
                    at(path, line),
                    t.name,
                    d.task()
                )));
            }
            if d.task() == t.name {
                return Err(usage(format!(
                    "{}: task '{}' depends on itself",
                    at(path, task_lines[i]),
                    t.name
                )));
            }
        }
    }
    Ok(())
}

/// Every `after:` is `done` or `merged`, and `merged` only on a plain dependency: not with a
/// contract, nor on an upstream the task also takes a contract from.
fn check_after(
    file: &PipelineFile,
    text: &str,
    path: &Path,
    task_lines: &[usize],
) -> anyhow::Result<()> {
    for (i, t) in file.tasks.iter().enumerate() {
        for d in &t.depends_on {
            let Some(after) = d.after() else { continue };
            let here = |word: &str| at(path, line_of(text, word, task_lines[i]));
            if after != "done" && after != "merged" {
                let word = if line_of(text, after, task_lines[i]) > 0 {
                    after
                } else {
                    "after"
                };
                return Err(usage(format!(
                    "{}: task '{}': after: '{after}' is neither done nor merged",
                    here(word),
                    t.name
                )));
            }
            if after != "merged" {
                continue;
            }
            let with_contract = t
                .depends_on
                .iter()
                .find(|o| o.task() == d.task() && o.contract().is_some());
            if let Some(o) = with_contract {
                return Err(usage(format!(
                    "{}: task '{}': after: merged is for a plain (blocks) dependency, not one \
                     that receives contract '{}' from '{}'",
                    here("merged"),
                    t.name,
                    o.contract().unwrap_or_default(),
                    d.task()
                )));
            }
        }
    }
    Ok(())
}

/// `base: upstream` names a dependency's branch: a task with none is refused.
fn check_base(
    file: &PipelineFile,
    text: &str,
    path: &Path,
    task_lines: &[usize],
) -> anyhow::Result<()> {
    let bare = file
        .tasks
        .iter()
        .enumerate()
        .find(|(_, t)| t.base.as_deref() == Some(BASE_UPSTREAM) && t.depends_on.is_empty());
    match bare {
        Some((i, t)) => Err(usage(format!(
            "{}: task '{}': base: upstream needs a dependency to start from (depends_on)",
            at(path, line_of(text, BASE_UPSTREAM, task_lines[i])),
            t.name
        ))),
        None => Ok(()),
    }
}

/// The tasks in an order where each comes after the ones it depends on (Kahn's algorithm);
/// whatever is left over sits on a cycle, which is refused.
fn dependency_order(
    file: &PipelineFile,
    path: &Path,
    task_lines: &[usize],
) -> anyhow::Result<Vec<usize>> {
    let mut indegree: Vec<usize> = file.tasks.iter().map(|t| t.depends_on.len()).collect();
    let mut order = Vec::new();
    let mut ready: Vec<usize> = (0..file.tasks.len())
        .filter(|&i| indegree[i] == 0)
        .collect();
    while let Some(i) = ready.pop() {
        order.push(i);
        for (j, t) in file.tasks.iter().enumerate() {
            let n = t
                .depends_on
                .iter()
                .filter(|d| d.task() == file.tasks[i].name)
                .count();
            if n > 0 {
                indegree[j] -= n;
                if indegree[j] == 0 {
                    ready.push(j);
                }
            }
        }
    }
    if order.len() < file.tasks.len() {
        let placed: HashSet<usize> = order.iter().copied().collect();
        let on_cycle: Vec<usize> = (0..file.tasks.len())
            .filter(|i| !placed.contains(i))
            .collect();
        let names: Vec<&str> = on_cycle
            .iter()
            .map(|&i| file.tasks[i].name.as_str())
            .collect();
        return Err(usage(format!(
            "{}: the dependencies form a cycle through {}",
            at(path, task_lines[on_cycle[0]]),
            names.join(", ")
        )));
    }
    Ok(order)
}

/// The pipeline's tasks on the hub, by name: their id, their reference, and whether this run
/// created them.
type Applied = BTreeMap<String, (String, String, bool)>;

/// Applies the pipeline file at `path` (see the module comment).
pub async fn apply(ctx: &Ctx, path: &Path, project: Option<&str>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let file: PipelineFile =
        yaml_serde::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let order = check(&file, &text, path)?;
    let names: Vec<&str> = file.tasks.iter().map(|t| t.name.as_str()).collect();
    super::pipeline_rules::check(&file.rules, &names, &text, path)?;
    let project = project
        .map(str::to_string)
        .or(file.project.clone())
        .ok_or_else(|| usage("name the project with --project or 'project:' in the file"))?;
    ensure_project(ctx, &project).await?;
    let existing = ctx
        .client
        .tasks(&TaskFilter {
            project: Some(project.clone()),
            ..Default::default()
        })
        .await?;
    let mut ids = Applied::new();
    for t in existing {
        if let Some(k) = t.pipeline_key.clone() {
            ids.insert(k, (t.id.to_string(), t.reference.clone(), false));
        }
    }
    create_missing(ctx, &file, &order, &project, &mut ids).await?;
    add_after_merged(ctx, &file, &ids).await?;
    add_inputs(ctx, &file, &ids).await?;
    let task_ids = ids
        .iter()
        .map(|(name, (id, ..))| (name.clone(), id.clone()))
        .collect();
    let rules = super::pipeline_rules::apply(ctx, &file.rules, &project, &task_ids).await?;
    print_applied(ctx, &file, &project, &ids, &rules)
}

/// Creates the project unless it exists.
async fn ensure_project(ctx: &Ctx, project: &str) -> anyhow::Result<()> {
    if !ctx
        .client
        .projects()
        .await?
        .iter()
        .any(|p| p.name == project || p.id.to_string() == project)
    {
        ctx.client.create_project(project).await?;
        eprintln!(
            "created project '{}'",
            orchestratia_proto::text::one_line(project)
        );
    }
    Ok(())
}

/// Creates, in `order`, the tasks of the file not in `ids` yet, each with `blocks`
/// dependencies on the tasks it depends on.
async fn create_missing(
    ctx: &Ctx,
    file: &PipelineFile,
    order: &[usize],
    project: &str,
    ids: &mut Applied,
) -> anyhow::Result<()> {
    for &i in order {
        let t = &file.tasks[i];
        if ids.contains_key(&t.name) {
            continue;
        }
        let depends_on: Vec<String> = if t.waits_for_a_merge() {
            Vec::new()
        } else {
            t.depends_on
                .iter()
                .filter_map(|d| ids.get(d.task()).map(|(id, ..)| id.clone()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        let body = CreateTask {
            title: t.title.clone(),
            project: Some(project.to_string()),
            spec: t.spec.clone(),
            structured_spec: t.structured_spec.clone(),
            priority: t.priority,
            repo: t.repo.clone(),
            languages: t.languages.clone(),
            agent: t.agent.clone(),
            os: t.os.clone(),
            depends_on,
            require_plan_approval: t.require_plan_approval,
            orchestrator: false,
            keep_session: t.keep_session,
            base: t.base.clone(),
            base_from: None,
            branch: t.branch.clone(),
            pipeline_key: Some(t.name.clone()),
        };
        let created = ctx.client.create_task(&body).await?;
        ids.insert(
            t.name.clone(),
            (created.id.to_string(), created.reference.clone(), true),
        );
    }
    Ok(())
}

/// The dependencies of the tasks that wait for a merge (created with none): first each
/// `after: merged` one, then the plain ones, each only when the pair has none yet, so the task
/// is released only once all of them are met.
async fn add_after_merged(ctx: &Ctx, file: &PipelineFile, ids: &Applied) -> anyhow::Result<()> {
    for t in file.tasks.iter().filter(|t| t.waits_for_a_merge()) {
        let (id, ..) = &ids[&t.name];
        let view = ctx.client.task(id).await?;
        let mut wired: HashSet<String> = view
            .depends_on
            .iter()
            .map(|d| d.task_id.to_string())
            .collect();
        let merged_first = t
            .depends_on
            .iter()
            .filter(|d| d.after_merged())
            .chain(t.depends_on.iter().filter(|d| !d.after_merged()));
        for d in merged_first {
            let (up, ..) = &ids[d.task()];
            if !wired.insert(up.clone()) {
                continue;
            }
            let after = d.after_merged().then_some(DependencyAfter::Merged);
            ctx.client
                .add_dependency(
                    id,
                    &AddDependency {
                        depends_on: up.clone(),
                        dep_type: DepType::Blocks,
                        contract_key: None,
                        after,
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// Contract keys: each `input` dependency not there yet is added (a plain `blocks` on the
/// same pair becomes `input`).
async fn add_inputs(ctx: &Ctx, file: &PipelineFile, ids: &Applied) -> anyhow::Result<()> {
    for t in &file.tasks {
        let inputs: Vec<&DepSpec> = t
            .depends_on
            .iter()
            .filter(|d| d.contract().is_some())
            .collect();
        if inputs.is_empty() {
            continue;
        }
        let (id, ..) = &ids[&t.name];
        let view = ctx.client.task(id).await?;
        for d in inputs {
            let (up, ..) = &ids[d.task()];
            let key = d.contract().unwrap_or_default();
            let present = view
                .depends_on
                .iter()
                .any(|x| x.task_id.to_string() == *up && x.contract_key.as_deref() == Some(key));
            if !present {
                ctx.client
                    .add_dependency(
                        id,
                        &AddDependency {
                            depends_on: up.clone(),
                            dep_type: DepType::Input,
                            contract_key: Some(key.to_string()),
                            after: None,
                        },
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// What was applied: a row a task of the file, created or unchanged.
fn print_applied(
    ctx: &Ctx,
    file: &PipelineFile,
    project: &str,
    ids: &Applied,
    rules: &[super::pipeline_rules::AppliedRule],
) -> anyhow::Result<()> {
    let rows: Vec<Value> = file
        .tasks
        .iter()
        .map(|t| {
            let (id, r, created) = &ids[&t.name];
            json!({"name": t.name, "id": id, "ref": r, "created": created})
        })
        .collect();
    let out = json!({
        "project": project,
        "tasks": rows,
        "rules": super::pipeline_rules::json_rows(rules),
    });
    ctx.out(&out, |_| {
        let table_rows = file
            .tasks
            .iter()
            .map(|t| {
                let (_, r, created) = &ids[&t.name];
                vec![
                    t.name.clone(),
                    r.clone(),
                    if *created {
                        "created".into()
                    } else {
                        "unchanged".into()
                    },
                    t.title.clone(),
                ]
            })
            .collect();
        say!("{}", table(&["NAME", "TASK", "", "TITLE"], table_rows));
        let rules = super::pipeline_rules::text(rules);
        if !rules.is_empty() {
            say!("{rules}");
        }
    })
}

#[cfg(test)]
mod tests;
