//! Command line and exit codes only; everything else lives in the library.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use reflectd::config::{self, LogLevel};
use reflectd::control::view::{NeighborView, RouteJson};
use reflectd::control::Reflector;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const DEFAULT_API: &str = "127.0.0.1:8179";

#[derive(Parser)]
#[command(
    name = "reflectd",
    version,
    about = "BGP route reflector (RFC 4456)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Run the appliance with this config file (foreground; logs to stderr).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Validate the config, print a summary and exit (0 valid, 2 invalid).
    #[arg(long, requires = "config")]
    check: bool,
    /// With --check: print the effective config (every key, defaults filled in) instead of
    /// the summary.
    #[arg(long, requires = "check")]
    print: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Table of sessions from a running instance.
    Neighbors {
        #[arg(long, default_value = DEFAULT_API)]
        api: String,
        #[arg(long)]
        json: bool,
    },
    /// Routes from a running instance: all, one prefix, or the longest match for an address.
    Routes {
        /// A prefix (`10.0.0.0/8`, a VPN route as `RD:PREFIX`) or an address.
        prefix: Option<String>,
        /// Only this family's routes (`ipv4-unicast`, `ipv4-vpn`, ...); an address is looked
        /// up in it.
        #[arg(long)]
        family: Option<String>,
        #[arg(long, default_value = DEFAULT_API)]
        api: String,
        #[arg(long)]
        json: bool,
    },
    /// Run the reflector with the demo config and built-in simulated routers on loopback.
    Demo {
        /// Another config instead of the built-in one (config/demo.yaml at build time).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (cli.command, cli.config) {
        (Some(Command::Neighbors { api, json }), _) => neighbors(&api, json),
        (
            Some(Command::Routes {
                prefix,
                family,
                api,
                json,
            }),
            _,
        ) => routes(prefix.as_deref(), family.as_deref(), &api, json),
        (Some(Command::Demo { config: None }), _) => return run(reflectd::demo::config(), true),
        (Some(Command::Demo { config: Some(path) }), _) => return run(config::load(&path), true),
        (None, Some(path)) if cli.check => return check(&path, cli.print),
        (None, Some(path)) => return run(config::load(&path), false),
        (None, None) => {
            eprintln!("reflectd: nothing to do; try `reflectd --config FILE` or `reflectd --help`");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reflectd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path, effective: bool) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            if effective {
                print!("{}", c.canonical());
            } else {
                print!("{}", c.summary());
            }
            println!("{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn level_filter(l: LogLevel) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match l {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

fn run(loaded: Result<config::Config, config::ConfigError>, demo: bool) -> ExitCode {
    use tracing_subscriber::prelude::*;
    let cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(level_filter(cfg.log));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .init();
    let set_level = Box::new(move |l: LogLevel| {
        let _ = handle.modify(|f| *f = level_filter(l));
    });
    let reflector = match Reflector::start(cfg.clone(), Some(set_level)) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sims = if demo {
        print_demo_banner(&cfg);
        reflectd::demo::start(&cfg, stop.clone())
    } else {
        Vec::new()
    };
    let res = reflector.run_until_signalled();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(sims);
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn print_demo_banner(cfg: &config::Config) {
    let api = cfg
        .api
        .map(|a| a.to_string())
        .unwrap_or_else(|| DEFAULT_API.into());
    // As it was started (`target/release/reflectd` under `cargo run`, or from the PATH).
    let me = std::env::args().next().unwrap_or_else(|| "reflectd".into());
    eprintln!(
        "\nreflectd demo: {} simulated routers on loopback connect to {:?} and announce routes.\n\
         In another terminal:\n  \
         {me} neighbors --api {api}\n  \
         {me} routes --api {api}\n  \
         {me} routes 10.1.0.0/24 --api {api}\n{}\
         Stop with Ctrl-C (every session gets a Cease NOTIFICATION).\n",
        cfg.neighbors.len(),
        cfg.listen,
        cfg.metrics
            .map(|m| format!("  curl -s http://{m}/metrics | grep reflectd_\n"))
            .unwrap_or_default(),
    );
}

/// The body of `GET path` from the API. An error answer is the API speaking, not a
/// transport failure: its own message is what the operator needs to see.
fn get(api: &str, path: &str) -> anyhow::Result<String> {
    let url = format!("http://{api}{path}");
    let mut resp = ureq::get(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .with_context(|| {
            format!("cannot reach the reflectd API at {api} (is reflectd running with `api:` set?)")
        })?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of the reflectd API at {api}"))?;
    if !status.is_success() {
        bail!(
            "the reflectd API at {api} answered: {}",
            api_error(status.as_u16(), &body)
        );
    }
    Ok(body)
}

/// The message of an API error answer (`{"error": "..."}`), or its status and raw body.
fn api_error(status: u16, body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {status}: {}", body.trim()))
}

fn neighbors(api: &str, json: bool) -> anyhow::Result<()> {
    let body = get(api, "/neighbors")?;
    if json {
        println!("{body}");
        return Ok(());
    }
    let list: Vec<NeighborView> = serde_json::from_str(&body).context("unexpected API answer")?;
    print!("{}", reflectd::control::table::neighbors(&list));
    Ok(())
}

fn routes(prefix: Option<&str>, family: Option<&str>, api: &str, json: bool) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(p) = prefix {
        query.push(format!("prefix={}", p.replace('/', "%2F")));
    }
    if let Some(f) = family {
        let f: reflectd::wire::Family = f.parse().map_err(anyhow::Error::msg)?;
        query.push(format!("family={f}"));
    }
    let path = match query.is_empty() {
        true => "/routes".to_string(),
        false => format!("/routes?{}", query.join("&")),
    };
    let body = get(api, &path)?;
    if json {
        println!("{body}");
        return Ok(());
    }
    let list: Vec<RouteJson> = serde_json::from_str(&body).context("unexpected API answer")?;
    if list.is_empty() && prefix.is_some() {
        bail!("network not in table");
    }
    print!("{}", reflectd::control::table::routes(&list));
    Ok(())
}
