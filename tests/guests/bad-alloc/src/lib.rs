//! A module that allocates without bound: `/alloc` keeps adding 1 MiB blocks and writing to every
//! page of them. The host's memory limit must stop it (a failed allocation traps) and replace the
//! instance, while `/ok_alloc` (answered `alloc module alive`) and other modules keep working.

use botbox_sdk::{Error, Manifest, Module, Update, reply};

struct BadAlloc;

impl Module for BadAlloc {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("bad-alloc", env!("CARGO_PKG_VERSION"))
            .command("alloc", "Allocate memory until something gives")
            .command("ok_alloc", "Answer `alloc module alive`"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        match update.command() {
            Some("alloc") => hog(),
            Some("ok_alloc") => {
                reply(update, "alloc module alive")?;
            }
            _ => {}
        }
        Ok(())
    }
}

botbox_sdk::export_module!(BadAlloc);

/// Allocates 1 MiB blocks forever, touching each page so the memory is really used.
fn hog() -> ! {
    const BLOCK: usize = 1 << 20;
    const PAGE: usize = 4096;
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for (index, byte) in block.iter_mut().step_by(PAGE).enumerate() {
            *byte = index as u8 | 1;
        }
        blocks.push(std::hint::black_box(block));
    }
}
