//! The Servers view.

use super::*;

#[test]
fn servers_view() {
    snap_view(View::Servers, "servers");
}
