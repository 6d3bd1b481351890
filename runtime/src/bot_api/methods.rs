//! Every method of the Bot API version the host is built for (that of the `frankenstein` crate
//! it depends on), with its class and its parameter type. A method Telegram adds later is
//! unknown here until the host moves to a newer version.

use frankenstein::methods::*;

use super::{Class::*, Grant, Method, params};

/// `name: ParamsType => Class` (`, touches` when it acts on a message named by id); no type for
/// a method without parameters.
macro_rules! methods {
    ($($name:ident $(: $params:ident)? => $class:expr $(, $touches:ident)?;)*) => {
        pub(super) static METHODS: &[Method] = &[$(
            Method {
                name: stringify!($name),
                class: $class,
                touches_messages: methods!(@touches $($touches)?),
                check: methods!(@check $($params)?),
            },
        )*];
    };
    (@check $params:ident) => { Some(params::shaped::<$params>) };
    (@check) => { None };
    (@touches touches) => { true };
    (@touches) => { false };
}

methods! {
    getUpdates: GetUpdatesParams => Host;
    sendMessage: SendMessageParams => Outbox;
    setWebhook: SetWebhookParams => Host;
    deleteWebhook: DeleteWebhookParams => Host;
    getWebhookInfo => Host;
    getMe => Direct;
    logOut => Host;
    close => Host;
    forwardMessage: ForwardMessageParams => Outbox, touches;
    forwardMessages: ForwardMessagesParams => Outbox, touches;
    copyMessage: CopyMessageParams => Outbox, touches;
    copyMessages: CopyMessagesParams => Outbox, touches;
    sendPhoto: SendPhotoParams => Outbox;
    sendAudio: SendAudioParams => Outbox;
    sendDocument: SendDocumentParams => Outbox;
    sendVideo: SendVideoParams => Outbox;
    sendAnimation: SendAnimationParams => Outbox;
    sendVoice: SendVoiceParams => Outbox;
    sendVideoNote: SendVideoNoteParams => Outbox;
    sendLivePhoto: SendLivePhotoParams => Outbox;
    sendPaidMedia: SendPaidMediaParams => Outbox;
    sendLocation: SendLocationParams => Outbox;
    editMessageLiveLocation: EditMessageLiveLocationParams => Outbox, touches;
    stopMessageLiveLocation: StopMessageLiveLocationParams => Outbox, touches;
    sendChecklist: SendChecklistParams => Outbox;
    editMessageChecklist: EditMessageChecklistParams => Outbox, touches;
    sendVenue: SendVenueParams => Outbox;
    sendContact: SendContactParams => Outbox;
    sendDice: SendDiceParams => Outbox;
    sendMessageDraft: SendMessageDraftParams => Ephemeral;
    sendChatAction: SendChatActionParams => Ephemeral;
    setMessageReaction: SetMessageReactionParams => Outbox;
    getUserProfilePhotos: GetUserProfilePhotosParams => Direct;
    getUserProfileAudios: GetUserProfileAudiosParams => Direct;
    getManagedBotToken: GetManagedBotTokenParams => Host;
    replaceManagedBotToken: ReplaceManagedBotTokenParams => Host;
    getManagedBotAccessSettings: GetManagedBotAccessSettingsParams => Direct;
    setManagedBotAccessSettings: SetManagedBotAccessSettingsParams => Granted(Grant::BotSettings);
    setUserEmojiStatus: SetUserEmojiStatusParams => Outbox;
    getFile: GetFileParams => Direct;
    banChatMember: BanChatMemberParams => Outbox;
    unbanChatMember: UnbanChatMemberParams => Outbox;
    restrictChatMember: RestrictChatMemberParams => Outbox;
    promoteChatMember: PromoteChatMemberParams => Outbox;
    setChatAdministratorCustomTitle: SetChatAdministratorCustomTitleParams => Outbox;
    setChatMemberTag: SetChatMemberTagParams => Outbox;
    banChatSenderChat: BanChatSenderChatParams => Outbox;
    unbanChatSenderChat: UnbanChatSenderChatParams => Outbox;
    setChatPermissions: SetChatPermissionsParams => Outbox;
    exportChatInviteLink: ExportChatInviteLinkParams => Direct;
    createChatInviteLink: CreateChatInviteLinkParams => Direct;
    editChatInviteLink: EditChatInviteLinkParams => Direct;
    createChatSubscriptionInviteLink: CreateChatSubscriptionInviteLinkParams => Direct;
    editChatSubscriptionInviteLink: EditChatSubscriptionInviteLinkParams => Direct;
    revokeChatInviteLink: RevokeChatInviteLinkParams => Direct;
    approveChatJoinRequest: ApproveChatJoinRequestParams => Outbox;
    declineChatJoinRequest: DeclineChatJoinRequestParams => Outbox;
    answerChatJoinRequestQuery: AnswerChatJoinRequestQueryParams => Answer;
    sendChatJoinRequestWebApp: SendChatJoinRequestWebAppParams => Direct;
    deleteChatPhoto: DeleteChatPhotoParams => Outbox;
    setChatTitle: SetChatTitleParams => Outbox;
    setChatDescription: SetChatDescriptionParams => Outbox;
    pinChatMessage: PinChatMessageParams => Outbox, touches;
    unpinChatMessage: UnpinChatMessageParams => Outbox, touches;
    unpinAllChatMessages: UnpinAllChatMessagesParams => Outbox;
    leaveChat: LeaveChatParams => Outbox;
    getChat: GetChatParams => Direct;
    getChatAdministrators: GetChatAdministratorsParams => Direct;
    getChatMemberCount: GetChatMemberCountParams => Direct;
    getChatMember: GetChatMemberParams => Direct;
    getUserPersonalChatMessages: GetUserPersonalChatMessagesParams => Direct;
    setChatStickerSet: SetChatStickerSetParams => Outbox;
    deleteChatStickerSet: DeleteChatStickerSetParams => Outbox;
    getForumTopicIconStickers => Direct;
    createForumTopic: CreateForumTopicParams => Direct;
    editForumTopic: EditForumTopicParams => Outbox;
    closeForumTopic: CloseForumTopicParams => Outbox;
    reopenForumTopic: ReopenForumTopicParams => Outbox;
    deleteForumTopic: DeleteForumTopicParams => Outbox;
    unpinAllForumTopicMessages: UnpinAllForumTopicMessagesParams => Outbox;
    editGeneralForumTopic: EditGeneralForumTopicParams => Outbox;
    closeGeneralForumTopic: CloseGeneralForumTopicParams => Outbox;
    reopenGeneralForumTopic: ReopenGeneralForumTopicParams => Outbox;
    hideGeneralForumTopic: HideGeneralForumTopicParams => Outbox;
    unhideGeneralForumTopic: UnhideGeneralForumTopicParams => Outbox;
    answerCallbackQuery: AnswerCallbackQueryParams => Answer;
    answerGuestQuery: AnswerGuestQueryParams => Answer;
    getUserChatBoosts: GetUserChatBoostsParams => Direct;
    getBusinessConnection: GetBusinessConnectionParams => Direct;
    getMyCommands: GetMyCommandsParams => Direct;
    setMyCommands: SetMyCommandsParams => Granted(Grant::BotSettings);
    deleteMyCommands: DeleteMyCommandsParams => Granted(Grant::BotSettings);
    setMyName: SetMyNameParams => Granted(Grant::BotSettings);
    getMyName: GetMyNameParams => Direct;
    setMyDescription: SetMyDescriptionParams => Granted(Grant::BotSettings);
    getMyDescription: GetMyDescriptionParams => Direct;
    setMyShortDescription: SetMyShortDescriptionParams => Granted(Grant::BotSettings);
    getMyShortDescription: GetMyShortDescriptionParams => Direct;
    removeMyProfilePhoto => Granted(Grant::BotSettings);
    answerInlineQuery: AnswerInlineQueryParams => Answer;
    editMessageCaption: EditMessageCaptionParams => Outbox, touches;
    editMessageReplyMarkup: EditMessageReplyMarkupParams => Outbox, touches;
    editEphemeralMessageCaption: EditEphemeralMessageCaptionParams => Outbox, touches;
    editEphemeralMessageReplyMarkup: EditEphemeralMessageReplyMarkupParams => Outbox, touches;
    stopPoll: StopPollParams => Outbox, touches;
    approveSuggestedPost: ApproveSuggestedPostParams => Outbox;
    declineSuggestedPost: DeclineSuggestedPostParams => Outbox;
    deleteMessage: DeleteMessageParams => Outbox, touches;
    deleteMessages: DeleteMessagesParams => Outbox, touches;
    deleteEphemeralMessage: DeleteEphemeralMessageParams => Outbox, touches;
    deleteMessageReaction: DeleteMessageReactionParams => Outbox;
    deleteAllMessageReactions: DeleteAllMessageReactionsParams => Outbox;
    sendSticker: SendStickerParams => Outbox;
    getStickerSet: GetStickerSetParams => Direct;
    getCustomEmojiStickers: GetCustomEmojiStickersParams => Direct;
    setStickerPositionInSet: SetStickerPositionInSetParams => Outbox;
    deleteStickerFromSet: DeleteStickerFromSetParams => Outbox;
    replaceStickerInSet: ReplaceStickerInSetParams => Outbox;
    setStickerEmojiList: SetStickerEmojiListParams => Outbox;
    setStickerKeywords: SetStickerKeywordsParams => Outbox;
    setStickerMaskPosition: SetStickerMaskPositionParams => Outbox;
    setStickerSetTitle: SetStickerSetTitleParams => Outbox;
    setStickerSetThumbnail: SetStickerSetThumbnailParams => Outbox;
    setCustomEmojiStickerSetThumbnail: SetCustomEmojiStickerSetThumbnailParams => Outbox;
    deleteStickerSet: DeleteStickerSetParams => Outbox;
    getAvailableGifts => Direct;
    sendGift: SendGiftParams => Granted(Grant::Stars);
    giftPremiumSubscription: GiftPremiumSubscriptionParams => Granted(Grant::Stars);
    verifyUser: VerifyUserParams => Granted(Grant::BotSettings);
    verifyChat: VerifyChatParams => Granted(Grant::BotSettings);
    removeUserVerification: RemoveUserVerificationParams => Granted(Grant::BotSettings);
    removeChatVerification: RemoveChatVerificationParams => Granted(Grant::BotSettings);
    readBusinessMessage: ReadBusinessMessageParams => Granted(Grant::Business);
    deleteBusinessMessages: DeleteBusinessMessagesParams => Granted(Grant::Business);
    setBusinessAccountName: SetBusinessAccountNameParams => Granted(Grant::Business);
    setBusinessAccountUsername: SetBusinessAccountUsernameParams => Granted(Grant::Business);
    setBusinessAccountBio: SetBusinessAccountBioParams => Granted(Grant::Business);
    removeBusinessAccountProfilePhoto: RemoveBusinessAccountProfilePhotoParams => Granted(Grant::Business);
    setBusinessAccountGiftSettings: SetBusinessAccountGiftSettingsParams => Granted(Grant::Business);
    getBusinessAccountStarBalance: GetBusinessAccountStarBalanceParams => Granted(Grant::Stars);
    transferBusinessAccountStars: TransferBusinessAccountStarsParams => Granted(Grant::Stars);
    getBusinessAccountGifts: GetBusinessAccountGiftsParams => Granted(Grant::Business);
    getUserGifts: GetUserGiftsParams => Direct;
    getChatGifts: GetChatGiftsParams => Direct;
    convertGiftToStars: ConvertGiftToStarsParams => Granted(Grant::Stars);
    upgradeGift: UpgradeGiftParams => Granted(Grant::Stars);
    transferGift: TransferGiftParams => Granted(Grant::Stars);
    repostStory: RepostStoryParams => Granted(Grant::Business);
    deleteStory: DeleteStoryParams => Granted(Grant::Business);
    sendInvoice: SendInvoiceParams => Outbox;
    createInvoiceLink: CreateInvoiceLinkParams => Direct;
    answerShippingQuery: AnswerShippingQueryParams => Answer;
    answerPreCheckoutQuery: AnswerPreCheckoutQueryParams => Answer;
    getMyStarBalance => Granted(Grant::Stars);
    getStarTransactions: GetStarTransactionsParams => Granted(Grant::Stars);
    refundStarPayment: RefundStarPaymentParams => Granted(Grant::Stars);
    editUserStarSubscription: EditUserStarSubscriptionParams => Granted(Grant::Stars);
    sendGame: SendGameParams => Outbox;
    setGameScore: SetGameScoreParams => Outbox;
    getGameHighScores: GetGameHighScoresParams => Direct;
    setMyDefaultAdministratorRights: SetMyDefaultAdministratorRightsParams => Granted(Grant::BotSettings);
    getMyDefaultAdministratorRights: GetMyDefaultAdministratorRightsParams => Direct;
    answerWebAppQuery: AnswerWebAppQueryParams => Answer;
    savePreparedInlineMessage: SavePreparedInlineMessageParams => Direct;
    savePreparedKeyboardButton: SavePreparedKeyboardButtonParams => Direct;
    setChatMenuButton: SetChatMenuButtonParams => Granted(Grant::BotSettings);
    getChatMenuButton: GetChatMenuButtonParams => Direct;
    unpinAllGeneralForumTopicMessages: UnpinAllGeneralForumTopicMessagesParams => Outbox;
    setPassportDataErrors: SetPassportDataErrorsParams => Outbox;
    addStickerToSet: AddStickerToSetParams => Outbox;
    createNewStickerSet: CreateNewStickerSetParams => Outbox;
    editEphemeralMessageMedia: EditEphemeralMessageMediaParams => Outbox, touches;
    editEphemeralMessageText: EditEphemeralMessageTextParams => Outbox, touches;
    editMessageMedia: EditMessageMediaParams => Outbox, touches;
    editMessageText: EditMessageTextParams => Outbox, touches;
    editStory: EditStoryParams => Granted(Grant::Business);
    postStory: PostStoryParams => Granted(Grant::Business);
    sendMediaGroup: SendMediaGroupParams => Outbox;
    sendPoll: SendPollParams => Outbox;
    sendRichMessage: SendRichMessageParams => Outbox;
    sendRichMessageDraft: SendRichMessageDraftParams => Ephemeral;
    setBusinessAccountProfilePhoto: SetBusinessAccountProfilePhotoParams => Granted(Grant::Business);
    setChatPhoto: SetChatPhotoParams => Outbox;
    setMyProfilePhoto: SetMyProfilePhotoParams => Granted(Grant::BotSettings);
    uploadStickerFile: UploadStickerFileParams => Direct;
}
