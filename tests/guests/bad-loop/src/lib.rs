//! A module that never returns: `/loop` spins forever. The host's CPU deadline (epoch
//! interruption) must stop it and replace the instance, while `/ok_loop` (answered
//! `loop module alive`) and other modules keep working.

use botbox_sdk::{Error, Manifest, Module, Update, reply};

struct BadLoop;

impl Module for BadLoop {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("bad-loop", env!("CARGO_PKG_VERSION"))
            .command("loop", "Loop forever")
            .command("ok_loop", "Answer `loop module alive`"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        match update.command() {
            Some("loop") => spin(),
            Some("ok_loop") => {
                reply(update, "loop module alive")?;
            }
            _ => {}
        }
        Ok(())
    }
}

botbox_sdk::export_module!(BadLoop);

/// Counts forever; `black_box` keeps the optimiser from proving the loop useless.
fn spin() -> ! {
    let mut count = 0u64;
    loop {
        count = std::hint::black_box(count.wrapping_add(1));
    }
}
