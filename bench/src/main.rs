//! `cargo run --release -p aeo-bench`: generates data sets, starts real registry nodes as
//! separate processes, loads them from a load generator in this process, and prints (and writes
//! to BENCHMARKS.md) a table of throughput and latency with every figure compared, in the same
//! run, to a baseline measured on the same machine. `--quick` is the CI smoke test: small data,
//! short measurements, every answer checked; it exits non-zero on any wrong answer.

mod api;
mod child;
mod data;
mod load;
mod report;
mod serve;
mod wrk;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hyper::header::{AUTHORIZATION, COOKIE, HeaderValue};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::Api;
use crate::child::Server;
use crate::load::{Generator, Load, Measured, Req, Rng};
use crate::report::Row;

/// The registry's own allocator, so that the node, the baseline server and the plain insert
/// allocate alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "aeo-bench", about = "End-to-end benchmark of aeo-registry")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// A registry node (run by the bench itself).
    #[command(hide = true)]
    Node(serve::NodeArgs),
    /// The baseline server (run by the bench itself).
    #[command(hide = true)]
    Baseline(serve::BaselineArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Small data sets and short measurements (the CI smoke test); writes no file unless --out.
    #[arg(long)]
    quick: bool,
    /// Where to write the report [default: BENCHMARKS.md at the repository root, full runs only].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per measurement [default: 10, or 2 with --quick].
    #[arg(long)]
    duration: Option<f64>,
    /// Certificates of the mid size, where statements are measured [default: 100000, or 5000
    /// with --quick]: a quick run at the full run's size, to profile one scenario.
    #[arg(long)]
    mid: Option<u64>,
    /// PostgreSQL maintenance connection [default: $AEO_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test].
    #[arg(long)]
    postgres_url: Option<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Node(args)) => serve::node(args),
        Some(Command::Baseline(args)) => serve::baseline(args),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("runtime")
            .and_then(|runtime| runtime.block_on(run(cli.run))),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("aeo-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Sizes and durations of a run.
struct Plan {
    quick: bool,
    /// Local recognition at the small, mid and (full runs) big size.
    small: u64,
    mid: u64,
    big: Option<u64>,
    /// Certificates of the issuer asked live.
    live: u64,
    /// Rows per import request.
    chunk: u64,
    warmup: Duration,
    duration: Duration,
    concurrency: usize,
    /// Status changes timed from one node to its peer.
    changes: usize,
}

impl Plan {
    fn new(args: &RunArgs) -> Plan {
        let duration = |default: f64| Duration::from_secs_f64(args.duration.unwrap_or(default));
        if args.quick {
            Plan {
                quick: true,
                small: 2_000,
                mid: args.mid.unwrap_or(5_000),
                big: None,
                live: 2_000,
                chunk: 50_000,
                warmup: Duration::from_millis(500),
                duration: duration(2.0),
                concurrency: args.concurrency,
                changes: 20,
            }
        } else {
            Plan {
                quick: false,
                small: 10_000,
                mid: args.mid.unwrap_or(100_000),
                big: Some(1_000_000),
                live: 10_000,
                chunk: 50_000,
                warmup: Duration::from_secs(1),
                duration: duration(10.0),
                concurrency: args.concurrency,
                changes: 200,
            }
        }
    }
}

/// What a run shares: its plan, its temporary directory, and every wrong answer seen.
struct Ctx {
    plan: Plan,
    dir: tempfile::TempDir,
    wrong: Vec<String>,
}

fn size(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn say(message: impl AsRef<str>) {
    eprintln!("[{}] {}", chrono::Utc::now().format("%H:%M:%S"), message.as_ref());
}

impl Ctx {
    fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}?mode=rwc", self.dir.path().join(format!("{name}.db")).display())
    }

    fn start_node(
        &self,
        name: &str,
        database_url: &str,
        statement_ttl: u64,
        public_rate_limit: u32,
    ) -> anyhow::Result<Server> {
        self.start_node_as(name, name, database_url, statement_ttl, public_rate_limit, &[])
    }

    /// `key` names the node secret: the same key and database make the same node again.
    fn start_node_as(
        &self,
        name: &str,
        key: &str,
        database_url: &str,
        statement_ttl: u64,
        public_rate_limit: u32,
        more: &[&str],
    ) -> anyhow::Result<Server> {
        let args: Vec<String> = [
            "node",
            "--database-url",
            database_url,
            "--key-file",
            &self.dir.path().join(format!("{key}.key")).display().to_string(),
            "--statement-ttl",
            &statement_ttl.to_string(),
            "--public-rate-limit",
            &public_rate_limit.to_string(),
        ]
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .collect();
        Server::spawn(name, &args, self.dir.path(), Duration::from_secs(120))
    }

    /// Runs one load and keeps any wrong answer.
    async fn measure(
        &mut self,
        scenario: &str,
        address: std::net::SocketAddr,
        generator: Generator,
        expect: &[&str],
    ) -> anyhow::Result<Measured> {
        let concurrency = self.plan.concurrency;
        self.measure_with(scenario, address, generator, expect, concurrency).await
    }

    /// Like [`Ctx::measure`], with `concurrency` connections.
    async fn measure_with(
        &mut self,
        scenario: &str,
        address: std::net::SocketAddr,
        generator: Generator,
        expect: &[&str],
        concurrency: usize,
    ) -> anyhow::Result<Measured> {
        say(format!("measuring {scenario} ({concurrency} connections, {:?})", self.plan.duration));
        let measured = load::run(Load {
            address,
            concurrency,
            warmup: self.plan.warmup,
            duration: self.plan.duration,
            generator,
            expect: expect.iter().map(|s| s.to_string()).collect(),
        })
        .await?;
        self.keep(scenario, &measured);
        Ok(measured)
    }

    /// Says what a load measured, and keeps any wrong answer.
    fn keep(&mut self, scenario: &str, measured: &Measured) {
        say(format!(
            "  {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} requests, {} wrong{}",
            measured.rps,
            measured.p50_ms,
            measured.p99_ms,
            measured.requests,
            measured.errors,
            if measured.ran_out { " (ran out of requests before the time was up)" } else { "" }
        ));
        if measured.errors > 0 {
            self.wrong.push(format!(
                "{scenario}: {} wrong answers; first: {}",
                measured.errors,
                measured.first_error.clone().unwrap_or_default()
            ));
        }
        if measured.requests == 0 {
            self.wrong.push(format!("{scenario}: no request completed"));
        }
    }

    /// Measures the scenarios in `ROUNDS` alternating turns, a slice of the time each (after half
    /// the warm-up), so that a slow spell of the shared machine weighs on every side of a ratio
    /// alike.
    async fn in_turns<const N: usize>(&mut self, turns: [Turn<'_>; N]) -> anyhow::Result<[Measured; N]> {
        let full = (self.plan.warmup, self.plan.duration);
        self.plan.warmup = full.0 / 2;
        self.plan.duration = full.1 / ROUNDS;
        let mut parts: [Vec<Measured>; N] = std::array::from_fn(|_| Vec::new());
        for round in 1..=ROUNDS {
            say(format!("round {round} of {ROUNDS}"));
            for (turn, parts) in turns.iter().zip(parts.iter_mut()) {
                // An error ends the whole run, so the plan need not be restored on the way out.
                parts.push(self.measure(&turn.scenario, turn.address, turn.generator.clone(), turn.expect).await?);
            }
        }
        (self.plan.warmup, self.plan.duration) = full;
        let mut merged = Vec::with_capacity(N);
        for parts in parts {
            merged.push(Measured::merge(parts)?);
        }
        merged.try_into().map_err(|_| anyhow::anyhow!("one measurement per turn"))
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            say(format!("WRONG: {what}"));
            self.wrong.push(what);
        }
    }
}

/// One scenario measured in turns with others.
#[derive(Clone)]
struct Turn<'a> {
    scenario: String,
    address: std::net::SocketAddr,
    generator: Generator,
    expect: &'a [&'a str],
}

/// A node hosting CL (the issuer, with `count` certificates) and PE (where the border officer
/// asks), with their MRA records.
struct LocalNode {
    server: Server,
    api: Api,
    cl: String,
    border: String,
    /// Rows imported and the time the import requests took.
    imported: (u64, Duration),
    /// Peak memory (KiB) of the process that imported, before the restart.
    import_peak: u64,
}

async fn import(api: &Api, token: &str, code: &str, count: u64, chunk: u64) -> anyhow::Result<(u64, Duration)> {
    let mut total = Duration::ZERO;
    let mut start = 0;
    while start < count {
        let end = (start + chunk).min(count);
        let body = data::csv(code, start..end);
        let (created, took) = api.import_csv(token, code, body).await?;
        anyhow::ensure!(created == end - start, "import of rows {start}..{end} created {created}");
        total += took;
        if count > chunk {
            say(format!(
                "  imported {} of {} ({:.0} rows/s)",
                size(end),
                size(count),
                (end - start) as f64 / took.as_secs_f64()
            ));
        }
        start = end;
    }
    Ok((count, total))
}

async fn local_node(
    ctx: &Ctx,
    name: &str,
    database_url: &str,
    count: u64,
    public_rate_limit: u32,
) -> anyhow::Result<LocalNode> {
    let (server, imported) = importing_node(ctx, name, database_url, count, public_rate_limit).await?;
    // Measured in a fresh process on the same database, so that the peak memory is that of
    // serving and nothing is left over from the import.
    let import_peak = server.peak_memory_kib()?;
    server.stop();
    data::settle(database_url).await?;
    let server = ctx.start_node_as(&format!("{name}-serving"), name, database_url, 300, public_rate_limit, &[])?;
    let api = Api::new(server.base())?;
    let cl = api.login("admin@cl.bench.aeo", api::PASSWORD).await?;
    let border = api.login("border@pe.bench.aeo", api::PASSWORD).await?;
    // A node that starts fills its memory with summaries in the background: measured after it.
    let settled = server.settle(SETTLE_PATIENCE).await?;
    say(format!("{name}: the node was idle after {:.1} s", settled.as_secs_f64()));
    Ok(LocalNode { server, api, cl, border, imported, import_peak })
}

/// A node on a fresh database with CL, PE and their MRA records, once it has imported `count`
/// certificates of CL; with the rows imported and the time the import requests took.
async fn importing_node(
    ctx: &Ctx,
    name: &str,
    database_url: &str,
    count: u64,
    public_rate_limit: u32,
) -> anyhow::Result<(Server, (u64, Duration))> {
    say(format!("starting {name} and importing {} certificates", size(count)));
    let server = ctx.start_node(name, database_url, 300, public_rate_limit)?;
    let api = Api::new(server.base())?;
    let platform = api.platform_token().await?;
    let cl = api.administration(&platform, "CL").await?;
    let pe = api.administration(&platform, "PE").await?;
    api.border_officer(&platform, "PE").await?;
    api.mra(&pe, "PE", "CL").await?;
    api.mra(&cl, "CL", "PE").await?;
    let imported = import(&api, &cl, "CL", count, ctx.plan.chunk).await?;
    Ok((server, imported))
}

fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

/// Node arguments that leave no room for certificate summaries.
const IN_PLACE: [&str; 2] = ["--summary-cache-mib", "0"];

/// Recognition at `at` of a random one of `issuer`'s `count` certificates.
fn recognition(at: &'static str, issuer: &'static str, count: u64, token: &str) -> anyhow::Result<Generator> {
    let auth = bearer(token)?;
    Ok(Arc::new(move |rng: &mut Rng| {
        let number = data::number(issuer, rng.below(count));
        Some(Req {
            path: format!("/api/v1/administrations/{at}/recognition?issuer={issuer}&certificate={number}"),
            auth: Some((AUTHORIZATION, auth.clone())),
        })
    }))
}

fn fixed(path: &str) -> Generator {
    let path = path.to_owned();
    Arc::new(move |_: &mut Rng| Some(Req { path: path.clone(), auth: None }))
}

const RECOGNIZED: &str = "\"recognized\":true";

/// What every local recognition answer of the bench must hold.
const RECOGNIZED_LOCALLY: [&str; 2] = [RECOGNIZED, "\"source\":\"local\""];

/// Local recognition at PE of a random one of CL's `count` certificates, at `address`.
fn local_recognition(
    scenario: String,
    address: std::net::SocketAddr,
    count: u64,
    token: &str,
) -> anyhow::Result<Turn<'static>> {
    Ok(Turn { scenario, address, generator: recognition("PE", "CL", count, token)?, expect: &RECOGNIZED_LOCALLY })
}

/// Turns in which scenarios compared with each other are measured.
const ROUNDS: u32 = 5;
/// How long a node is waited for to be idle before it is measured.
const SETTLE_PATIENCE: Duration = Duration::from_secs(120);

/// Turns of the import and of the plain insert of the same rows.
const IMPORT_ROUNDS: u32 = 3;

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let plan = Plan::new(&args);
    let postgres_admin = args
        .postgres_url
        .clone()
        .or_else(|| std::env::var("AEO_TEST_POSTGRES_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let out = match (&args.out, plan.quick) {
        (Some(path), _) => Some(path.clone()),
        (None, false) => {
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("BENCHMARKS.md"))
        }
        (None, true) => None,
    };
    let started = Instant::now();
    let mut ctx = Ctx { plan, dir: tempfile::Builder::new().prefix("aeo-bench-").tempdir()?, wrong: Vec::new() };
    let mut rows = Vec::new();
    let (small, mid) = (ctx.plan.small, ctx.plan.mid);

    // 1. SQLite, mid size: the import, then baseline, health, public check, local recognition
    //    and a federation statement, side by side.
    let node = local_node(&ctx, "sqlite-mid", &ctx.sqlite_url("sqlite-mid"), mid, 1_000_000_000).await?;
    // Registered long before it asks, as a partner is: CL's node signs its statements ahead, at
    // the lowest priority but with its writes, for seconds. Measured after that too (in one run
    // local recognition fell from 33k to 22k req/s while the first round overlapped it).
    let zx = Partner::register(&node).await?;
    let settled = node.server.settle(SETTLE_PATIENCE).await?;
    say(format!("the node was idle after {:.1} s (statements signed ahead)", settled.as_secs_f64()));
    let node_imported = node.imported;
    let (status, answer) =
        raw_get(&node.api, "/api/v1/administrations/PE/recognition?issuer=CL&certificate=CL-OEA-0000001", &node.border)
            .await?;
    ctx.check(
        status == 200 && answer.contains(RECOGNIZED) && answer.contains("\"source\":\"local\""),
        format!("sample answer: {status} {answer}"),
    );
    let answer_size = answer.len();
    say(format!("a recognition answer is {answer_size} bytes; starting the baseline server"));
    let baseline_server = Server::spawn(
        "baseline",
        &["baseline".into(), "--size".into(), answer_size.to_string()],
        ctx.dir.path(),
        Duration::from_secs(30),
    )?;
    // The very requests of the local recognition below (same paths, same bearer token), so that
    // both sides of the ratio read and send the same bytes and cost the load generator the same.
    let address = node.server.address;
    let local = local_recognition(format!("local recognition, SQLite {}", size(mid)), address, mid, &node.border)?;
    let baseline = Turn { scenario: "baseline".into(), address: baseline_server.address, expect: &[], ..local.clone() };
    // The border page asks the same questions as a signed-in officer's browser does, in the same
    // turns as the API it is compared with.
    let border_page = {
        let cookie = node.api.session("border@pe.bench.aeo", api::PASSWORD).await?;
        let cookie = HeaderValue::from_str(&cookie)?;
        let generator: Generator = Arc::new(move |rng: &mut Rng| {
            Some(Req {
                path: format!("/border?issuer=CL&q={}", data::number("CL", rng.below(mid))),
                auth: Some((COOKIE, cookie.clone())),
            })
        });
        Turn { scenario: "border page".into(), address, generator, expect: &["data-verdict=\"recognized\""] }
    };
    let [baseline, local_mid, border_page] = ctx.in_turns([baseline, local, border_page]).await?;
    // The same two with wrk as the load generator, in turns too.
    let with_wrk = match (wrk::available(), ctx.plan.quick) {
        (true, _) => Some(wrk_turns(&ctx, baseline_server.address, address, mid, &node.border)?),
        (false, true) => {
            say("wrk is not installed: the quick run measures with the bench's own client only");
            None
        }
        (false, false) => bail!("the full run needs wrk as a second load generator (Debian: apt-get install wrk)"),
    };
    baseline_server.stop();
    say(format!(
        "  baseline {:.0} req/s, local recognition {:.0} req/s over {ROUNDS} rounds",
        baseline.rps, local_mid.rps
    ));
    let health = ctx.measure("/health", address, fixed("/health"), &["ok"]).await?;
    let public = {
        let generator: Generator = Arc::new(move |rng: &mut Rng| {
            Some(Req {
                path: format!("/api/v1/public/administrations/CL/certificates/{}", data::number("CL", rng.below(mid))),
                auth: None,
            })
        });
        ctx.measure("public check", address, generator, &["\"status\":\"active\""]).await?
    };
    let (statement, verify_floor) = statement_scenario(&mut ctx, &node, &zx, local_mid.rps).await?;
    // Quick runs search the mid node; full runs the big one, below.
    let mut searched = match ctx.plan.big {
        None => Some(search_scenarios(&mut ctx, &node, mid).await?),
        Some(_) => None,
    };
    let mid_memory = node.server.peak_memory_kib()?;
    let mid_import_peak = node.import_peak;
    let mut node = node;
    node.server.check_alive()?;
    node.server.stop();

    rows.push(Row {
        figure: Some((baseline.rps, "req/s")),
        p50_ms: Some(baseline.p50_ms),
        p99_ms: Some(baseline.p99_ms),
        ratio: "1.00× baseline".into(),
        ..Row::new(format!("Baseline: bare axum, constant {answer_size}-byte body"))
    });
    let vs_baseline = |m: &Measured| format!("{:.2}× baseline", m.rps / baseline.rps);
    rows.push(Row {
        figure: Some((health.rps, "req/s")),
        p50_ms: Some(health.p50_ms),
        p99_ms: Some(health.p99_ms),
        ratio: vs_baseline(&health),
        ..Row::new("GET /health")
    });
    rows.push(Row {
        figure: Some((public.rps, "req/s")),
        p50_ms: Some(public.p50_ms),
        p99_ms: Some(public.p99_ms),
        ratio: vs_baseline(&public),
        ..Row::new(format!("Public check, SQLite {}", size(mid)))
    });

    // Server time per answer, as the inverse of the rate each reaches with the same client.
    let page_time = local_mid.rps / border_page.rps;
    rows.push(Row {
        figure: Some((border_page.rps, "req/s")),
        p50_ms: Some(border_page.p50_ms),
        p99_ms: Some(border_page.p99_ms),
        ratio: format!("{page_time:.2}× the API's server time"),
        target: "≤ 1.50× the API's server time".into(),
        pass: Some(page_time <= 1.5),
        ..Row::new(format!("Border page (HTML, signed in), SQLite {}", size(mid)))
    });

    // 2. The import against its baseline, the plain insert of the same rows, in turns: each
    //    takes a second or two, too short for one try of each to weigh alike on a noisy machine.
    //    The first turn's import is the mid node's, above.
    let (mut imported, mut plain) = (node_imported, (0, Duration::ZERO));
    for round in 1..=IMPORT_ROUNDS {
        if round > 1 {
            let name = format!("import-{round}");
            let (server, (rows, took)) = importing_node(&ctx, &name, &ctx.sqlite_url(&name), mid, 60).await?;
            server.stop();
            (imported.0, imported.1) = (imported.0 + rows, imported.1 + took);
        }
        say(format!("plain insert of {} rows (sea-orm insert_many, 500 per statement, one transaction)", size(mid)));
        plain.1 += data::plain_insert(&ctx.sqlite_url(&format!("plain-insert-{round}")), "CL", mid).await?;
        plain.0 += mid;
    }
    let import_rate = imported.0 as f64 / imported.1.as_secs_f64();
    let plain_rate = plain.0 as f64 / plain.1.as_secs_f64();
    say(format!("  over {IMPORT_ROUNDS} turns: plain insert {plain_rate:.0} rows/s; import {import_rate:.0} rows/s"));

    // 3. Small and (full runs) big local recognition, measured in turns: the ratio between the
    //    two sizes is a target.
    let small_node = local_node(&ctx, "sqlite-small", &ctx.sqlite_url("sqlite-small"), small, 60).await?;
    let small_turn = local_recognition(
        format!("local recognition, SQLite {}", size(small)),
        small_node.server.address,
        small,
        &small_node.border,
    )?;
    let (big_size, local_small, local_big, in_place_big, big_memory, big_import_peak) = match ctx.plan.big {
        Some(big) => {
            let node = local_node(&ctx, "sqlite-big", &ctx.sqlite_url("sqlite-big"), big, 60).await?;
            // The same database served with no room for summaries: every answer reads it in
            // place, which is the limit of any registry size once the cache holds a small part.
            let url = ctx.sqlite_url("sqlite-big");
            let in_place = ctx.start_node_as("sqlite-big-in-place", "sqlite-big", &url, 300, 60, &IN_PLACE)?;
            let in_place_border = Api::new(in_place.base())?.login("border@pe.bench.aeo", api::PASSWORD).await?;
            let [local_small, local_big, in_place_big] = ctx
                .in_turns([
                    small_turn,
                    local_recognition(
                        format!("local recognition, SQLite {}", size(big)),
                        node.server.address,
                        big,
                        &node.border,
                    )?,
                    local_recognition(
                        format!("local recognition, SQLite {}, read in place", size(big)),
                        in_place.address,
                        big,
                        &in_place_border,
                    )?,
                ])
                .await?;
            in_place.stop();
            searched = Some(search_scenarios(&mut ctx, &node, big).await?);
            let memory = node.server.peak_memory_kib()?;
            node.server.stop();
            (big, local_small, local_big, Some(in_place_big), memory, node.import_peak)
        }
        None => {
            let local_small =
                ctx.measure(&small_turn.scenario, small_turn.address, small_turn.generator, small_turn.expect).await?;
            (mid, local_small, local_mid.clone(), None, mid_memory, mid_import_peak)
        }
    };
    small_node.server.stop();

    rows.push(Row {
        figure: Some((local_small.rps, "req/s")),
        p50_ms: Some(local_small.p50_ms),
        p99_ms: Some(local_small.p99_ms),
        ratio: vs_baseline(&local_small),
        ..Row::new(format!("Local recognition, SQLite {}", size(small)))
    });
    let mid_pass = local_mid.rps >= 0.5 * baseline.rps && local_mid.p99_ms <= 3.0 * baseline.p99_ms;
    rows.push(Row {
        figure: Some((local_mid.rps, "req/s")),
        p50_ms: Some(local_mid.p50_ms),
        p99_ms: Some(local_mid.p99_ms),
        ratio: format!("{:.2}× baseline, p99 {:.2}×", local_mid.rps / baseline.rps, local_mid.p99_ms / baseline.p99_ms),
        target: "≥ 0.50× baseline, p99 ≤ 3×".into(),
        pass: Some(mid_pass),
        ..Row::new(format!("Local recognition, SQLite {}", size(mid)))
    });
    if let Some(in_place) = &in_place_big {
        rows.push(Row {
            figure: Some((local_big.rps, "req/s")),
            p50_ms: Some(local_big.p50_ms),
            p99_ms: Some(local_big.p99_ms),
            ratio: format!("{:.2}× {}", local_big.rps / local_small.rps, size(small)),
            target: format!("≥ 0.80× {}", size(small)),
            pass: Some(local_big.rps >= 0.8 * local_small.rps),
            ..Row::new(format!("Local recognition, SQLite {}", size(big_size)))
        });
        rows.push(Row {
            figure: Some((in_place.rps, "req/s")),
            p50_ms: Some(in_place.p50_ms),
            p99_ms: Some(in_place.p99_ms),
            ratio: format!("{:.2}× {}", in_place.rps / local_small.rps, size(small)),
            ..Row::new(format!("Local recognition, SQLite {}, every answer read in place", size(big_size)))
        });
    } else {
        // The same rule, between the two sizes a quick run has.
        let last = rows.last_mut().expect("row");
        last.ratio.push_str(&format!("; {:.2}× {}", local_mid.rps / local_small.rps, size(small)));
    }

    if let Some((baseline, local)) = with_wrk {
        rows.push(Row {
            figure: Some((baseline.rps, "req/s")),
            p50_ms: Some(baseline.p50_ms),
            p99_ms: Some(baseline.p99_ms),
            ratio: "1.00× baseline (wrk)".into(),
            ..Row::new(format!("Baseline, loaded by wrk -t1 -c{}", ctx.plan.concurrency))
        });
        rows.push(Row {
            figure: Some((local.rps, "req/s")),
            p50_ms: Some(local.p50_ms),
            p99_ms: Some(local.p99_ms),
            ratio: format!(
                "{:.2}× baseline (wrk), p99 {:.2}×",
                local.rps / baseline.rps,
                local.p99_ms / baseline.p99_ms
            ),
            target: "≥ 0.50× baseline, p99 ≤ 3×".into(),
            pass: Some(local.rps >= 0.5 * baseline.rps && local.p99_ms <= 3.0 * baseline.p99_ms),
            ..Row::new(format!("Local recognition, SQLite {}, loaded by wrk -t1 -c{}", size(mid), ctx.plan.concurrency))
        });
    }

    if let Some(searched) = &searched {
        let at = size(searched.size);
        for (what, measured) in
            [("part of one operator's name", &searched.one), ("a part of every name", &searched.every)]
        {
            rows.push(Row {
                figure: Some((measured.rps, "req/s")),
                p50_ms: Some(measured.p50_ms),
                p99_ms: Some(measured.p99_ms),
                ratio: "one client, 50 per page".into(),
                ..Row::new(format!("Search by {what}, SQLite {at}"))
            });
        }
        let ratio = searched.flooded.p99_ms / searched.idle.p99_ms;
        rows.push(Row {
            figure: Some((searched.flooded.rps, "req/s")),
            p50_ms: Some(searched.flooded.p50_ms),
            p99_ms: Some(searched.flooded.p99_ms),
            ratio: format!(
                "p99 {ratio:.2}× idle ({:.2} ms); {} searches at {:.0} req/s",
                searched.idle.p99_ms, SEARCHERS, searched.flood.rps
            ),
            target: "p99 ≤ 3× idle".into(),
            pass: Some(ratio <= 3.0),
            ..Row::new(format!(
                "Local recognition, SQLite {at}, {BORDER_OFFICERS} connections, while searches run flat out"
            ))
        });
    }

    // 4. PostgreSQL, mid size.
    let (pg, pg_import_rate, pg_plain_rate) = postgres_scenario(&mut ctx, &postgres_admin).await?;
    rows.push(Row {
        figure: Some((pg.rps, "req/s")),
        p50_ms: Some(pg.p50_ms),
        p99_ms: Some(pg.p99_ms),
        ratio: vs_baseline(&pg),
        target: "≥ 0.25× baseline".into(),
        pass: Some(pg.rps >= 0.25 * baseline.rps),
        ..Row::new(format!("Local recognition, PostgreSQL {}", size(mid)))
    });
    rows.push(Row {
        figure: Some((verify_floor, "verifications/s")),
        ratio: "one core, the server's library".into(),
        ..Row::new("Floor: Ed25519 verification of a caller's assertion")
    });
    rows.push(Row {
        figure: Some((statement.rps, "req/s")),
        p50_ms: Some(statement.p50_ms),
        p99_ms: Some(statement.p99_ms),
        ratio: format!("{:.2}× floor, {}", statement.rps / verify_floor, vs_baseline(&statement)),
        target: "≥ 0.70× floor".into(),
        pass: Some(statement.rps >= 0.7 * verify_floor),
        ..Row::new(format!("Federation statement served to a peer, SQLite {}", size(mid)))
    });

    // 5. Federation: a mirror's answers, a live ask, and how fast a change reaches the peer.
    let federation = federation_scenarios(&mut ctx).await?;
    rows.push(Row {
        figure: Some((federation.mirror.rps, "req/s")),
        p50_ms: Some(federation.mirror.p50_ms),
        p99_ms: Some(federation.mirror.p99_ms),
        ratio: format!("{:.2}× local {}", federation.mirror.rps / local_mid.rps, size(mid)),
        target: format!("≥ 0.40× local {}", size(mid)),
        pass: Some(federation.mirror.rps >= 0.4 * local_mid.rps),
        ..Row::new(format!("Federated recognition, held answer (mirror of {})", size(mid)))
    });
    rows.push(Row {
        figure: Some((federation.live.rps, "req/s")),
        p50_ms: Some(federation.live.p50_ms),
        p99_ms: Some(federation.live.p99_ms),
        ratio: format!(
            "{:.2}× statements served, {:.2}× local {}",
            federation.live.rps / statement.rps,
            federation.live.rps / local_mid.rps,
            size(mid)
        ),
        target: "≥ 0.50× statements served".into(),
        pass: Some(federation.live.rps >= 0.5 * statement.rps),
        ..Row::new(format!("Federated recognition, issuer asked live ({} at the issuer)", size(ctx.plan.live)))
    });
    rows.push(Row {
        figure: Some((federation.live_alone.rps, "req/s")),
        p50_ms: Some(federation.live_alone.p50_ms),
        p99_ms: Some(federation.live_alone.p99_ms),
        ratio: "one connection, one question at a time".into(),
        target: "p50 ≤ 1 ms".into(),
        pass: Some(federation.live_alone.p50_ms <= 1.0),
        ..Row::new("Federated recognition, issuer asked live, one border officer")
    });
    rows.push(Row {
        p50_ms: Some(federation.propagation.0),
        p99_ms: Some(federation.propagation.1),
        ratio: format!("{} changes", federation.propagation.2),
        target: "p99 < 200 ms".into(),
        pass: Some(federation.propagation.1 < 200.0),
        ..Row::new("Status change seen at the peer")
    });
    rows.push(Row {
        figure: Some((import_rate, "rows/s")),
        ratio: format!("{:.2}× plain insert ({plain_rate:.0} rows/s)", import_rate / plain_rate),
        target: "≥ 0.33× plain insert".into(),
        pass: Some(import_rate >= plain_rate / 3.0),
        ..Row::new(format!("Import of {} certificates (CSV, SQLite)", size(mid)))
    });
    rows.push(Row {
        figure: Some((pg_import_rate, "rows/s")),
        ratio: format!("{:.2}× plain insert ({pg_plain_rate:.0} rows/s)", pg_import_rate / pg_plain_rate),
        target: "≥ 0.33× plain insert".into(),
        pass: Some(pg_import_rate >= pg_plain_rate / 3.0),
        ..Row::new(format!("Import of {} certificates (CSV, PostgreSQL)", size(mid)))
    });
    let memory = big_memory as f64 / 1024.0;
    rows.push(Row {
        figure: Some((memory, "MiB")),
        ratio: "VmHWM after recognition load".into(),
        target: "< 256 MiB".into(),
        pass: Some(memory < 256.0),
        ..Row::new(format!("Peak memory of the server, SQLite {}", size(big_size)))
    });
    rows.push(Row {
        figure: Some((big_import_peak as f64 / 1024.0, "MiB")),
        ratio: format!("VmHWM of the importing process ({} rows per request)", size(ctx.plan.chunk.min(big_size))),
        ..Row::new(format!("Peak memory while importing, SQLite {}", size(big_size)))
    });

    let table = report::table(&rows);
    let machine = report::machine();
    let elapsed = started.elapsed();
    println!();
    for (key, value) in &machine {
        println!("{key}: {value}");
    }
    println!(
        "Concurrency {}, {:?} per measurement after {:?} of warm-up; run took {:.0} s",
        ctx.plan.concurrency,
        ctx.plan.duration,
        ctx.plan.warmup,
        elapsed.as_secs_f64()
    );
    println!();
    print!("{table}");
    if let Some(path) = out {
        std::fs::write(&path, markdown(&ctx.plan, &machine, &table, elapsed))
            .with_context(|| format!("cannot write {}", path.display()))?;
        say(format!("wrote {}", path.display()));
    }
    if !ctx.wrong.is_empty() {
        eprintln!("\nWrong answers:");
        for wrong in &ctx.wrong {
            eprintln!("  - {wrong}");
        }
        bail!("{} check(s) failed", ctx.wrong.len());
    }
    println!("\nEvery answer was correct.");
    Ok(())
}

/// Connections searching flat out, and border officers asking meanwhile.
const SEARCHERS: usize = 48;
const BORDER_OFFICERS: usize = 8;

struct Searched {
    size: u64,
    /// A part of one operator's name (one match), and a part of every name, from one client.
    one: Measured,
    every: Measured,
    /// Recognition with `BORDER_OFFICERS` connections, idle and while `SEARCHERS` search.
    idle: Measured,
    flooded: Measured,
    /// The searches of that flood.
    flood: Measured,
}

/// Searches a random operator's name: `Operador 4242 Comercio Exterior S.A.` is found by
/// `operador 4242 comercio`, which no other name contains.
fn search_one(count: u64, token: &str) -> anyhow::Result<Generator> {
    let auth = bearer(token)?;
    Ok(Arc::new(move |rng: &mut Rng| {
        Some(Req {
            path: format!("/api/v1/administrations/CL/certificates?q=operador%20{}%20comercio", rng.below(count)),
            auth: Some((AUTHORIZATION, auth.clone())),
        })
    }))
}

async fn search_scenarios(ctx: &mut Ctx, node: &LocalNode, count: u64) -> anyhow::Result<Searched> {
    let address = node.server.address;
    let found: &[&str] = &["\"items\":[{\"number\":\"CL-OEA-"];
    let one = ctx.measure_with("search, one operator", address, search_one(count, &node.cl)?, found, 1).await?;
    let every_path = "/api/v1/administrations/CL/certificates?q=comercio&limit=50";
    let every: Generator = {
        let auth = bearer(&node.cl)?;
        Arc::new(move |_: &mut Rng| Some(Req { path: every_path.into(), auth: Some((AUTHORIZATION, auth.clone())) }))
    };
    let every = ctx.measure_with("search, every name", address, every, found, 1).await?;
    let recognition = recognition("PE", "CL", count, &node.border)?;
    let idle = ctx
        .measure_with("recognition, idle", address, recognition.clone(), &RECOGNIZED_LOCALLY, BORDER_OFFICERS)
        .await?;
    // The searches start first and end last, so they run through the whole measurement.
    let flood = tokio::spawn(load::run(Load {
        address,
        concurrency: SEARCHERS,
        warmup: Duration::ZERO,
        duration: ctx.plan.warmup + ctx.plan.duration + Duration::from_secs(1),
        generator: search_one(count, &node.cl)?,
        expect: found.iter().map(|s| s.to_string()).collect(),
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flooded = ctx
        .measure_with("recognition, while searches run", address, recognition, &RECOGNIZED_LOCALLY, BORDER_OFFICERS)
        .await?;
    let flood = flood.await??;
    ctx.keep("searches flat out", &flood);
    Ok(Searched { size: count, one, every, idle, flooded, flood })
}

/// Baseline and local recognition at `mid`, loaded by wrk in alternating turns: (baseline,
/// local recognition).
fn wrk_turns(
    ctx: &Ctx,
    baseline: std::net::SocketAddr,
    node: std::net::SocketAddr,
    mid: u64,
    token: &str,
) -> anyhow::Result<(wrk::Measured, wrk::Measured)> {
    let path = "/api/v1/administrations/PE/recognition?issuer=CL&certificate=CL-OEA-%07d";
    let turn = (ctx.plan.duration / ROUNDS).max(Duration::from_secs(1));
    let (mut baselines, mut locals) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        say(format!("wrk -t1 -c{}, round {round} of {ROUNDS}", ctx.plan.concurrency));
        baselines.push(wrk::run(ctx.dir.path(), baseline, path, mid, token, ctx.plan.concurrency, turn)?);
        locals.push(wrk::run(ctx.dir.path(), node, path, mid, token, ctx.plan.concurrency, turn)?);
    }
    let (baseline, local) = (wrk::Measured::merge(&baselines), wrk::Measured::merge(&locals));
    say(format!("  with wrk: baseline {:.0} req/s, local recognition {:.0} req/s", baseline.rps, local.rps));
    Ok((baseline, local))
}

async fn raw_get(api: &Api, path: &str, token: &str) -> anyhow::Result<(u16, String)> {
    let response = reqwest::Client::new().get(format!("{}{path}", api.base)).bearer_auth(token).send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// The peer administration ZX, registered at CL with the MRA that lets it ask for statements.
struct Partner {
    pkcs8: Vec<u8>,
    x: String,
}

impl Partner {
    async fn register(node: &LocalNode) -> anyhow::Result<Partner> {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        use base64::Engine;
        let random = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&random).map_err(|_| anyhow::anyhow!("cannot generate a key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("cannot read the key"))?;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": PARTNER_KID, "alg": "EdDSA", "use": "sig"}]});
        // ZX lives nowhere: its base URL is never called during the measurement.
        node.api.peer(&node.cl, "CL", "ZX", json!({"base_url": "http://127.0.0.1:9", "jwks": jwks})).await?;
        node.api.mra(&node.cl, "CL", "ZX").await?;
        Ok(Partner { pkcs8: pkcs8.as_ref().to_vec(), x })
    }
}

const PARTNER_KID: &str = "bench-zx-1";

/// `GET /federation/v1/administrations/CL/certificates/{n}` as the peer administration ZX, with a
/// fresh single-use EdDSA assertion per request, all signed before the timed run.
/// Also returns the floor under the contract: Ed25519 verifications of such an assertion per
/// second on one core, with the library the server uses.
async fn statement_scenario(
    ctx: &mut Ctx,
    node: &LocalNode,
    zx: &Partner,
    hint_rps: f64,
) -> anyhow::Result<(Measured, f64)> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let (kid, x) = (PARTNER_KID, &zx.x);

    let seconds = (ctx.plan.warmup + ctx.plan.duration).as_secs_f64();
    let count = ((hint_rps * 2.0).max(2_000.0) * seconds).min(400_000.0) as usize;
    say(format!("signing {count} assertions"));
    let key = EncodingKey::from_ed_der(&zx.pkcs8);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let iat = chrono::Utc::now().timestamp();
    let run = std::process::id();
    let signed: Vec<String> = (0..count)
        .map(|i| {
            let claims = json!({"iss": "ZX", "sub": "ZX", "aud": "CL", "iat": iat, "exp": iat + 60, "jti": format!("bench-{run}-{i}")});
            Ok(jsonwebtoken::encode(&header, &claims, &key)?)
        })
        .collect::<anyhow::Result<_>>()?;
    // What the scenarios before left the node to do in the background is let finish first; the
    // floor is measured on the idle machine too (measured while the node still signed ahead, it
    // came out at 13k/s one run and 22k the next).
    let settled = node.server.settle(SETTLE_PATIENCE).await?;
    say(format!("the node was idle after {:.1} s", settled.as_secs_f64()));
    let mut turns = verification_turns(&signed, x, 3)?;
    let tokens: Vec<HeaderValue> = signed.iter().map(|token| bearer(token)).collect::<anyhow::Result<_>>()?;
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let mid = ctx.plan.mid;
    let generator: Generator = Arc::new(move |rng: &mut Rng| {
        let token = tokens.get(next.fetch_add(1, Ordering::Relaxed))?.clone();
        Some(Req {
            path: format!("/federation/v1/administrations/CL/certificates/{}", data::number("CL", rng.below(mid))),
            auth: Some((AUTHORIZATION, token)),
        })
    });
    let measured = ctx
        .measure("federation statement to peer ZX", node.server.address, generator, &["{\"statement\":\"ey"])
        .await?;
    turns.extend(verification_turns(&signed, x, 2)?);
    turns.sort_by(f64::total_cmp);
    let floor = turns[turns.len() / 2];
    let each: Vec<String> = turns.iter().map(|turn| format!("{turn:.0}")).collect();
    say(format!("Ed25519 verification floor: {floor:.0}/s on one core (median of {})", each.join(", ")));
    Ok((measured, floor))
}

/// Verifications per second of `tokens` (EdDSA assertions) on this thread, as the server checks
/// them (signature, issuer, audience, expiry), in `turns` turns of a second each. The floor is
/// the median of turns taken before and after the statements' load: on this machine one turn
/// alone ranged from 13k to 22k per second from one minute to the next.
fn verification_turns(tokens: &[String], x: &str, turns: usize) -> anyhow::Result<Vec<f64>> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let key = DecodingKey::from_ed_components(x)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["ZX"]);
    validation.set_audience(&["CL"]);
    (0..turns)
        .map(|_| {
            let started = std::time::Instant::now();
            let mut verified = 0usize;
            while started.elapsed() < Duration::from_secs(1) {
                let token = &tokens[verified % tokens.len()];
                jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)?;
                verified += 1;
            }
            Ok(verified as f64 / started.elapsed().as_secs_f64())
        })
        .collect()
}

/// Local recognition on PostgreSQL; also returns the import rate (rows/s) there, and the rate
/// of a plain insert of the same rows there (rows/s), its baseline. Like SQLite's, the two are
/// measured in turns, each into a fresh database: one try of each weighed on the server's mood
/// of the moment (the plain insert ran anywhere from 13k to 19k rows/s from one run to the next).
async fn postgres_scenario(ctx: &mut Ctx, admin_url: &str) -> anyhow::Result<(Measured, f64, f64)> {
    use sea_orm::{ConnectionTrait, Database};
    let prefix = format!("aeo_bench_{}", std::process::id());
    let admin = Database::connect(admin_url).await.with_context(|| {
        format!("PostgreSQL is required and is not reachable at {admin_url}; start it or pass --postgres-url")
    })?;
    let databases: Vec<String> = (1..=IMPORT_ROUNDS)
        .flat_map(|round| [format!("{prefix}_{round}"), format!("{prefix}_plain_{round}")])
        .collect();
    for database in &databases {
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await?;
        admin.execute_unprepared(&format!("CREATE DATABASE {database}")).await?;
    }
    let outcome = async {
        let mid = ctx.plan.mid;
        let node = local_node(ctx, "postgres-mid", &with_database(admin_url, &format!("{prefix}_1")), mid, 60).await?;
        let measured = ctx
            .measure(
                &format!("local recognition, PostgreSQL {}", size(mid)),
                node.server.address,
                recognition("PE", "CL", mid, &node.border)?,
                &RECOGNIZED_LOCALLY,
            )
            .await?;
        node.server.stop();
        let (mut imported, mut plain) = (node.imported, Duration::ZERO);
        for round in 1..=IMPORT_ROUNDS {
            if round > 1 {
                let name = format!("postgres-import-{round}");
                let url = with_database(admin_url, &format!("{prefix}_{round}"));
                let (server, (rows, took)) = importing_node(ctx, &name, &url, mid, 60).await?;
                server.stop();
                (imported.0, imported.1) = (imported.0 + rows, imported.1 + took);
            }
            say(format!("plain insert of {} rows on PostgreSQL (sea-orm insert_many, 500 per statement)", size(mid)));
            plain +=
                data::plain_insert(&with_database(admin_url, &format!("{prefix}_plain_{round}")), "CL", mid).await?;
        }
        let import = imported.0 as f64 / imported.1.as_secs_f64();
        let plain = f64::from(IMPORT_ROUNDS) * mid as f64 / plain.as_secs_f64();
        say(format!("  over {IMPORT_ROUNDS} turns: plain insert {plain:.0} rows/s; import {import:.0} rows/s"));
        Ok::<_, anyhow::Error>((measured, import, plain))
    }
    .await;
    for database in &databases {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
    }
    let _ = admin.close().await;
    outcome
}

/// The same server with another database name (the URL's path), keeping any query.
fn with_database(url: &str, database: &str) -> String {
    let (address, query) = url.split_once('?').unwrap_or((url, ""));
    let server = address.rsplit_once('/').map_or(address, |(server, _)| server);
    if query.is_empty() { format!("{server}/{database}") } else { format!("{server}/{database}?{query}") }
}

struct Federation {
    mirror: Measured,
    live: Measured,
    /// The same asks one at a time, as a border officer at a desk makes them.
    live_alone: Measured,
    /// p50 and p99 in ms, and how many changes.
    propagation: (f64, f64, usize),
}

/// Node A hosts CL (mid size), node B hosts PE; they peer both ways. Node C hosts CO with a
/// statement lifetime of zero: its statements and checkpoints expire as they are signed (they
/// still verify within the protocol's 5 s clock-skew leeway), so B's mirror of CO is never
/// current, nothing B holds of CO is ever fresh, and B must ask C live for every answer.
async fn federation_scenarios(ctx: &mut Ctx) -> anyhow::Result<Federation> {
    let mid = ctx.plan.mid;
    say(format!("federation: node A (CL, {}) and node B (PE)", size(mid)));
    let a = ctx.start_node("federation-a", &ctx.sqlite_url("federation-a"), 300, 60)?;
    let b = ctx.start_node("federation-b", &ctx.sqlite_url("federation-b"), 300, 60)?;
    let (api_a, api_b) = (Api::new(a.base())?, Api::new(b.base())?);
    let platform_a = api_a.platform_token().await?;
    let platform_b = api_b.platform_token().await?;
    let cl = api_a.administration(&platform_a, "CL").await?;
    let pe = api_b.administration(&platform_b, "PE").await?;
    let border = api_b.border_officer(&platform_b, "PE").await?;
    import(&api_a, &cl, "CL", mid, ctx.plan.chunk).await?;
    api_a.mra(&cl, "CL", "PE").await?;
    api_b.mra(&pe, "PE", "CL").await?;
    api_a.peer(&cl, "CL", "PE", json!({"base_url": b.base()})).await?;
    api_b.peer(&pe, "PE", "CL", json!({"base_url": a.base()})).await?;
    wait_synced(&api_b, &pe, "PE", "CL", mid as i64).await?;
    let sample = api_b.recognition(&border, "PE", "CL", &data::number("CL", 7)).await?;
    ctx.check(
        sample["recognized"] == true && sample["source"] == "mirror",
        format!("federated sample answer: {sample}"),
    );
    let mirror = ctx
        .measure(
            &format!("federated recognition from the mirror ({})", size(mid)),
            b.address,
            recognition("PE", "CL", mid, &border)?,
            &[RECOGNIZED, "\"source\":\"mirror\""],
        )
        .await?;

    // A status change at A, timed from the request until B's border officer sees it.
    say(format!("timing {} status changes from node A to node B", ctx.plan.changes));
    let mut histogram = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for i in 0..ctx.plan.changes.div_ceil(2) {
        let number = data::number("CL", (i as u64 * 7_919 + 13) % mid);
        for status in ["suspended", "active"] {
            let started = Instant::now();
            api_a.set_status(&cl, "CL", &number, status).await?;
            loop {
                let answer = api_b.recognition(&border, "PE", "CL", &number).await?;
                let seen = match status {
                    "suspended" => {
                        answer["recognized"] == false && answer["reasons"] == json!(["certificate_suspended"])
                    }
                    _ => answer["recognized"] == true,
                };
                if seen {
                    ctx.check(answer["source"] == "mirror", format!("change seen with source {}", answer["source"]));
                    histogram.saturating_record(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
                    break;
                }
                if started.elapsed() > Duration::from_secs(10) {
                    ctx.check(false, format!("{status} of {number} not seen at the peer within 10 s: {answer}"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
    let propagation = (
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.len() as usize,
    );
    say(format!("  p50 {:.1} ms, p99 {:.1} ms over {} changes", propagation.0, propagation.1, propagation.2));
    a.stop();

    // The issuer asked live: C's statements and checkpoints are never fresh. (With a lifetime of
    // one second B would keep its mirror current by refreshing the checkpoint every second, and
    // about half the answers would come from the mirror.)
    let live = ctx.plan.live;
    say(format!("federation: node C (CO, {}, statement lifetime 0 s) peered with node B", size(live)));
    let c = ctx.start_node("federation-c", &ctx.sqlite_url("federation-c"), 0, 60)?;
    let api_c = Api::new(c.base())?;
    let platform_c = api_c.platform_token().await?;
    let co = api_c.administration(&platform_c, "CO").await?;
    import(&api_c, &co, "CO", live, ctx.plan.chunk).await?;
    api_c.mra(&co, "CO", "PE").await?;
    api_b.mra(&pe, "PE", "CO").await?;
    api_c.peer(&co, "CO", "PE", json!({"base_url": b.base()})).await?;
    api_b.peer(&pe, "PE", "CO", json!({"base_url": c.base()})).await?;
    // B pulls CO's changes once; what it holds of CO is stale from the start.
    wait_synced(&api_b, &pe, "PE", "CO", live as i64).await?;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let sample = api_b.recognition(&border, "PE", "CO", &data::number("CO", live - 1)).await?;
    ctx.check(sample["recognized"] == true && sample["source"] == "peer", format!("live sample answer: {sample}"));
    // Each number once per round (in a shuffled order), so that no answer could come from what
    // an earlier ask fetched even if it were fresh.
    let mut order: Vec<u64> = (0..live - 1).collect();
    let mut rng = Rng::new(42);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let order = Arc::new(order);
    let next = Arc::new(AtomicUsize::new(0));
    let auth = bearer(&border)?;
    let generator: Generator = Arc::new(move |_: &mut Rng| {
        let index = order[next.fetch_add(1, Ordering::Relaxed) % order.len()];
        Some(Req {
            path: format!("/api/v1/administrations/PE/recognition?issuer=CO&certificate={}", data::number("CO", index)),
            auth: Some((AUTHORIZATION, auth.clone())),
        })
    });
    let expect = [RECOGNIZED, "\"source\":\"peer\""];
    let live_measured =
        ctx.measure("federated recognition, issuer asked live", b.address, generator.clone(), &expect).await?;
    let live_alone = ctx
        .measure_with("federated recognition, issuer asked live, one at a time", b.address, generator, &expect, 1)
        .await?;
    c.stop();
    b.stop();
    Ok(Federation { mirror, live: live_measured, live_alone, propagation })
}

/// Waits until `code` at this node has mirrored `issuer` up to `seq`.
async fn wait_synced(api: &Api, token: &str, code: &str, issuer: &str, seq: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let peers: Value = api
            .expect(Method::GET, &format!("/api/v1/administrations/{code}/peers"), Some(token), None, &[200])
            .await?;
        let synced = peers["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["peer"] == issuer)
            .is_some_and(|p| p["mirror_synced_seq"].as_i64().unwrap_or(0) >= seq);
        if synced {
            say(format!("  mirror of {issuer} synced after {:.1} s", started.elapsed().as_secs_f64()));
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the mirror of {issuer} did not sync within 10 minutes: {peers}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn markdown(plan: &Plan, machine: &[(&str, String)], table: &str, elapsed: Duration) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    out.push_str(if plan.quick {
        "Written by `cargo run --release -p aeo-bench -- --quick` (small data, short measurements: a smoke test, not a benchmark).\n\n"
    } else {
        "Written by `cargo run --release -p aeo-bench` (the whole run: about 10 minutes on 2 cores, most of it loading 1 million certificates). Every figure comes from the same run on the same machine, so the ratios hold even where the absolute figures do not.\n\n"
    });
    out.push_str("## Machine\n\n| | |\n| --- | --- |\n");
    for (key, value) in machine {
        out.push_str(&format!("| {key} | {value} |\n"));
    }
    out.push_str(&format!(
        "\n## Results\n\nLoad: {} keep-alive HTTP/1.1 connections from a separate load generator, {:.0} s per measurement after {:.1} s of warm-up. The run took {:.0} s.\n\n",
        plan.concurrency,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        elapsed.as_secs_f64()
    ));
    out.push_str(table);
    out.push_str(METHOD);
    out
}

const METHOD: &str = "
## How it is measured

- **Servers** are separate processes (the bench re-executes itself): a registry node is built
  exactly as `aeo-registry serve` builds it (`aeo_registry::start`, the platform administrator,
  `aeo_registry::serve` over TCP on loopback, `RUST_LOG=warn`). The **baseline** is a bare axum
  handler answering a constant JSON body of the same length as a real recognition answer, served
  the same way (`#[tokio::main]`, `axum::serve` over TCP, its own process). It is sent the very
  requests of the local recognition measurement (same paths, same bearer token), so both sides of
  the ratio read and write the same bytes, and the two are measured in five alternating turns
  (a fifth of the time each, after half the warm-up), so that a slow spell of the shared machine
  weighs on both sides of the ratio alike.
- **Load generator**: in the bench process, C keep-alive HTTP/1.1 connections (hyper's client
  connection), one request after another per connection, for a fixed time after a warm-up.
  Latency per request goes to an HDR histogram (µs). Every response must be 200 and its body must
  hold the expected fragments (`\"recognized\":true` and the expected `source`), otherwise the run
  fails.
- **Second load generator**: Debian's `wrk -t1 -c32 --latency` sends the same baseline and local
  recognition requests (random certificates from a Lua script, same bearer token), in five
  alternating turns. It costs less CPU than the bench's own client, which shares the server's
  two cores, so its ratio is the harder one. It checks no body, but any answer that is not 2xx
  fails the run. Its p50 is the mean of the turns' and its p99 the worst turn's.
- **Data**: certificates generated in memory and loaded through the import endpoint (CSV, 50 000
  rows per request), valid from a year ago for three years, categories security and full, roles
  exporter (and importer), an opaque tax identifier each; administrations CL and PE with MRA
  records in force for both categories and every role; a border officer at PE. Recognition asks,
  at PE, about a random one of CL's certificates, uniformly: every certificate is as likely as
  any other, so no cache warms up on a favoured few.
- **Local recognition** reads the certificate's summary from the node's summary cache, bounded
  at its default 64 MiB (filled when the node starts, as far as it has room); a certificate not
  held is read from the database in place and kept, in the place of one asked about less. At 100k
  every certificate fits; at 1 million, some 40% do, so most answers read the database: on
  SQLite, one descent of an index that holds every column of the summary, by a connection that
  keeps its read snapshot until a change is learnt of. The row \"every answer read in place\" is
  the same 1M database served by a second node with no room for summaries
  (`summary_cache_mib` 0): the limit for any registry much larger than its cache. The nodes
  measured are fresh processes started on the imported database once its write-ahead log has
  been copied back (`PRAGMA wal_checkpoint(TRUNCATE)`), so the figures include nothing left over
  from the import. The 10k, 1M and read-in-place nodes run side by side and are measured in five
  alternating turns, as the baseline is, since their ratio is a target.
- **Public check**: the node runs with `public_rate_limit` raised so that the limiter never
  refuses (the limiter is still consulted per request).
- **Border page**: PE's border officer, signed in with a session cookie, asks `/border` about the
  same random certificates as local recognition, and every page must show the verdict. It is
  measured in the same five turns as the baseline and local recognition, since its target is its
  rate against the API's with the same client (the inverse of their server times).
- **Federation statement**: the peer administration ZX is registered at the node with an inline
  JWK Set holding the bench's own Ed25519 key, with an MRA record CL→ZX in force; every request
  carries its own assertion (EdDSA, `iss`=`sub`=ZX, `aud`=CL, 60 s of life, unique `jti`), all
  signed before the timed run. The run starts once the node is idle (under 5% of a core for half
  a second): the statements it signs ahead for ZX, at the lowest priority, are then signed
  (every node is measured so, once idle after its start: filling its memory with summaries,
  signing ahead).
  Its floor is the bench verifying the same assertions on one thread with the library the
  server's own check uses (aws-lc-rs, through jsonwebtoken: signature, issuer, audience, expiry), in one-second turns, three
  before the run and two after it, on the otherwise idle machine: the median of the five.
- **Federated recognition, held answer**: node B (PE) follows node A (CL) after A's import; B's
  answers come from its mirror (`source: mirror`, checked on every answer).
- **Federated recognition, issuer asked live**: node C hosts CO with `statement_ttl` 0: its
  statements and checkpoints expire as they are signed (they still verify within the protocol's
  5 s clock-skew leeway), so B's mirror of CO is never current and nothing it holds of CO is
  fresh. (With 1 s, B refreshes CO's checkpoint every second and about half the answers come from
  the mirror.) Each request asks about a different certificate, in a shuffled order. Every
  answer must have `source: peer`: B asks C for a signed statement (a signed assertion, C's
  lookup and signature), verifies it, stores it in its mirror, records the exchange, and
  answers. The same asks are then made one at a time over one connection, as a border officer
  at a desk makes them.
- **Status change seen at the peer**: a certificate is suspended (then reinstated) at node A;
  the time runs from sending the change until node B's recognition answer, polled every 2 ms,
  shows it.
- **Import**: the time of the import requests (validation, certificates, identifiers, change
  events, outbox, audit, one transaction per request), against the same rows inserted into the
  `certificates` table of a fresh database by sea-orm `insert_many`, 500 rows per statement, in
  one transaction, through the same driver and connection settings. Each is done three times,
  in turns, each time into a fresh database; the rates are over the three. Per certificate the import
  writes three rows (the certificate, its identifier and its creation event) and, on SQLite,
  seven index entries; the plain insert writes one row and three index entries. The import writes each batch
  of 1 000 rows as one bound JSON document that the database unpacks; the plain insert binds
  every value, as sea-orm does. On PostgreSQL likewise, three turns each, every import and
  plain insert into a fresh database of the same server (the first import is the mid-size
  node's). On PostgreSQL each of the import's three rows per certificate also pays a foreign-key
  check, where the plain insert pays one.
- **Search**: at the largest size, by CL's customs administrator, 50 per page. \"One operator\"
  asks `q=operador N comercio` for a random N, which one name contains; \"every name\" asks
  `q=comercio`, which every name contains (the generated names share everything but their
  number, the worst case for a trigram index). Each is measured from one client, for its latency.
  Then recognition is measured from 8 connections (border officers), idle and again while 48
  other connections search for random operators flat out; the target is the p99 under that load
  within 3× the idle p99. Searches take the node's slots for expensive reads (half the cores);
  recognition takes none.
- **Peak memory**: VmHWM of the node's process after its recognition load (and, at the largest
  size, its searches).
";
