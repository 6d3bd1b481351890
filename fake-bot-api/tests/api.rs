//! The fake Bot API driven by the real client, teloxide-core's `Bot`: every answer must be
//! what Telegram would send and must parse into teloxide's types.

mod api {
    pub mod support;

    mod albums;
    mod callbacks;
    mod chats;
    mod copies;
    mod dice_polls;
    mod errors;
    mod failures;
    mod files;
    mod limits;
    mod media;
    mod members;
    mod messages;
    mod moderation;
    mod payments;
    mod pins;
    mod updates;
    mod webhook;
}
