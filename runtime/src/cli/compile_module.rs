//! `botbox compile-module` (hidden): compiles the component on standard input into a code
//! cache. `botbox run` and `botbox dev` run it for each compile (`sandbox/compiler.rs`), so
//! that the compile's memory goes with its process.

use std::path::PathBuf;

use crate::{config::SandboxConfig, sandbox::compiler};

/// What the bot tells a compiling child ([`compiler::child_args`]).
#[derive(clap::Args, Debug)]
pub struct CompileModuleArgs {
    /// The code cache directory.
    #[arg(long)]
    cache: PathBuf,
    /// The sandbox limits that shape the engine (`[sandbox]`).
    #[arg(long)]
    stack_kib: usize,
    #[arg(long)]
    memory_mib: u64,
    #[arg(long)]
    table_elements: usize,
}

impl CompileModuleArgs {
    /// The limits the engine is made with: those the bot told, the rest default (unread).
    fn limits(&self) -> SandboxConfig {
        SandboxConfig {
            max_stack_kib: self.stack_kib,
            memory_mib: self.memory_mib,
            max_table_elements: self.table_elements,
            ..SandboxConfig::default()
        }
    }
}

/// Compiles; the exit code. Why it failed goes to standard error, the bot's error for the
/// module.
pub fn run(args: &CompileModuleArgs) -> i32 {
    match compiler::compile_from_stdin(&args.cache, &args.limits()) {
        Ok(()) => 0,
        Err((code, why)) => {
            eprintln!("{why}");
            code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn a_child_reads_back_the_limits_the_bot_told_it() {
        let bot = SandboxConfig {
            max_stack_kib: 256,
            memory_mib: 32,
            max_table_elements: 5_000,
            ..SandboxConfig::default()
        };
        let args = compiler::child_args(std::path::Path::new("/tmp/cache"), &bot);
        let cli = Cli::try_parse_from(std::iter::once("botbox".into()).chain(args)).unwrap();
        let Command::CompileModule(told) = cli.command else {
            panic!("not compile-module")
        };
        assert_eq!(told.cache, PathBuf::from("/tmp/cache"));
        // What `engine_config` reads (wasmtime 48 keeps none of them in an artifact's
        // compatibility hash today; the child is told them for when one counts).
        let limits = told.limits();
        assert_eq!(limits.max_stack_kib, 256);
        assert_eq!(limits.memory_mib, 32);
        assert_eq!(limits.max_table_elements, 5_000);
    }
}
