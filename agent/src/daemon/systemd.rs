//! `orchestratia-agent service`: the systemd unit that runs the daemon.

use std::path::Path;

/// The unit text for a daemon run with `config`.
pub fn unit(exe: &Path, config: &Path, user: &str) -> String {
    format!(
        "# Orchestratia agent daemon.
# Install: sudo tee /etc/systemd/system/orchestratia-agent.service, then
#   sudo systemctl daemon-reload && sudo systemctl enable --now orchestratia-agent
[Unit]
Description=Orchestratia agent daemon ({config})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
ExecStart={exe} --config {config}
Restart=on-failure
RestartSec=5
# 78: the hub refused this server's key (revoked); restarting will not help.
RestartPreventExitStatus=78
# Agents run in tmux sessions that the daemon starts. The tmux server is a child of the
# daemon's cgroup, and the default KillMode=control-group would kill it (and every agent in it)
# whenever systemd restarts a crashed daemon. KillMode=process stops only the daemon; the new
# daemon reattaches to the agents that kept running.
KillMode=process

[Install]
WantedBy=multi-user.target
",
        exe = exe.display(),
        config = config.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_agents_alive_across_restarts() {
        let u = unit(
            Path::new("/usr/bin/orchestratia-agent"),
            Path::new("/etc/orc/config.yaml"),
            "dev",
        );
        assert!(u.contains("KillMode=process"));
        assert!(u.contains("ExecStart=/usr/bin/orchestratia-agent --config /etc/orc/config.yaml"));
        assert!(u.contains("User=dev"));
    }
}
