//! Attacks on the host's resources: the stack, the CPU, memory and the log.

use std::hint::black_box;
use std::io::Write;

/// Lines `/logflood` writes.
const LOG_LINES: usize = 100_000;

/// `/recurse`: calls itself until the host's WebAssembly stack limit stops it (a trap). Its frames
/// hold nothing in linear memory, so the stack runs out before Rust's in-memory stack does.
pub fn recurse() -> ! {
    down(0, black_box(u64::MAX));
    unreachable!("the recursion has no end")
}

/// One level of `/recurse`. The result depends on the call below, so it is no tail call.
fn down(depth: u64, end: u64) -> u64 {
    // Never true, but the compiler cannot know: keeps the recursion from looking endless.
    if depth == end {
        return 0;
    }
    let below = down(depth + 1, end);
    below ^ depth.rotate_left((below & 63) as u32)
}

/// `/recurse_frames`: recursion whose frames live in linear memory (Rust's own stack), which
/// runs out first: the access below its bottom traps.
pub fn recurse_frames() -> ! {
    down_frames(0);
    unreachable!("the recursion has no end")
}

/// One level of `/recurse_frames`, with a 1 KiB frame that cannot be optimised away: Rust's 1 MiB
/// stack holds about a thousand, far fewer than the host's stack limit.
fn down_frames(depth: u64) -> u64 {
    let frame = black_box([depth; 128]);
    if black_box(depth) == u64::MAX {
        return frame[0];
    }
    down_frames(depth + 1).wrapping_add(frame[black_box(3)])
}

/// `/spin`: counts forever (only the CPU deadline stops it).
pub fn spin() -> ! {
    let mut count = 0u64;
    loop {
        count = black_box(count.wrapping_add(1));
    }
}

/// `/bomb`: allocates 1 MiB blocks forever, touching every page (a failed allocation traps).
pub fn bomb() -> ! {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        for byte in block.iter_mut().step_by(4096) {
            *byte = 1;
        }
        blocks.push(black_box(block));
    }
}

/// `/logflood`: writes [`LOG_LINES`] lines, split between stdout and stderr.
pub fn log_flood() -> String {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
    for i in 0..LOG_LINES {
        let written = if i % 2 == 0 {
            writeln!(out, "hostile log flood line {i}")
        } else {
            writeln!(err, "hostile log flood line {i}")
        };
        if let Err(error) = written {
            return format!("logflood: stopped at line {i}: {error}");
        }
    }
    if let Err(error) = out.flush().and_then(|()| err.flush()) {
        return format!("logflood: flush failed: {error}");
    }
    format!("logflood: wrote {LOG_LINES} lines")
}
