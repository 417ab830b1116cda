//! What a replica measures about itself for `GET /status` and the load benchmark: sockets
//! held and how long heartbeats take to process.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Heartbeat timings kept for the percentile (the most recent ones).
const KEPT: usize = 8_192;

/// Counters and recent timings.
#[derive(Default)]
pub struct Metrics {
    consoles: AtomicU64,
    heartbeats: Mutex<VecDeque<u32>>,
}

impl Metrics {
    /// A console socket opened.
    pub fn console_opened(&self) {
        self.consoles.fetch_add(1, Ordering::Relaxed);
    }

    /// A console socket closed.
    pub fn console_closed(&self) {
        self.consoles.fetch_sub(1, Ordering::Relaxed);
    }

    /// Console sockets open now.
    pub fn consoles(&self) -> u64 {
        self.consoles.load(Ordering::Relaxed)
    }

    /// A heartbeat took `d` to process.
    pub fn heartbeat(&self, d: Duration) {
        let us = d.as_micros().min(u32::MAX as u128) as u32;
        let mut h = self.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
        if h.len() == KEPT {
            h.pop_front();
        }
        h.push_back(us);
    }

    /// The 99th percentile of the recent heartbeats' processing time, in microseconds.
    pub fn heartbeat_p99_us(&self) -> Option<u64> {
        let mut v: Vec<u32> = self
            .heartbeats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let i = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
        Some(v[i] as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_of_recent_heartbeats() {
        let m = Metrics::default();
        assert_eq!(m.heartbeat_p99_us(), None);
        for i in 1..=100 {
            m.heartbeat(Duration::from_micros(i));
        }
        assert_eq!(m.heartbeat_p99_us(), Some(99));
        m.console_opened();
        m.console_opened();
        m.console_closed();
        assert_eq!(m.consoles(), 1);
    }
}
