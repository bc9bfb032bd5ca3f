//! The second load generator: Debian's `wrk` with one thread and C connections
//! (`wrk -t1 -c32 --latency`). It costs the machine less CPU than the bench's own client, which
//! shares the same cores as the server, so a ratio measured with it flatters nothing. It checks
//! no body: every answer must be 2xx, and the same requests are checked by the bench's own
//! client in the same run.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Measured {
    /// Turns of the same load, as one: requests per second over the whole time, the mean p50
    /// and the worst p99 (wrk reports percentiles, not the latencies that would merge exactly).
    pub fn merge(parts: &[Measured]) -> Measured {
        let n = parts.len().max(1) as f64;
        Measured {
            rps: parts.iter().map(|m| m.rps).sum::<f64>() / n,
            p50_ms: parts.iter().map(|m| m.p50_ms).sum::<f64>() / n,
            p99_ms: parts.iter().map(|m| m.p99_ms).fold(0.0, f64::max),
        }
    }
}

/// Whether `wrk` can be run here.
pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// GETs of `path_format` (a Lua `string.format` pattern with one `%07d`, filled with a random
/// index below `count`) at `address` with this bearer token, for `duration`.
pub fn run(
    dir: &Path,
    address: SocketAddr,
    path_format: &str,
    count: u64,
    token: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let script = dir.join("wrk-request.lua");
    std::fs::write(
        &script,
        format!(
            "math.randomseed(42)\n\
             local headers = {{[\"Authorization\"] = \"Bearer {token}\"}}\n\
             request = function()\n\
             \x20 return wrk.format(\"GET\", string.format(\"{path_format}\", math.random(0, {last})), headers)\n\
             end\n",
            last = count.saturating_sub(1)
        ),
    )?;
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{}s", duration.as_secs().max(1)), "--latency"])
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{address}"))
        .output()
        .context("cannot run wrk (Debian: apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
    }
    parse(&text)
}

/// Reads requests per second and the 50th and 99th latency percentiles from wrk's report;
/// an answer that was not 2xx, or a socket error, fails the run.
fn parse(report: &str) -> anyhow::Result<Measured> {
    if let Some(line) = report.lines().find(|line| line.contains("Non-2xx or 3xx responses")) {
        bail!("wrk saw wrong answers: {}", line.trim());
    }
    if let Some(line) = report.lines().find(|line| line.trim_start().starts_with("Socket errors")) {
        bail!("wrk saw socket errors: {}", line.trim());
    }
    let field = |prefix: &str| {
        report
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no {prefix:?} in wrk's report:\n{report}"))
    };
    let rps = field("Requests/sec:")?.parse().context("requests per second")?;
    Ok(Measured { rps, p50_ms: latency_ms(field("50%")?)?, p99_ms: latency_ms(field("99%")?)? })
}

/// `350.00us`, `1.20ms` or `2.00s` in milliseconds.
fn latency_ms(text: &str) -> anyhow::Result<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).context("a latency without a unit")?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().with_context(|| format!("latency {text}"))?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => bail!("latency unit {unit}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:4000
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   452.12us  210.33us   8.10ms   90.12%
    Req/Sec    71.20k     2.10k   75.00k    80.00%
  Latency Distribution
     50%  410.00us
     75%  520.00us
     90%  650.00us
     99%    1.21ms
  712345 requests in 10.00s, 420.00MB read
Requests/sec:  71234.50
Transfer/sec:     42.00MB
";

    #[test]
    fn reads_the_rate_and_percentiles_of_a_report() {
        let measured = parse(REPORT).expect("parsed");
        assert_eq!(measured.rps, 71234.5);
        assert!((measured.p50_ms - 0.41).abs() < 1e-9, "{measured:?}");
        assert!((measured.p99_ms - 1.21).abs() < 1e-9, "{measured:?}");
    }

    #[test]
    fn a_report_with_wrong_answers_fails() {
        let report = REPORT.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec");
        assert!(parse(&report).is_err());
    }
}
