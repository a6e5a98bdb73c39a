#ifndef AS_COMMAND_H
#define AS_COMMAND_H

#include "net.h"
#include "as-request.h"
#include "as-settings.h"
#include "as-store.h"
#include "wbxml.h"

struct mail_user;
struct http_server_request;
struct as_response_stream;

/* EAS status codes common to all commands (MS-ASCMD 2.2.2) */
enum as_common_status {
	AS_STATUS_INVALID_CONTENT = 101,
	AS_STATUS_INVALID_WBXML = 102,
	AS_STATUS_INVALID_XML = 103,
	AS_STATUS_INVALID_DATETIME = 104,
	AS_STATUS_INVALID_COMBINATION_OF_IDS = 105,
	AS_STATUS_INVALID_IDS = 106,
	AS_STATUS_INVALID_MIME = 107,
	AS_STATUS_DEVICE_ID_MISSING_OR_INVALID = 108,
	AS_STATUS_DEVICE_TYPE_MISSING_OR_INVALID = 109,
	AS_STATUS_SERVER_ERROR = 110,
	AS_STATUS_SERVER_ERROR_RETRY_LATER = 111,
	AS_STATUS_MAILBOX_QUOTA_EXCEEDED = 113,
	AS_STATUS_MAILBOX_SERVER_OFFLINE = 114,
	AS_STATUS_SEND_QUOTA_EXCEEDED = 115,
	AS_STATUS_MESSAGE_RECIPIENT_UNRESOLVED = 116,
	AS_STATUS_MESSAGE_REPLY_NOT_ALLOWED = 117,
	AS_STATUS_MESSAGE_PREVIOUSLY_SENT = 118,
	AS_STATUS_MESSAGE_HAS_NO_RECIPIENT = 119,
	AS_STATUS_MAIL_SUBMISSION_FAILED = 120,
	AS_STATUS_MESSAGE_REPLY_FAILED = 121,
	AS_STATUS_ATTACHMENT_IS_TOO_LARGE = 122,
	AS_STATUS_USER_HAS_NO_MAILBOX = 123,
	AS_STATUS_USER_CANNOT_BE_ANONYMOUS = 124,
	AS_STATUS_USER_PRINCIPAL_COULD_NOT_BE_FOUND = 125,
	AS_STATUS_USER_DISABLED_FOR_SYNC = 126,
	AS_STATUS_USER_ON_NEW_MAILBOX_CANNOT_SYNC = 127,
	AS_STATUS_USER_ON_LEGACY_MAILBOX_CANNOT_SYNC = 128,
	AS_STATUS_DEVICE_IS_BLOCKED_FOR_THIS_USER = 129,
	AS_STATUS_ACCESS_DENIED = 130,
	AS_STATUS_ACCOUNT_DISABLED = 131,
	AS_STATUS_SYNC_STATE_NOT_FOUND = 132,
	AS_STATUS_SYNC_STATE_LOCKED = 133,
	AS_STATUS_SYNC_STATE_CORRUPT = 134,
	AS_STATUS_SYNC_STATE_ALREADY_EXISTS = 135,
	AS_STATUS_SYNC_STATE_VERSION_INVALID = 136,
	AS_STATUS_COMMAND_NOT_SUPPORTED = 137,
	AS_STATUS_VERSION_NOT_SUPPORTED = 138,
	AS_STATUS_DEVICE_NOT_FULLY_PROVISIONABLE = 139,
	AS_STATUS_REMOTE_WIPE_REQUESTED = 140,
	AS_STATUS_LEGACY_DEVICE_ON_STRICT_POLICY = 141,
	AS_STATUS_DEVICE_NOT_PROVISIONED = 142,
	AS_STATUS_POLICY_REFRESH = 143,
	AS_STATUS_INVALID_POLICY_KEY = 144,
	AS_STATUS_EXTERNALLY_MANAGED_DEVICES_NOT_ALLOWED = 145,
	AS_STATUS_NO_RECURRENCE_IN_CALENDAR = 146,
	AS_STATUS_UNEXPECTED_ITEM_CLASS = 147,
	AS_STATUS_REMOTE_SERVER_HAS_NO_SSL = 148,
	AS_STATUS_INVALID_STORED_REQUEST = 149,
	AS_STATUS_ITEM_NOT_FOUND = 150,
	AS_STATUS_TOO_MANY_FOLDERS = 151,
	AS_STATUS_NO_FOLDERS_FOUND = 152,
	AS_STATUS_ITEMS_LOST_AFTER_MOVE = 153,
	AS_STATUS_FAILURE_IN_MOVE_OPERATION = 154,
	AS_STATUS_MOVE_COMMAND_DISALLOWED_FOR_NON_PERSISTENT_MOVE_ACTION = 155,
	AS_STATUS_MOVE_COMMAND_INVALID_DESTINATION_FOLDER = 156,
	AS_STATUS_AVAILABILITY_TOO_MANY_RECIPIENTS = 160,
	AS_STATUS_AVAILABILITY_DL_LIMIT_REACHED = 161,
	AS_STATUS_AVAILABILITY_TRANSIENT_FAILURE = 162,
	AS_STATUS_AVAILABILITY_FAILURE = 163,
	AS_STATUS_BODY_PART_PREFERENCE_TYPE_NOT_SUPPORTED = 164,
	AS_STATUS_DEVICE_INFORMATION_REQUIRED = 165,
	AS_STATUS_INVALID_ACCOUNT_ID = 166,
	AS_STATUS_ACCOUNT_SEND_DISABLED = 167,
	AS_STATUS_IRM_FEATURE_DISABLED = 168,
	AS_STATUS_IRM_TRANSIENT_ERROR = 169,
	AS_STATUS_IRM_PERMANENT_ERROR = 170,
	AS_STATUS_IRM_INVALID_TEMPLATE_ID = 171,
	AS_STATUS_IRM_OPERATION_NOT_PERMITTED = 172,
	AS_STATUS_NO_PICTURE = 173,
	AS_STATUS_PICTURE_TOO_LARGE = 174,
	AS_STATUS_PICTURE_LIMIT_REACHED = 175,
	AS_STATUS_BODY_PART_CONVERSATION_TOO_LARGE = 176,
	AS_STATUS_MAXIMUM_DEVICES_REACHED = 177,
};

enum as_command_result {
	/* ctx->response (or ctx->http_status) is ready */
	AS_CMD_DONE = 1,
	/* The command holds the request (Ping, Sync with Wait) and calls
	   as_cmd_finish() later, from an io/timeout callback. */
	AS_CMD_PENDING = 0,
	/* Internal failure: HTTP 500 is sent, error already logged */
	AS_CMD_FAILED = -1,
};

/* Everything a command handler sees. Allocated per request; freed after
   the response is sent (or the client disconnected). */
struct as_cmd_context {
	pool_t pool;
	struct event *event;	/* log prefix "activesync(user)<device>: " */
	const struct as_settings *set;
	struct as_store *store;

	const struct as_request *req;
	const char *username;	/* canonical user name from auth */
	struct mail_user *mail_user;
	/* The device record, already created/updated by the dispatcher
	   (user agent, version; last_seen to the minute). Commands may
	   change fields and call as_store_device_put() themselves. */
	struct as_device *device;
	/* The effective security policy of the device (as_cmd_get_policy()
	   reads it once per request) */
	struct as_policy *policy;
	/* as_folders_groupware_as_email(): read once per request */
	unsigned int groupware_as_email;
	bool groupware_as_email_known;

	/* Decoded request body; NULL when the body was empty. */
	struct wbxml_node *root;
	/* The undecoded body for AS_CMD_FLAG_RAW_BODY_BEFORE_14 commands
	   before 14.0 (then root is NULL), otherwise NULL. */
	const buffer_t *raw_body;

	/* WBXML response written by the command; nothing written = empty
	   200 response (e.g. Ping/Sync "no changes" forms where allowed).
	   The HTTP response takes it over in as_cmd_finish(): NULL after. */
	buffer_t *response;
	struct wbxml_writer *writer;
	/* Optional: the response body as a stream instead of ctx->response
	   (ItemOperations/GetAttachment with large attachments, sent with
	   bounded memory). The context keeps a reference, dropped when the
	   request is freed. Content type NULL = WBXML. */
	struct istream *response_input;
	const char *response_content_type;
	/* http/as-response-stream.c: the response goes out while it is
	   written (Sync, ItemOperations); NULL = buffered */
	struct as_response_stream *response_stream;
	/* HTTP status when not 200 (e.g. 449 for 12.x provisioning) */
	unsigned int http_status;
	/* Items the response carries (Sync changes, fetched items, search
	   results), for the activesync_command_finished event */
	unsigned int items;
	/* A held request answered for a change notification: when its
	   datagram reached the process's socket and when the process read
	   it from there (both zero otherwise), for the push_* event
	   fields */
	struct timeval push_arrived, push_read;
	const char *http_reason;
	/* with an HTTP error: Retry-After (seconds), 0 = none */
	unsigned int http_retry_after_secs;
	/* with an HTTP error: an MS-ASProtocolVersions header (the versions
	   this device may use), NULL = none */
	const char *http_protocol_versions;

	/* For AS_CMD_PENDING: called if the client goes away or the process
	   shuts down before the command finished. Must free the command's
	   own resources (timeouts, notify watches); must not call
	   as_cmd_finish(). */
	void (*abort)(struct as_cmd_context *ctx);
	void *cmd_context;

	/* internal */
	struct http_server_request *http_req;
	struct as_client *client;
	struct as_client_request *client_request;
	struct as_user *user;
	const struct as_command *cmd;
	/* for as_cmd_reopen_user() */
	struct ip_addr remote_ip;
	bool ssl:1;
	bool finished:1;
	bool aborted:1;
	/* the decoded request went to the debug log */
	bool request_logged:1;
};

enum as_command_flags {
	/* Allowed without an acknowledged policy key (Provision) */
	AS_CMD_FLAG_NO_POLICY = 0x01,
	/* An empty request body is valid (Ping, Sync with cached request) */
	AS_CMD_FLAG_EMPTY_BODY_OK = 0x02,
	/* Before 14.0 the body is not WBXML (SendMail & co. send the MIME
	   message itself): it is passed as ctx->raw_body */
	AS_CMD_FLAG_RAW_BODY_BEFORE_14 = 0x04,
	/* Allowed for a quarantined device (ABQ): the command reaches only
	   the default folders (as_folders_list()/as_folders_lookup() hide
	   the others from it). Every other command is refused. */
	AS_CMD_FLAG_QUARANTINE_OK = 0x08,
};

struct as_command {
	const char *name;
	enum as_command_result (*func)(struct as_cmd_context *ctx);
	enum as_command_flags flags;
	/* Response root element and its Status element, used by the
	   dispatcher for errors common to all commands (e.g. 142) */
	unsigned int response_tag;
	unsigned int status_tag;
};

const struct as_command *as_command_find(const char *name);
/* Comma-separated list for MS-ASProtocolCommands */
const char *as_command_list(void);

/* Finish a pending command: sends ctx->response. */
void as_cmd_finish(struct as_cmd_context *ctx);

/* A pending command that waits long (Ping) closes the mail user while
   idle, and opens it again (a fresh userdb lookup) when it needs it.
   ctx->mail_user is NULL in between. reopen returns 0, or -1 with
   error_r (user gone from the userdb, or a lookup error). */
void as_cmd_release_user(struct as_cmd_context *ctx);
int as_cmd_reopen_user(struct as_cmd_context *ctx, const char **error_r);
/* Open another user's mail (a ResolveRecipients recipient's calendar)
   with the requester's connection data. Returns 0, or -1 with error_r.
   Close it with as_user_close(). */
int as_cmd_open_other_user(struct as_cmd_context *ctx, const char *username,
			   struct as_user *user_r, const char **error_r);

/* The device's effective policy (policy/as-policy.h), read from the
   store on first use. Returns -1 with error_r on a store error. */
int as_cmd_get_policy(struct as_cmd_context *ctx,
		      const struct as_policy **policy_r, const char **error_r);

/* A fault on our side that passes (the state store is full or can't be
   written): the response written so far is dropped and HTTP 503 with
   Retry-After goes out instead, so that the device retries with the keys
   it has. Call before as_cmd_finish() (or returning AS_CMD_DONE). */
void as_cmd_set_retry_later(struct as_cmd_context *ctx);

/* Convenience: write <response_tag><status_tag>status</status_tag></...>
   as the whole response (for errors before any output). */
void as_cmd_write_status(struct as_cmd_context *ctx, unsigned int status);

/* Command handlers (module/commands/cmd-*.c) */
enum as_command_result cmd_provision(struct as_cmd_context *ctx);
enum as_command_result cmd_foldersync(struct as_cmd_context *ctx);
enum as_command_result cmd_foldercreate(struct as_cmd_context *ctx);
enum as_command_result cmd_folderupdate(struct as_cmd_context *ctx);
enum as_command_result cmd_folderdelete(struct as_cmd_context *ctx);
enum as_command_result cmd_sync(struct as_cmd_context *ctx);
enum as_command_result cmd_ping(struct as_cmd_context *ctx);
enum as_command_result cmd_moveitems(struct as_cmd_context *ctx);
enum as_command_result cmd_itemoperations(struct as_cmd_context *ctx);
enum as_command_result cmd_getattachment(struct as_cmd_context *ctx);
enum as_command_result cmd_getitemestimate(struct as_cmd_context *ctx);
enum as_command_result cmd_sendmail(struct as_cmd_context *ctx);
enum as_command_result cmd_meetingresponse(struct as_cmd_context *ctx);
enum as_command_result cmd_smartreply(struct as_cmd_context *ctx);
enum as_command_result cmd_smartforward(struct as_cmd_context *ctx);
enum as_command_result cmd_search(struct as_cmd_context *ctx);
enum as_command_result cmd_settings(struct as_cmd_context *ctx);
enum as_command_result cmd_resolverecipients(struct as_cmd_context *ctx);
enum as_command_result cmd_validatecert(struct as_cmd_context *ctx);
enum as_command_result cmd_find(struct as_cmd_context *ctx);

/* cmd-provision.c: remember settings:DeviceInformation/Set in
   ctx->device (Provision and Settings carry it; the caller saves). */
void provision_device_info(struct as_cmd_context *ctx,
			   const struct wbxml_node *device_info);

#endif
