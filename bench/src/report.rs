//! The machine's description and the results table (printed, and written as Markdown).

use std::fmt::Write;

pub struct Row {
    pub scenario: String,
    /// Throughput and its unit (req/s, rows/s), or a single figure (MiB).
    pub figure: Option<(f64, &'static str)>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The ratio that decides the target, said in words (e.g. "0.62× baseline").
    pub ratio: String,
    pub target: String,
    pub pass: Option<bool>,
}

impl Row {
    pub fn new(scenario: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            figure: None,
            p50_ms: None,
            p99_ms: None,
            ratio: String::new(),
            target: String::new(),
            pass: None,
        }
    }

    fn cells(&self) -> [String; 7] {
        let figure = match self.figure {
            Some((value, unit)) if unit == "MiB" => format!("{value:.1} {unit}"),
            Some((value, unit)) => format!("{value:.0} {unit}"),
            None => "—".into(),
        };
        let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
        [
            self.scenario.clone(),
            figure,
            ms(self.p50_ms),
            ms(self.p99_ms),
            if self.ratio.is_empty() { "—".into() } else { self.ratio.clone() },
            if self.target.is_empty() { "—".into() } else { self.target.clone() },
            match self.pass {
                Some(true) => "PASS".into(),
                Some(false) => "FAIL".into(),
                None => "—".into(),
            },
        ]
    }
}

const HEADERS: [&str; 7] = ["Scenario", "Throughput", "p50 ms", "p99 ms", "Ratio", "Target", "Result"];

/// A Markdown table, padded so that it also reads well in a terminal.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 7]> = rows.iter().map(Row::cells).collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let pad = width - cell.chars().count();
            // Figures right-aligned, words left-aligned.
            if (1..=3).contains(&index) {
                let _ = write!(out, " {}{cell} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&HEADERS.map(String::from));
    out.push('|');
    for (index, width) in widths.iter().enumerate() {
        if (1..=3).contains(&index) {
            let _ = write!(out, " {}: |", "-".repeat(width - 1));
        } else {
            let _ = write!(out, " {} |", "-".repeat(*width));
        }
    }
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

/// CPU model, cores, memory, OS, rustc and date.
pub fn machine() -> Vec<(&'static str, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    let os_name = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| std::env::consts::OS.into());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into());
    vec![
        ("CPU", cpu),
        ("Cores", cores.to_string()),
        ("Memory", memory),
        ("OS", format!("{os_name}, Linux {kernel}")),
        ("rustc", rustc),
        ("Date", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()),
    ]
}
