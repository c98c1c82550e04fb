//! The `commandbridge-operator` command: `run` the controller, print the `crd`s, or preview
//! what a FailoverPlan would do with `plan`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use commandbridge_operator::config::{AwsArgs, AwsClients};
use commandbridge_operator::context::{Adapters, Settings};
use commandbridge_operator::controller::RunArgs;
use commandbridge_operator::crd::{self, FailoverPlan};
use commandbridge_operator::{manifest, plan, validation, world};

#[derive(Parser)]
#[command(
    name = "commandbridge-operator",
    version,
    about = "Regional failover and maintenance mode for ScotAccount, driven by Kubernetes resources"
)]
struct Cli {
    /// Log format. Log level comes from RUST_LOG (default info).
    #[arg(
        long,
        env = "COMMANDBRIDGE_LOG_FORMAT",
        value_enum,
        default_value = "json",
        global = true
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML, or write one file each into a folder.
    Crd {
        /// Folder to write one YAML file per CRD into (created when missing).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read a FailoverPlan manifest, validate it, read the current AWS state and print what an
    /// execution would change, without changing anything.
    Plan {
        /// The FailoverPlan manifest (YAML), as it would be applied.
        file: PathBuf,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print the audit items of one execution, in order.
    Audit {
        /// Execution id, as in a FailoverPlan's status.executionId.
        #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
        execution: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// AWS SDK and HTTP internals stay at info whatever RUST_LOG asks: their debug output prints
/// resolved identities (the access key id) and whole requests.
const QUIET_INTERNALS: &[&str] = &[
    "aws_config=info",
    "aws_runtime=info",
    "aws_sigv4=info",
    "aws_smithy_runtime=info",
    "aws_smithy_runtime_api=info",
    "aws_smithy_http_client=info",
    "aws_smithy_types=info",
    "hyper=info",
    "hyper_util=info",
    "rustls=info",
];

fn init_logging(format: LogFormat) {
    let requested = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let directives = std::iter::once(requested.as_str())
        .chain(QUIET_INTERNALS.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Run(args) => commandbridge_operator::controller::run(args).await,
        Command::Crd { out } => print_crds(out),
        Command::Plan { file, aws } => return preview(&file, &aws).await,
        Command::Audit { execution, aws } => print_audit(&execution, &aws).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_crds(out: Option<PathBuf>) -> anyhow::Result<()> {
    match out {
        None => print!("{}", crd::to_yaml()?),
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
            for definition in crd::all() {
                let path = dir.join(crd::file_name(&definition));
                std::fs::write(&path, crd::one_to_yaml(&definition)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// Exit codes: 0 previewed, 2 invalid manifest, 1 AWS state could not be read.
async fn preview(file: &PathBuf, aws: &AwsArgs) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", file.display());
            return ExitCode::from(2);
        }
    };
    let plan: FailoverPlan = match manifest::parse_failover_plan(&text) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!(
                "error: {} is not a valid FailoverPlan manifest: {err}",
                file.display()
            );
            return ExitCode::from(2);
        }
    };
    if let Err(errors) = validation::validate_failover_plan(&plan.spec) {
        eprintln!("error: {} is invalid:", file.display());
        for error in errors {
            eprintln!("  {error}");
        }
        return ExitCode::from(2);
    }

    let clients = AwsClients::load(aws).await;
    let adapters = Adapters::new(clients, &Settings::default(), Default::default());
    let world = match world::observe(&adapters, &plan.spec, None).await {
        Ok(world) => world,
        Err(err) => {
            eprintln!("error: cannot read the current AWS state: {err}");
            return ExitCode::FAILURE;
        }
    };
    let target = &plan.spec.active_region;
    let show = |r: &Option<crd::Region>| {
        r.as_ref()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    println!(
        "writer: {}   dns: {}   desired: {target}",
        show(&world.writer_region),
        show(&world.dns_region)
    );
    if world.active_region() == Some(target) {
        println!(
            "converged: the platform already runs in {target}; an execution would change nothing"
        );
        return ExitCode::SUCCESS;
    }
    for (index, (step, text)) in plan::describe(&plan.spec, &world, target)
        .into_iter()
        .enumerate()
    {
        println!("{}. {:<15} {text}", index + 1, step.name());
    }
    ExitCode::SUCCESS
}

async fn print_audit(execution: &str, aws: &AwsArgs) -> anyhow::Result<()> {
    let clients = AwsClients::load(aws).await;
    let audit = commandbridge_operator::audit::AuditLog::new(&clients);
    let items = audit.items_of(&format!("EXECUTION#{execution}")).await?;
    let mut items: Vec<_> = items.into_iter().collect();
    items.sort_by(|a, b| {
        a.get("at")
            .cmp(&b.get("at"))
            .then(a.get("sk").cmp(&b.get("sk")))
    });
    let field = |item: &std::collections::HashMap<String, String>, key: &str| {
        item.get(key).cloned().unwrap_or_default()
    };
    for item in &items {
        println!(
            "{}  {:<15} {:<10} {}  request={}  by={}",
            field(item, "at"),
            field(item, "step"),
            field(item, "state"),
            field(item, "message"),
            item.get("awsRequestId").map(String::as_str).unwrap_or("-"),
            field(item, "actor"),
        );
    }
    println!(
        "{} audit items for execution {execution} in table {}",
        items.len(),
        audit.table()
    );
    Ok(())
}
