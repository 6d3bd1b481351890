//! The module's hand-written prost messages (`../src/proto.rs`, compiled into the wasm module)
//! must say what `proto/download_queue.proto` says. Each message is filled in every field,
//! encoded with the code tonic generated from the `.proto`, decoded with the hand-written type
//! and encoded again: the bytes must be the same, so no field is missing, renumbered or retyped.

#[allow(
    dead_code,
    reason = "the module uses the method paths; this test only the messages"
)]
#[path = "../../src/proto.rs"]
mod hand_written;

use download_queue_downloader::proto as generated;
use prost::Message;

fn round_trip<G: Message, H: Message + Default>(generated: &G) -> Vec<u8> {
    let bytes = generated.encode_to_vec();
    let hand = H::decode(bytes.as_slice()).expect("the hand-written type decodes it");
    assert_eq!(
        hand.encode_to_vec(),
        bytes,
        "{}",
        std::any::type_name::<H>()
    );
    bytes
}

#[test]
fn hand_written_messages_match_the_proto() {
    let addresses = vec!["http://a:1".to_string(), "http://b:2".to_string()];
    round_trip::<_, hand_written::RegisterRequest>(&generated::RegisterRequest {
        name: "n".into(),
        addresses: addresses.clone(),
        token: "t".into(),
    });
    round_trip::<_, hand_written::RegisterReply>(&generated::RegisterReply { downloaders: 3 });
    round_trip::<_, hand_written::DownloadRequest>(&generated::DownloadRequest {
        job_id: "1-1".into(),
        link: "http://x/y".into(),
        quality: "720p".into(),
        owner: -5,
    });
    round_trip::<_, hand_written::DownloadReply>(&generated::DownloadReply {
        accepted: true,
        reason: "r".into(),
        name: "n".into(),
        addresses: addresses.clone(),
    });
    round_trip::<_, hand_written::ReportRequest>(&generated::ReportRequest {
        name: "n".into(),
        addresses,
        token: "t".into(),
        job_id: "1-1".into(),
        ok: true,
        error: "e".into(),
        path: "720p/f".into(),
        bytes: u64::MAX,
    });
    round_trip::<_, hand_written::ReportReply>(&generated::ReportReply { known: true });
}

#[test]
fn the_method_paths_name_the_proto_services() {
    let registry = generated::registry_server::SERVICE_NAME;
    let downloader = generated::downloader_server::SERVICE_NAME;
    assert_eq!(hand_written::REGISTER, format!("/{registry}/Register"));
    assert_eq!(hand_written::REPORT, format!("/{registry}/Report"));
    assert_eq!(hand_written::DOWNLOAD, format!("/{downloader}/Download"));
}
