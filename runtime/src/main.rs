//! The `botbox` command (see [`botbox::cli`]).

fn main() -> anyhow::Result<()> {
    botbox::cli::main()
}
