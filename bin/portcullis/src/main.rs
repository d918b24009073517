//! `portcullis`: the command line. Parses flags, then hands over to `serve`, `validate`,
//! `schema`, or the admin API client (`iam`, `sts`, `kms`, `admin`, for API keys `keys`,
//! `plans`, `usage`, and for a cluster `apply` and `status`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;
mod cluster;
mod digests;
mod ops;
mod serve;
mod usage;

/// mimalloc: measured faster than the system allocator on the request path (bench/compare.sh),
/// where allocation and copying were the largest user-space cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Portcullis: a self-hosted API gateway whose reason to exist is security.
///
/// Start with `portcullis serve --config examples/quickstart.yaml`, then
/// `curl --cacert data/dev-cert.pem https://localhost:8443/hello`.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: the HTTPS listener, the admin API and (if configured) the HTTP redirect.
    ///
    /// Reloads on SIGHUP, when the config or a certificate file changes, and on
    /// `POST /reload` to the admin API. SIGTERM or SIGINT drain requests in flight and exit 0.
    Serve {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Tokio worker threads (default: the number of cores).
        #[arg(long, env = "PORTCULLIS_WORKERS", value_name = "N")]
        workers: Option<usize>,
    },
    /// Check a config file: prints every problem as `file:line:column: field: message` and
    /// exits 1 if there is one.
    Validate {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the JSON Schema of the config file (for editor completion).
    Schema,
    /// Manage IAM users, groups, roles, policies and access keys through the admin API.
    ///
    /// Signs with SigV4 using AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile of
    /// ~/.aws/credentials, like the AWS CLI.
    Iam {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::IamCommand,
    },
    /// Assume a role, or show who the credentials belong to, through the admin API.
    Sts {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::StsCommand,
    },
    /// List, rotate and re-wrap the KMS master keys through the admin API.
    Kms {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::KmsCommand,
    },
    /// Call any admin API path (signed), such as `admin get /config`.
    Admin {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::AdminCommand,
    },
    /// Create, list, enable, disable and delete API keys, and attach them to usage plans,
    /// through the admin API.
    ///
    /// A new key's value is printed once, when it is created, and never again. To import a
    /// value of your own, pipe it in: `portcullis keys create --name shop --value-stdin`.
    Keys {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::KeysCommand,
    },
    /// List the usage plans of the running config and the API keys attached to each, through
    /// the admin API.
    Plans {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::PlansCommand,
    },
    /// The audit trail: verify its hash chain.
    Audit {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::AuditCommand,
    },
    /// Alarms on the metrics store: list, show (with history), create or replace, delete.
    Alarms {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::AlarmsCommand,
    },
    /// Query one metric of the node's metrics store by period, as CloudWatch
    /// GetMetricStatistics does; e.g. `portcullis metrics 5XXError --api pets --period 300`.
    Metrics {
        #[command(flatten)]
        query: cli::MetricsQueryArgs,
        #[command(flatten)]
        conn: cli::Connection,
    },
    /// Read access-log segments (encrypted ones with keys from the admin API, which needs
    /// `portcullis:DecryptLogs`).
    Logs {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::LogsCommand,
    },
    /// Server certificates: the inventory (files, ACME, imports), imports and deletions.
    Certs {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        command: cli::CertsCommand,
    },
    /// Report a usage plan's recorded requests per API key and day, as JSON or CSV, through
    /// the admin API.
    ///
    /// Usage is written to the store every `usage.flush_interval` (10 s by default), so the
    /// last moments may be missing. Example:
    /// `portcullis usage --plan basic --start 2026-11-01 --end 2026-11-30 --format csv --output usage.csv`.
    Usage {
        #[command(flatten)]
        report: cli::UsageArgs,
        #[command(flatten)]
        conn: cli::Connection,
    },
    /// Check a config file and publish it to the store as the next version: every node
    /// sharing the store serves it within a second, keeping its own listeners, store, Redis
    /// and certificates (see docs/cluster.md).
    Apply {
        /// The config file.
        #[arg(short, long, value_name = "FILE")]
        file: PathBuf,
        /// A note kept with the version.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        conn: cli::Connection,
    },
    /// List the nodes sharing the store: the config version each serves and when each was
    /// last heard from.
    Status {
        #[command(flatten)]
        conn: cli::Connection,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, workers } => serve::main(&config, workers),
        Command::Validate { config } => match model::load_file(&config) {
            Ok(c) => {
                let routes: usize = c.apis.iter().map(|a| a.routes.iter().count()).sum();
                println!("{}: ok ({} APIs, {routes} routes)", config.display(), c.apis.len());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        },
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&model::json_schema()).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::Iam { conn, command } => cli::main(&conn, command.call()),
        Command::Sts { conn, command } => cli::main(&conn, command.call()),
        Command::Kms { conn, command } => cli::main(&conn, command.call()),
        Command::Admin { conn, command } => cli::main(&conn, command.call()),
        Command::Keys { conn, command } => cli::main(&conn, command.call()),
        Command::Plans { conn, command } => cli::main(&conn, command.call()),
        Command::Certs { conn, command } => cli::main(&conn, command.call()),
        Command::Audit { conn, command } => cli::main(&conn, command.call()),
        Command::Logs { conn, command } => command.run(&conn),
        Command::Alarms { conn, command } => cli::main(&conn, command.call()),
        Command::Metrics { conn, query } => cli::main(&conn, query.call()),
        Command::Usage { conn, report } => cli::main(&conn, report.call()),
        Command::Apply { file, comment, conn } => cli::main(&conn, cli::apply(&file, comment)),
        Command::Status { conn } => cli::main(&conn, Ok(cli::status())),
    }
}
