//! The gRPC service the module serves to downloaders: `Register` and `Report`.

use botbox_sdk::grpc::{Code, Status};
use botbox_sdk::{Message, http, kv, log, timers};

use crate::dispatch;
use crate::proto::{REGISTER, REPORT, RegisterReply, RegisterRequest, ReportReply, ReportRequest};
use crate::settings::Settings;
use crate::store::{self, Downloader, Job};
use crate::view;

/// Most addresses one downloader may register.
const MAX_ADDRESSES: usize = 8;

/// Answers an HTTP request from the host: a gRPC call of `Registry`, or 404.
pub fn handle(request: http::Request) -> http::Response {
    if !botbox_sdk::grpc::Router::is_grpc(&request) {
        return http::Response::new(404).with_body(
            "This is the download-queue module's gRPC endpoint (botbox.download_queue.v1.Registry).\n",
        );
    }
    botbox_sdk::grpc::Router::new()
        .unary(REGISTER, |request: RegisterRequest| {
            with_settings(|s| register(request, s))
        })
        .unary(REPORT, |request: ReportRequest| {
            with_settings(|s| report(request, s))
        })
        .handle(&request)
}

fn with_settings<T>(f: impl FnOnce(&Settings) -> Result<T, Status>) -> Result<T, Status> {
    let settings = Settings::load()
        .map_err(|e| Status::new(Code::FailedPrecondition, format!("module settings: {e}")))?;
    // Any exchange may restart a stalled dispatch timer.
    if let Err(error) = dispatch::ensure_tick(&settings) {
        log::warn!("cannot schedule the dispatch timer: {error}");
    }
    f(&settings)
}

fn internal(error: impl std::fmt::Display) -> Status {
    Status::new(Code::Internal, error.to_string())
}

/// Whether `token` is the operator's `registry_token`. Without one set, nobody gets in: the
/// port may be reachable by anyone, and a registered downloader receives users' links.
fn check_token(token: &str, settings: &Settings) -> Result<(), Status> {
    if settings.registry_token.trim().is_empty() {
        return Err(Status::new(
            Code::PermissionDenied,
            "the bot's operator set no registry_token for download-queue: no downloader is \
             accepted until one is set (and given to the downloaders as DQ_TOKEN)",
        ));
    }
    if equal_in_constant_time(token.as_bytes(), settings.registry_token.as_bytes()) {
        Ok(())
    } else {
        Err(Status::new(Code::PermissionDenied, "wrong registry token"))
    }
}

/// `a == b`, taking as long wherever they differ (the length aside), so that the time of a
/// refusal does not tell how much of a guess was right.
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a downloader's name and addresses; the error says which is wrong.
pub fn check(name: &str, addresses: &[String]) -> Result<(), Status> {
    let invalid = |m: String| Err(Status::new(Code::InvalidArgument, m));
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !name_ok {
        return invalid(format!(
            "name {name:?} must be 1-64 of a-z, A-Z, 0-9, '-', '_', '.'"
        ));
    }
    if addresses.is_empty() || addresses.len() > MAX_ADDRESSES {
        return invalid(format!("1-{MAX_ADDRESSES} addresses are needed"));
    }
    for address in addresses {
        let url = url::Url::parse(address);
        let ok = address.len() <= 200
            && url.is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return invalid(format!(
                "address {address:?} must be an http:// or https:// URL"
            ));
        }
    }
    Ok(())
}

/// Stores (replaces) the downloader's whole record.
fn remember(name: &str, addresses: &[String]) -> Result<(), Status> {
    let record = Downloader {
        name: name.into(),
        addresses: addresses.to_vec(),
        seen_ms: timers::now_unix_ms(),
    };
    kv::set_json(store::downloader_key(name), &record).map_err(internal)
}

fn register(request: RegisterRequest, settings: &Settings) -> Result<RegisterReply, Status> {
    check_token(&request.token, settings)?;
    check(&request.name, &request.addresses)?;
    remember(&request.name, &request.addresses)?;
    log::info!(
        "downloader {} registered at {:?}",
        request.name,
        request.addresses
    );
    let downloaders = store::downloaders().map_err(internal)?.len();
    Ok(RegisterReply {
        downloaders: u32::try_from(downloaders).unwrap_or(u32::MAX),
    })
}

fn report(request: ReportRequest, settings: &Settings) -> Result<ReportReply, Status> {
    check_token(&request.token, settings)?;
    // Every exchange refreshes what the module knows of the downloader (written only when it
    // changed, so reports do not make a running dispatch, which read the records, run again).
    if check(&request.name, &request.addresses).is_ok() {
        let known: Option<Downloader> =
            kv::get_json(store::downloader_key(&request.name)).map_err(internal)?;
        if known.is_none_or(|known| known.addresses != request.addresses) {
            remember(&request.name, &request.addresses)?;
        }
    }
    let key = store::job_key(&request.job_id);
    let Some(job) = kv::get_json::<Job>(&key).map_err(internal)? else {
        // Not yet committed (a fast download can be reported before the dispatch that sent it
        // commits) or long gone: the downloader tries again a few times.
        return Err(Status::new(
            Code::NotFound,
            format!("no job {} (yet)", request.job_id),
        ));
    };
    kv::delete(&key).map_err(internal)?;
    let link = &job.link;
    if request.ok {
        let text = format!(
            "Downloaded #{} {} ({}, {} bytes) by {}.",
            link.id, link.url, link.quality, request.bytes, request.name
        );
        Message::new(link.chat, text).send().map_err(internal)?;
    } else {
        requeue(job, &request, settings).map_err(internal)?;
    }
    Ok(ReportReply { known: true })
}

/// A download failed after it was accepted: the link goes back to the queue, with a new
/// message and keyboard, a longer wait and the error.
fn requeue(
    job: Job,
    request: &ReportRequest,
    settings: &Settings,
) -> Result<(), botbox_sdk::Error> {
    let now = timers::now_unix_ms();
    let mut link = job.link;
    link.message = None;
    link.status = None;
    link.attempts += 1;
    link.last_error = Some(format!("{}: {}", request.name, request.error));
    if link.attempts >= settings.max_attempts {
        return dispatch::give_up(&link);
    }
    link.due_ms = now + settings.backoff_ms(link.attempts);
    let ticket = Message::new(link.chat, view::link_text(&link))
        .inline_keyboard(view::keyboard(&link, settings))
        .send()?;
    link.message = Some(ticket);
    kv::batch(store::put_link(&link)?)?;
    Ok(())
}
