//! The doctor's look at the room on the data directory's filesystem: a bot whose disk is full
//! pauses (it takes no updates and sends nothing until there is room, see
//! `store/disk_full.rs`); one whose disk is nearly full soon will.

use std::{io::Write, path::Path};

use super::Report;
use crate::store::disk_full::{Space, space};

/// Says how much room the filesystem holding `dir` has left.
pub(super) fn check<W: Write>(r: &mut Report<'_, W>, dir: &Path) {
    let shown = dir.display();
    let s = match space(dir) {
        Ok(s) => s,
        Err(e) => {
            r.note(&format!(
                "cannot tell how much room is left for {shown}: {e}"
            ));
            return;
        }
    };
    judge(r, &shown.to_string(), &s);
}

/// The finding for a filesystem with room `s`.
fn judge<W: Write>(r: &mut Report<'_, W>, shown: &str, s: &Space) {
    let room = describe(s);
    let fix = "free space on that filesystem (old backups, logs, other programs' files) or give it more; \
               a running bot goes on by itself once there is room";
    if s.is_full() {
        r.problem(
            &format!("the filesystem holding {shown} is full ({room}): the bot cannot record updates and pauses"),
            fix,
        );
    } else if s.is_nearly_full() {
        r.problem(
            &format!("the filesystem holding {shown} is nearly full ({room})"),
            fix,
        );
    } else {
        r.ok(&format!("the filesystem holding {shown} has room ({room})"));
    }
}

/// "12.3 MiB free of 8.0 GiB", and the inodes when none are left.
fn describe(s: &Space) -> String {
    let mut text = format!("{} free of {}", size(s.available), size(s.total));
    if s.files_available == Some(0) {
        text.push_str(", and no file can be created (no inodes left)");
    }
    text
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(s: Space) -> String {
        let mut out = Vec::new();
        let mut r = Report {
            out: &mut out,
            problems: 0,
            warnings: 0,
        };
        judge(&mut r, "/data", &s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn full_nearly_full_and_roomy_filesystems_are_told_apart() {
        let gib = 1u64 << 30;
        let full = Space {
            available: 4096,
            total: 8 << 20,
            files_available: Some(100),
        };
        assert!(
            report(full).contains(
                "PROBLEM  the filesystem holding /data is full (4.0 KiB free of 8.0 MiB)"
            ),
        );
        let no_inodes = Space {
            available: gib,
            total: 10 * gib,
            files_available: Some(0),
        };
        assert!(report(no_inodes).contains("no inodes left"));
        let nearly = Space {
            available: gib / 4,
            total: 10 * gib,
            files_available: None,
        };
        assert!(report(nearly).contains("is nearly full (256.0 MiB free of 10.0 GiB)"));
        let roomy = Space {
            available: 5 * gib,
            total: 10 * gib,
            files_available: None,
        };
        assert!(report(roomy).starts_with("  ok       the filesystem holding /data has room"));
        let large_disk_with_gigabytes_free = Space {
            available: 9 * gib,
            total: 250 * gib,
            files_available: None,
        };
        assert!(
            report(large_disk_with_gigabytes_free).contains("has room (9.0 GiB free of 250.0 GiB)")
        );
        let large_disk_nearly_full = Space {
            available: gib,
            total: 250 * gib,
            files_available: None,
        };
        assert!(report(large_disk_nearly_full).contains("is nearly full"));
    }

    #[test]
    fn the_real_data_directory_is_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let mut r = Report {
            out: &mut out,
            problems: 0,
            warnings: 0,
        };
        check(&mut r, dir.path());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("free of"), "{text}");
    }
}
