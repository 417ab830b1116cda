//! The Graph view.

use super::*;

#[test]
fn graph_view() {
    snap_view(View::Graph, "graph");
}
