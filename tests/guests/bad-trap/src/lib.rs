//! A module that traps: `/trap` panics, which aborts the WebAssembly instance. The host must
//! replace the instance, retry the update a bounded number of times, then set it aside, while
//! `/ok_trap` (answered `trap module alive`) and other modules keep working. `/flaky` panics
//! until its KV holds the key `fixed` (an operator's repair), then answers `flaky handled`.

use botbox_sdk::{Error, Manifest, Module, Update, reply};

struct BadTrap;

impl Module for BadTrap {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("bad-trap", env!("CARGO_PKG_VERSION"))
            .command("trap", "Panic (a wasm trap)")
            .command("ok_trap", "Answer `trap module alive`")
            .command("flaky", "Panic until the key `fixed` is in KV"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        match update.command() {
            Some("trap") => panic!("/trap was sent"),
            Some("ok_trap") => {
                reply(update, "trap module alive")?;
            }
            Some("flaky") => {
                if botbox_sdk::kv::get("fixed")?.is_none() {
                    panic!("/flaky before the operator set `fixed`");
                }
                reply(update, "flaky handled")?;
            }
            _ => {}
        }
        Ok(())
    }
}

botbox_sdk::export_module!(BadTrap);
