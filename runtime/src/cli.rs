//! The `botbox` command: one file per subcommand, named as the user types it. Only this folder
//! uses `anyhow`; the library below it returns [`crate::Error`].

pub mod admin_token;
pub mod backup;
mod compile_module;
pub mod console;
pub mod dev;
pub mod doctor;
pub mod kv;
pub mod module;
pub mod new;
pub mod restore;
pub mod run;
pub mod setup;
mod target;
pub mod test_runner;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A Telegram bot runtime whose features are sandboxed WebAssembly modules.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the bot against Telegram (token from the config file or BOTBOX_TOKEN).
    Run {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Chat with the bot in this terminal: a local Telegram simulator, no token needed.
    Dev(dev::DevArgs),
    /// Read and change a module's data (running or stopped bot).
    Kv {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: kv::KvCommand,
    },
    /// Manage the modules of the running bot: list, add, swap, rollback, remove, ...
    Module {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: module::ModuleCommand,
    },
    /// The admin API of the running bot: `rotate-token` replaces its token.
    Admin {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin_token::AdminCommand,
    },
    /// Prints a one-time link that logs a browser in to the running bot's web console.
    Console {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Writes a consistent, compressed, checksummed snapshot of all data (running or stopped bot).
    Backup {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where to write it; default `<data_dir>/backups/botbox-<unix time>.bbk`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also send it to the operators' chat (`backup.telegram_chat_id`).
        #[arg(long)]
        telegram: bool,
        /// Take it from the PostgreSQL store at this URL (`postgres://user@host/db`) instead of
        /// the data directory: the same snapshot format, restorable into either store.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Checks a snapshot, then replaces the data with it (the bot must be stopped).
    Restore {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The snapshot file.
        #[arg(required_unless_present = "from_telegram")]
        file: Option<PathBuf>,
        /// Fetch the newest backup pinned in the operators' chat instead (a blank machine needs
        /// only the token, `backup.telegram_chat_id` and `data_dir`).
        #[arg(long, conflicts_with = "file")]
        from_telegram: bool,
        /// The age identity file (`age-keygen` output) for a snapshot encrypted to
        /// `backup.encrypt_to`.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// A file whose first line is the passphrase of a snapshot encrypted with
        /// `backup.passphrase_file`.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Restore the pinned manifest even if it is older than the newest backup this bot
        /// sent or restored (someone may have pinned an old one again).
        #[arg(long, requires = "from_telegram")]
        allow_older: bool,
        /// Restore into the PostgreSQL store at this URL (`postgres://user@host/db`), which must
        /// hold no bot yet, instead of the data directory.
        #[arg(long, value_name = "URL", conflicts_with = "from_telegram")]
        postgres: Option<String>,
    },
    /// Checks the configuration, the token, the data directory, the modules and the connection
    /// to the Bot API, and says in plain words what is wrong (exit status 1 when something is).
    Doctor {
        /// The configuration file; `botbox.toml` is used when it exists.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Creates a module project: a small working module, a test, a README; `cargo build` in it
    /// builds the module, `cargo test` runs its tests against a real bot.
    New(new::NewArgs),
    /// Runs a module's tests against a real bot (cargo's runner for wasm32-wasip2: the
    /// `.cargo/config.toml` of a project made by `botbox new` names it).
    TestRunner(test_runner::TestRunnerArgs),
    /// Compiles a module read from standard input into a code cache: the bot runs this in a
    /// process of its own for each compile (`sandbox/compiler.rs`).
    #[command(hide = true)]
    CompileModule(compile_module::CompileModuleArgs),
    /// Helpers for `installer/install.sh` (token check, finding the operator).
    #[command(hide = true)]
    Setup {
        #[command(subcommand)]
        command: setup::SetupCommand,
    },
}

/// The runtime's options for a long-running bot of this binary: modules compile in processes
/// of their own (`sandbox/compiler.rs`).
fn compiling_in_children() -> crate::runtime::Options {
    crate::runtime::Options {
        compiler: Some(crate::sandbox::compiler::this_program()),
        ..Default::default()
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<crate::Config> {
    let path = doctor::config_path(path);
    crate::Config::load(path.as_deref()).context("cannot load the configuration")
}

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::CompileModule(args) = &cli.command {
        // No logging, no async runtime: the error on standard error is the bot's to report.
        std::process::exit(compile_module::run(args));
    }
    let default_level = match cli.command {
        Command::Dev(_)
        | Command::Kv { .. }
        | Command::Module { .. }
        | Command::Admin { .. }
        | Command::Console { .. }
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Doctor { .. }
        | Command::Setup { .. }
        | Command::CompileModule(_)
        | Command::New(_)
        | Command::TestRunner(_) => "warn",
        Command::Run { .. } => "info",
    };
    // `run` reads its configuration before logging starts: it may ask for JSON logs.
    let mut run_config = match &cli.command {
        Command::Run { config } => Some(load_config(config.clone())?),
        _ => None,
    };
    let log_format = match &run_config {
        Some(c) => c.log_format,
        None => std::env::var("BOTBOX_LOG_FORMAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
    };
    crate::logs::init(log_format, default_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Run { .. } => run::run(run_config.take().context("no configuration")?).await,
            Command::Doctor { config } => {
                let problems = doctor::run(config, &mut std::io::stdout()).await?;
                if problems > 0 {
                    std::process::exit(1);
                }
                Ok(())
            }
            // Handled before logging and the async runtime start, above.
            Command::CompileModule(_) => Ok(()),
            Command::Setup { command } => {
                let code = setup::run(command).await?;
                std::process::exit(code);
            }
            Command::Dev(args) => dev::run(args).await,
            Command::New(args) => new::run(args, &mut std::io::stdout()),
            Command::TestRunner(args) => {
                let code = test_runner::run(args).await?;
                std::process::exit(code);
            }
            Command::Kv { config, command } => {
                let config = load_config(config)?;
                kv::kv(&config, command, &mut std::io::stdout()).await
            }
            Command::Module { config, command } => {
                let config = load_config(config)?;
                module::module(&config, command, &mut std::io::stdout()).await
            }
            Command::Admin { config, command } => {
                let config = load_config(config)?;
                admin_token::admin(&config, command, &mut std::io::stdout()).await
            }
            Command::Console { config } => {
                let config = load_config(config)?;
                console::console(&config, &mut std::io::stdout()).await
            }
            Command::Backup {
                config,
                out,
                telegram,
                postgres,
            } => {
                let config = load_config(config)?;
                // A bot whose store is PostgreSQL is backed up from there.
                let postgres = postgres.as_deref().or(config.store.postgres());
                let written = backup::backup(&config, out, postgres).await?;
                if telegram {
                    backup::send_to_telegram(&config, &written).await?;
                    println!("sent to the operators' chat");
                }
                let info = &written.info;
                println!(
                    "wrote {} ({} records in {} tables, {} bytes, sha256 {}{})",
                    written.path.display(),
                    info.records,
                    info.tables,
                    written.bytes.len(),
                    info.sha256,
                    if written.encrypted {
                        ", encrypted with age"
                    } else {
                        ", not encrypted"
                    }
                );
                Ok(())
            }
            Command::Restore {
                config,
                file,
                from_telegram,
                identity,
                passphrase_file,
                allow_older,
                postgres,
            } => {
                let config = load_config(config)?;
                // A bot whose store is PostgreSQL is restored there.
                let postgres = postgres.or_else(|| config.store.postgres().map(str::to_string));
                let keys = crate::backup::Keys::from_files(
                    identity.as_deref(),
                    passphrase_file.as_deref(),
                )?;
                let (info, from) = match file {
                    Some(file) if postgres.is_some() => (
                        restore::restore_into_postgres(
                            &config,
                            &file,
                            &keys,
                            postgres.as_deref().unwrap_or_default(),
                        )
                        .await?,
                        file.display().to_string(),
                    ),
                    Some(file) if !from_telegram => (
                        restore::restore(&config, &file, &keys)?,
                        file.display().to_string(),
                    ),
                    _ => (
                        restore::restore_from_telegram(
                            &config,
                            &keys,
                            allow_older,
                            &mut std::io::stdout(),
                        )
                        .await?,
                        "the operators' Telegram chat".to_string(),
                    ),
                };
                println!(
                    "restored {} records in {} tables from {from}",
                    info.records, info.tables
                );
                Ok(())
            }
        }
    })
}
