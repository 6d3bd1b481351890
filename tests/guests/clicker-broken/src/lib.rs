//! A broken version 3 of `clicker`: its `init` panics (say, a migration it needs is missing).
//! A swap to it must be refused with the reason, and the running version must keep serving.

use botbox_sdk::{Error, Manifest, Module, Update};

struct Broken;

impl Module for Broken {
    fn init() -> Result<Manifest, Error> {
        panic!("clicker 3.0.0 cannot start: the rating index needs a migration");
    }

    fn handle_update(_: &Update) -> Result<(), Error> {
        Ok(())
    }
}

botbox_sdk::export_module!(Broken);
