//! Handing due links to downloaders: the periodic timer, the choice of downloader, and what
//! happens after a refusal or a failure (back to the queue, a growing wait, the error kept).

use botbox_sdk::outbox::{self, Edit};
use botbox_sdk::{Error, Message, grpc, kv, log, timers};

use crate::proto::{DOWNLOAD, DownloadReply, DownloadRequest};
use crate::routing::mix;
use crate::settings::Settings;
use crate::store::{self, Downloader, Job, Link, Tick};
use crate::view;

/// The timer's payload.
pub const TICK_PAYLOAD: &[u8] = b"dispatch";

/// Makes sure the dispatch timer is pending: schedules it when there is none, or when the one
/// recorded is long overdue (its firing was lost, e.g. the capability was off for a while).
/// Called on every update and request, so the queue never stalls for good.
pub fn ensure_tick(settings: &Settings) -> Result<(), Error> {
    let now = timers::now_unix_ms();
    let grace = settings.interval_secs * 2000 + 10_000;
    match kv::get_json::<Tick>(store::TICK)? {
        Some(tick) if tick.due_ms + grace > now => Ok(()),
        _ => schedule_tick(settings, now),
    }
}

fn schedule_tick(settings: &Settings, now: u64) -> Result<(), Error> {
    let delay = std::time::Duration::from_secs(settings.interval_secs);
    let timer = timers::after(delay, None, TICK_PAYLOAD)?;
    let tick = Tick {
        timer,
        due_ms: now + settings.interval_secs * 1000,
    };
    Ok(kv::set_json(store::TICK, &tick)?)
}

/// The dispatch timer fired: schedule the next one, then hand out the due links.
pub fn on_tick(settings: &Settings, timer: u64) -> Result<(), Error> {
    let current = kv::get_json::<Tick>(store::TICK)?;
    if current.is_some_and(|tick| tick.timer != timer) {
        return Ok(()); // A stale timer: a newer one is pending.
    }
    let now = timers::now_unix_ms();
    schedule_tick(settings, now)?;
    let downloaders = store::downloaders()?;
    for link in store::due_links(now, settings.max_dispatch)? {
        let id = link.id;
        let done = match send(&link, &downloaders, settings, now) {
            Ok((name, job_id)) => sent(&link, &name, &job_id),
            Err(error) => failed(link, error, settings, now),
        };
        // One link's trouble must not undo the others' or the next timer (an `Err` would
        // discard every effect of this call).
        if let Err(error) = done {
            log::error!("dispatch of link {id}: {error}");
        }
    }
    Ok(())
}

/// Offers `link` to the downloaders its route names, starting at a random one and going on to
/// the next after a refusal or an error, each at its addresses in turn. On acceptance returns
/// the downloader's name and the job id; otherwise every error, joined.
pub fn send(
    link: &Link,
    downloaders: &[Downloader],
    settings: &Settings,
    now: u64,
) -> Result<(String, String), String> {
    let names: Vec<String> = downloaders.iter().map(|d| d.name.clone()).collect();
    let candidates = settings
        .routes
        .candidates(&link.url, &names, mix(now, link.id));
    if candidates.is_empty() {
        return Err(if downloaders.is_empty() {
            "no downloader is registered".into()
        } else {
            "no downloader is routed for this link".into()
        });
    }
    let job_id = format!("{}-{}", link.id, link.attempts + 1);
    let request = DownloadRequest {
        job_id: job_id.clone(),
        link: link.url.clone(),
        quality: link.quality.clone(),
        owner: link.owner,
    };
    let mut errors = Vec::new();
    for name in candidates {
        let Some(downloader) = downloaders.iter().find(|d| d.name == name) else {
            continue;
        };
        for address in &downloader.addresses {
            match grpc::call::<_, DownloadReply>(address, DOWNLOAD, &request) {
                Ok(reply) => {
                    refresh(downloader, &reply, now);
                    if reply.accepted {
                        return Ok((name, job_id));
                    }
                    errors.push(format!("{name} refused: {}", reply.reason));
                    break;
                }
                Err(status) => errors.push(format!("{name}: {}", status.message)),
            }
        }
    }
    Err(errors.join("; "))
}

/// A downloader's answer tells its current name and addresses: keep them when they changed.
/// (Only then: a write here would make every concurrent registry call rerun this dispatch.)
fn refresh(known: &Downloader, reply: &DownloadReply, now: u64) {
    if reply.name != known.name
        || reply.addresses.is_empty()
        || reply.addresses == known.addresses
        || crate::registry::check(&reply.name, &reply.addresses).is_err()
    {
        return;
    }
    let record = Downloader {
        name: known.name.clone(),
        addresses: reply.addresses.clone(),
        seen_ms: now,
    };
    if let Err(error) = kv::set_json(store::downloader_key(&record.name), &record) {
        log::warn!("cannot refresh downloader {}: {error}", record.name);
    }
}

/// `link` went to `downloader`: out of the queue, its message deleted, the job remembered
/// until the downloader reports.
pub fn sent(link: &Link, downloader: &str, job_id: &str) -> Result<(), Error> {
    store::remove_link(link)?;
    forget_messages(link)?;
    let job = Job {
        link: link.clone(),
        downloader: downloader.into(),
    };
    if let Err(error) = kv::set_json(store::job_key(job_id), &job) {
        // The download goes on; only its report will find no job.
        log::warn!("cannot remember job {job_id}: {error}");
    }
    Ok(())
}

/// Deletes the link's message and, when it was the last link it spoke for, the insertion
/// status message.
pub fn forget_messages(link: &Link) -> Result<(), Error> {
    if let Some(ticket) = link.message {
        outbox::delete(ticket)?;
    }
    if let Some(status) = link.status {
        let key = store::batch_key(status);
        if kv::increment(&key, -1)? <= 0 {
            kv::delete(&key)?;
            outbox::delete(status)?;
        }
    }
    Ok(())
}

/// A try of `link` failed with `error`: back to the queue with a longer wait and the error
/// shown, or given up after `max_attempts` tries.
pub fn failed(link: Link, error: String, settings: &Settings, now: u64) -> Result<(), Error> {
    let mut next = link.clone();
    next.attempts += 1;
    next.last_error = Some(error);
    if next.attempts >= settings.max_attempts {
        store::remove_link(&link)?;
        forget_messages(&link)?;
        give_up(&next)?;
        return Ok(());
    }
    next.due_ms = now + settings.backoff_ms(next.attempts);
    store::update_link(&link, &next)?;
    if let Some(ticket) = next.message {
        Edit::new(ticket, view::link_text(&next))
            .inline_keyboard(view::keyboard(&next, settings))
            .send()?;
    }
    Ok(())
}

/// Tells the owner that `link` was given up.
pub fn give_up(link: &Link) -> Result<(), Error> {
    let text = format!(
        "Gave up on #{} {} after {} tries. Last error: {}",
        link.id,
        link.url,
        link.attempts,
        link.last_error.as_deref().unwrap_or("unknown")
    );
    Message::new(link.chat, text).send()?;
    Ok(())
}
