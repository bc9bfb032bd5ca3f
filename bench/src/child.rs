//! Server child processes: the bench re-executes itself with a hidden subcommand, reads the bound
//! address from the child's stdout, and kills the child when the handle is dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Server {
    pub name: String,
    pub address: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `aeo-bench <args>` and waits (up to `within`) for its `LISTENING` line.
    pub fn spawn(name: &str, args: &[String], log_dir: &Path, within: Duration) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("cannot find the bench executable")?;
        let log = log_dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(exe)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .with_context(|| format!("cannot start the {name} server"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (found, receive) = std::sync::mpsc::channel::<SocketAddr>();
        // Reads the address, then keeps draining stdout so that the child never blocks on it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(address) = line.strip_prefix("LISTENING ").and_then(|a| a.trim().parse().ok()) {
                    let _ = found.send(address);
                    sent = true;
                }
            }
        });
        let started = Instant::now();
        let mut server = Server { name: name.into(), address: "0.0.0.0:0".parse()?, child, log };
        loop {
            match receive.recv_timeout(Duration::from_millis(100)) {
                Ok(address) => {
                    server.address = address;
                    return Ok(server);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = server.child.try_wait()? {
                        bail!("the {name} server exited with {status}:\n{}", server.log_tail());
                    }
                    if started.elapsed() > within {
                        bail!("the {name} server did not start within {within:?}:\n{}", server.log_tail());
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait()?;
                    bail!("the {name} server exited with {status}:\n{}", server.log_tail());
                }
            }
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory (VmHWM) in KiB.
    pub fn peak_memory_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }

    /// CPU time the server has used so far (user and system), in clock ticks.
    fn cpu_ticks(&self) -> anyhow::Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> =
            stat.rsplit_once(')').context("unreadable /proc/<pid>/stat")?.1.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok());
        // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
        ticks(11).zip(ticks(12)).map(|(user, system)| user + system).context("no CPU times in /proc/<pid>/stat")
    }

    /// Waits until the server is idle (under a twentieth of a core over half a second), so
    /// that what it does in the background after a setup (signing statements ahead, say) is
    /// not measured as part of the next scenario; at most `patience`. Answers how long it took.
    pub async fn settle(&self, patience: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let window = Duration::from_millis(500);
        // Clock ticks per second: 100 on Linux everywhere it runs.
        let busy_ticks = (100.0 * window.as_secs_f64() / 20.0).ceil() as u64;
        while started.elapsed() < patience {
            let before = self.cpu_ticks()?;
            tokio::time::sleep(window).await;
            if self.cpu_ticks()?.saturating_sub(before) <= busy_ticks {
                break;
            }
        }
        Ok(started.elapsed())
    }

    /// Fails when the server has died meanwhile.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the {} server exited with {status}:\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server: SIGTERM for a clean shutdown, SIGKILL after a grace period.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}
