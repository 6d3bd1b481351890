//! A module that never returns: `/loop` spins forever. The host's CPU deadline (epoch
//! interruption) must stop it and replace the instance, while `/ok_loop` (answered
//! `loop module alive`) and other modules keep working. `/sleep <ms>` waits without computing
//! (only a wall-clock deadline stops a long one), then answers `slept <ms>`. With the config
//! value `init_sleep_ms`, its `init` waits that long first.

use botbox_sdk::{Error, Manifest, Module, Update, reply};

struct BadLoop;

impl Module for BadLoop {
    fn init() -> Result<Manifest, Error> {
        let init_sleep_ms = botbox_sdk::config::get_parsed_or::<u64>("init_sleep_ms", 0)?;
        std::thread::sleep(std::time::Duration::from_millis(init_sleep_ms));
        Ok(Manifest::new("bad-loop", env!("CARGO_PKG_VERSION"))
            .command("loop", "Loop forever")
            .command("ok_loop", "Answer `loop module alive`")
            .command("sleep", "Wait <ms> milliseconds, then answer `slept <ms>`"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        match update.command() {
            Some("loop") => spin(),
            Some("ok_loop") => {
                reply(update, "loop module alive")?;
            }
            Some("sleep") => {
                let ms: u64 = update.command_args().trim().parse().unwrap_or(0);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                reply(update, &format!("slept {ms}"))?;
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
