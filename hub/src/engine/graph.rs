//! The dependency graph as a read model: cycle refusal, layers (longest path from a root) and
//! phases (the cascade waves that released tasks), so the CLI, the console and agents reason
//! about the same picture.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use orchestratia_proto::TaskStatus;
use orchestratia_proto::api::GraphPhase;
use petgraph::graphmap::DiGraphMap;
use uuid::Uuid;

/// Builds a directed graph upstream → downstream from `(upstream, downstream)` pairs.
fn build(edges: &[(Uuid, Uuid)]) -> DiGraphMap<Uuid, ()> {
    let mut g = DiGraphMap::new();
    for &(a, b) in edges {
        g.add_edge(a, b, ());
    }
    g
}

/// If adding `upstream → downstream` to `edges` would close a cycle, the cycle as a path that
/// starts and ends at `upstream` (`[upstream, downstream, …, upstream]`).
pub fn find_cycle(edges: &[(Uuid, Uuid)], upstream: Uuid, downstream: Uuid) -> Option<Vec<Uuid>> {
    if upstream == downstream {
        return Some(vec![upstream, upstream]);
    }
    let g = build(edges);
    if !g.contains_node(downstream) || !g.contains_node(upstream) {
        return None;
    }
    // Breadth-first from the new downstream: reaching the new upstream means a cycle.
    let mut parent: HashMap<Uuid, Uuid> = HashMap::new();
    let mut seen: HashSet<Uuid> = HashSet::from([downstream]);
    let mut queue = VecDeque::from([downstream]);
    while let Some(n) = queue.pop_front() {
        if n == upstream {
            let mut path = vec![upstream];
            let mut cur = upstream;
            while cur != downstream {
                cur = parent[&cur];
                path.push(cur);
            }
            path.reverse();
            // path: downstream … upstream; the new edge closes it.
            let mut cycle = vec![upstream];
            cycle.extend(path);
            return Some(cycle);
        }
        for m in g.neighbors(n) {
            if seen.insert(m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    None
}

/// Each node's layer: the length of the longest path to it from a root (roots are layer 0).
pub fn layers(nodes: &[Uuid], edges: &[(Uuid, Uuid)]) -> HashMap<Uuid, i64> {
    let mut g = build(edges);
    for &n in nodes {
        g.add_node(n);
    }
    let mut layer: HashMap<Uuid, i64> = nodes.iter().map(|&n| (n, 0)).collect();
    // The store refuses cycles, so a topological order exists; if one slipped in, the nodes
    // on it keep layer 0 rather than looping.
    if let Ok(order) = petgraph::algo::toposort(&g, None) {
        for n in order {
            let l = layer.get(&n).copied().unwrap_or(0);
            for m in g.neighbors(n) {
                let e = layer.entry(m).or_insert(0);
                *e = (*e).max(l + 1);
            }
        }
    }
    layer
}

/// What the phase read model needs to know of one task.
#[derive(Debug, Clone)]
pub struct PhaseFacts {
    pub reference: String,
    pub number: i64,
    pub status: TaskStatus,
    pub phase: Option<i64>,
    /// Reference of the completed task whose cascade released it; `None` for a manual release.
    pub released_by: Option<String>,
    /// It has no dependents.
    pub leaf: bool,
}

/// The cascade waves in the order they released tasks, closed by an "all done" phase listing
/// the leaf tasks once every task of the project is done (the shape of docs/WORKFLOWS.md
/// workflow 6).
pub fn phases(tasks: &[PhaseFacts]) -> (Vec<GraphPhase>, bool) {
    let mut waves: BTreeMap<i64, Vec<&PhaseFacts>> = BTreeMap::new();
    for t in tasks {
        if let Some(p) = t.phase {
            waves.entry(p).or_default().push(t);
        }
    }
    let mut out: Vec<GraphPhase> = waves
        .into_iter()
        .map(|(phase, mut ts)| {
            ts.sort_by_key(|t| t.number);
            let released_by = ts.iter().find_map(|t| t.released_by.clone());
            GraphPhase {
                phase,
                released: ts.iter().map(|t| t.reference.clone()).collect(),
                trigger: if released_by.is_some() {
                    "cascade"
                } else {
                    "manual"
                }
                .to_string(),
                released_by,
                completed: Vec::new(),
            }
        })
        .collect();
    let all_done = !tasks.is_empty() && tasks.iter().all(|t| t.status == TaskStatus::Done);
    if all_done {
        let mut leaves: Vec<&PhaseFacts> = tasks.iter().filter(|t| t.leaf).collect();
        leaves.sort_by_key(|t| t.number);
        out.push(GraphPhase {
            phase: out.last().map(|p| p.phase + 1).unwrap_or(1),
            released: Vec::new(),
            trigger: "done".to_string(),
            released_by: None,
            completed: leaves.iter().map(|t| t.reference.clone()).collect(),
        });
    }
    (out, all_done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn refuses_cycles_and_names_the_path() {
        let t = ids(3);
        let edges = vec![(t[0], t[1]), (t[1], t[2])];
        // t2 → t0 would close t0 → t1 → t2 → t0.
        let cycle = find_cycle(&edges, t[2], t[0]).unwrap();
        assert_eq!(cycle, vec![t[2], t[0], t[1], t[2]]);
        assert!(find_cycle(&edges, t[0], t[2]).is_none());
        assert_eq!(find_cycle(&edges, t[1], t[1]), Some(vec![t[1], t[1]]));
        let lone = Uuid::new_v4();
        assert!(find_cycle(&edges, lone, t[0]).is_none());
    }

    #[test]
    fn layers_are_longest_paths() {
        // The seven-task graph of docs/WORKFLOWS.md workflow 6.
        let t = ids(7);
        let e = vec![
            (t[0], t[1]),
            (t[0], t[2]),
            (t[0], t[3]),
            (t[1], t[4]),
            (t[1], t[5]),
            (t[2], t[5]),
            (t[3], t[5]),
            (t[1], t[6]),
        ];
        let l = layers(&t, &e);
        assert_eq!(l[&t[0]], 0);
        assert_eq!(l[&t[1]], 1);
        assert_eq!(l[&t[5]], 2);
        assert_eq!(l[&t[6]], 2);
        let extra = Uuid::new_v4();
        let l = layers(&[extra], &[]);
        assert_eq!(l[&extra], 0);
    }

    #[test]
    fn phases_follow_release_waves_then_all_done() {
        let f = |n: i64, phase: i64, by: Option<&str>, leaf: bool| PhaseFacts {
            reference: format!("T{n}"),
            number: n,
            status: TaskStatus::Done,
            phase: Some(phase),
            released_by: by.map(str::to_string),
            leaf,
        };
        let tasks = vec![
            f(1, 1, None, false),
            f(2, 2, Some("T1"), false),
            f(3, 2, Some("T1"), false),
            f(4, 2, Some("T1"), false),
            f(5, 3, Some("T2"), true),
            f(7, 3, Some("T2"), true),
            f(6, 4, Some("T4"), true),
        ];
        let (p, done) = phases(&tasks);
        assert!(done);
        assert_eq!(p.len(), 5);
        assert_eq!(p[0].trigger, "manual");
        assert_eq!(p[1].released, vec!["T2", "T3", "T4"]);
        assert_eq!(p[2].released, vec!["T5", "T7"]);
        assert_eq!(p[3].released_by.as_deref(), Some("T4"));
        assert_eq!(p[4].trigger, "done");
        assert_eq!(p[4].completed, vec!["T5", "T6", "T7"]);

        let mut open = tasks.clone();
        open[6].status = TaskStatus::Running;
        let (p, done) = phases(&open);
        assert!(!done);
        assert_eq!(p.len(), 4);
    }
}
