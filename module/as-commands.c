/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "ioloop.h"
#include "istream.h"
#include "randgen.h"
#include "time-util.h"
#include "http-server.h"
#include "mail-user.h"
#include "as-client.h"
#include "as-user.h"
#include "as-user-cache.h"
#include "as-commands-private.h"
#include "http/as-response-stream.h"
#include "policy/as-policy.h"
#include "as-device-access.h"

#define AS_WBXML_HEADER_SIZE 4

static const struct as_command as_commands[] = {
	{ "Provision", cmd_provision,
	  AS_CMD_FLAG_NO_POLICY | AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_PROVISION_PROVISION, EAS_PROVISION_STATUS },
	{ "FolderSync", cmd_foldersync, AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_FOLDERHIERARCHY_FOLDERSYNC, EAS_FOLDERHIERARCHY_STATUS },
	{ "FolderCreate", cmd_foldercreate, 0,
	  EAS_FOLDERHIERARCHY_FOLDERCREATE, EAS_FOLDERHIERARCHY_STATUS },
	{ "FolderUpdate", cmd_folderupdate, 0,
	  EAS_FOLDERHIERARCHY_FOLDERUPDATE, EAS_FOLDERHIERARCHY_STATUS },
	{ "FolderDelete", cmd_folderdelete, 0,
	  EAS_FOLDERHIERARCHY_FOLDERDELETE, EAS_FOLDERHIERARCHY_STATUS },
	{ "Sync", cmd_sync,
	  AS_CMD_FLAG_EMPTY_BODY_OK | AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_AIRSYNC_SYNC, EAS_AIRSYNC_STATUS },
	{ "Ping", cmd_ping,
	  AS_CMD_FLAG_EMPTY_BODY_OK | AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_PING_PING, EAS_PING_STATUS },
	{ "MoveItems", cmd_moveitems, AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_MOVE_MOVEITEMS, EAS_MOVE_STATUS },
	{ "ItemOperations", cmd_itemoperations, AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_ITEMOPERATIONS_ITEMOPERATIONS, EAS_ITEMOPERATIONS_STATUS },
	/* no request body: the reference is in the query */
	{ "GetAttachment", cmd_getattachment,
	  AS_CMD_FLAG_EMPTY_BODY_OK | AS_CMD_FLAG_QUARANTINE_OK, 0, 0 },
	{ "GetItemEstimate", cmd_getitemestimate, AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_GETITEMESTIMATE_GETITEMESTIMATE, EAS_GETITEMESTIMATE_STATUS },
	{ "SendMail", cmd_sendmail, AS_CMD_FLAG_RAW_BODY_BEFORE_14,
	  EAS_COMPOSEMAIL_SENDMAIL, EAS_COMPOSEMAIL_STATUS },
	{ "SmartReply", cmd_smartreply, AS_CMD_FLAG_RAW_BODY_BEFORE_14,
	  EAS_COMPOSEMAIL_SMARTREPLY, EAS_COMPOSEMAIL_STATUS },
	{ "SmartForward", cmd_smartforward, AS_CMD_FLAG_RAW_BODY_BEFORE_14,
	  EAS_COMPOSEMAIL_SMARTFORWARD, EAS_COMPOSEMAIL_STATUS },
	{ "Search", cmd_search, 0, EAS_SEARCH_SEARCH, EAS_SEARCH_STATUS },
	{ "Settings", cmd_settings, AS_CMD_FLAG_QUARANTINE_OK,
	  EAS_SETTINGS_SETTINGS, EAS_SETTINGS_STATUS },
	{ "MeetingResponse", cmd_meetingresponse, 0,
	  EAS_MEETINGRESPONSE_MEETINGRESPONSE, EAS_MEETINGRESPONSE_STATUS },
	{ "ResolveRecipients", cmd_resolverecipients, 0,
	  EAS_RESOLVERECIPIENTS_RESOLVERECIPIENTS,
	  EAS_RESOLVERECIPIENTS_STATUS },
	{ "ValidateCert", cmd_validatecert, 0,
	  EAS_VALIDATECERT_VALIDATECERT, EAS_VALIDATECERT_STATUS },
	{ "Find", cmd_find, 0, EAS_FIND_FIND, EAS_FIND_STATUS },
};

static const struct wbxml_limits as_wbxml_limits = {
	.max_depth = 32,
	.max_elements = 200000,
	.max_string_size = 64 * 1024 * 1024,
};

const struct as_command *as_command_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_commands); i++) {
		if (strcmp(as_commands[i].name, name) == 0)
			return &as_commands[i];
	}
	return NULL;
}

const char *as_command_list(void)
{
	string_t *str = t_str_new(128);
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_commands); i++) {
		if (i > 0)
			str_append_c(str, ',');
		str_append(str, as_commands[i].name);
	}
	return str_c(str);
}

struct as_cmd_context *as_cmd_context_create(pool_t pool, struct event *event)
{
	struct as_cmd_context *ctx;

	ctx = p_new(pool, struct as_cmd_context, 1);
	ctx->pool = pool;
	ctx->event = event;
	ctx->set = as_service->set;
	ctx->store = as_service->store;
	ctx->response = buffer_create_dynamic(default_pool, 1024);
	ctx->writer = wbxml_writer_init(ctx->response);
	return ctx;
}

void as_cmd_write_status(struct as_cmd_context *ctx, unsigned int status)
{
	i_assert(ctx->cmd != NULL);
	/* a status that replaces the response comes before any of it */
	i_assert(!as_response_stream_started(ctx));

	/* throw away anything written so far */
	wbxml_writer_abort(&ctx->writer);
	buffer_set_used_size(ctx->response, 0);
	ctx->writer = wbxml_writer_init(ctx->response);
	wbxml_writer_watch(ctx->writer, ctx->cmd->status_tag, 1);
	wbxml_start(ctx->writer, ctx->cmd->response_tag);
	wbxml_elem_uint(ctx->writer, ctx->cmd->status_tag, status);
	wbxml_end(ctx->writer);
}

static void as_cmd_log_response(struct as_cmd_context *ctx);

/* Named like imap's "imap_command_finished" so that Dovecot's stats
   (metric { filter = event=activesync_command_finished }) count and time
   ActiveSync commands; duration is the request's, from its event. */
static void as_cmd_finished_event(struct as_cmd_context *ctx, uoff_t bytes)
{
	struct event_passthrough *e;
	unsigned int http_status =
		ctx->http_status == 0 ? 200 : ctx->http_status;
	const char *status_str = "";
	uintmax_t status;

	e = event_create_passthrough(ctx->event)->
		set_name("activesync_command_finished")->
		add_int("http_status", http_status)->
		add_int("bytes", bytes)->
		add_int("items", ctx->items);
	if (ctx->cmd == NULL) {
		/* the name a client made up would be a metric group of
		   its own */
		e->add_str("command", "unknown");
	}
	if (wbxml_writer_watched(ctx->writer, &status)) {
		e->add_int("status", status);
		status_str = t_strdup_printf(", Status %ju", status);
	}
	if (ctx->username != NULL)
		e->add_str("user", ctx->username);
	if (ctx->push_arrived.tv_sec != 0) {
		/* the process's share of push latency: waiting in its
		   queue, and from the datagram to the response */
		struct timeval now;

		i_gettimeofday(&now);
		e->add_int("push_queue_usecs", I_MAX(0,
			timeval_diff_usecs(&ctx->push_read,
					   &ctx->push_arrived)));
		e->add_int("push_usecs", I_MAX(0,
			timeval_diff_usecs(&now, &ctx->push_arrived)));
	}
	e_debug(e->event(), "Finished: HTTP %u%s, %"PRIuUOFF_T" bytes, "
		"%u items", http_status, status_str, bytes, ctx->items);
}

void as_cmd_finish(struct as_cmd_context *ctx)
{
	uoff_t size = 0;

	i_assert(!ctx->finished);

	ctx->finished = TRUE;
	ctx->abort = NULL;
	if (as_response_stream_started(ctx)) {
		/* the response began while it was written */
		size = as_response_stream_finish(ctx);
		as_cmd_finished_event(ctx, size);
		wbxml_writer_abort(&ctx->writer);
		return;
	}
	if (ctx->response->used <= AS_WBXML_HEADER_SIZE)
		buffer_set_used_size(ctx->response, 0);
	if (ctx->response_input != NULL) {
		if (i_stream_get_size(ctx->response_input, TRUE, &size) > 0)
			e_debug(ctx->event, "Response: %"PRIuUOFF_T
				" bytes (streamed)", size);
	} else {
		size = ctx->response->used;
	}
	as_cmd_finished_event(ctx, size);
	wbxml_writer_deinit(&ctx->writer);
	if (ctx->response_input != NULL) {
		/* logged above */
	} else if (ctx->http_status == 0 || ctx->http_status == 200) {
		e_debug(ctx->event, "Response: %zu bytes", ctx->response->used);
		T_BEGIN {
			as_cmd_log_response(ctx);
		} T_END;
	}
	as_client_request_send_response(ctx);
}

/* A full or unwritable state store: long enough for an admin to act,
   short enough that devices come back soon after */
#define AS_CMD_STORE_RETRY_SECS 60

void as_cmd_set_retry_later(struct as_cmd_context *ctx)
{
	ctx->http_status = 503;
	ctx->http_reason = "Service Unavailable";
	ctx->http_retry_after_secs = AS_CMD_STORE_RETRY_SECS;
}

static void as_cmd_fail_http(struct as_cmd_context *ctx, unsigned int status,
			     const char *reason)
{
	ctx->http_status = status;
	ctx->http_reason = reason;
	buffer_set_used_size(ctx->response, 0);
	as_cmd_finish(ctx);
}

/* An error common to all commands: the Status element of the command's
   response (14.0+), or an HTTP error for older versions that have no
   such status. */
static void
as_cmd_fail_status(struct as_cmd_context *ctx, unsigned int status,
		   unsigned int http_status, const char *log_reason)
{
	e_info(ctx->event, "Status %u: %s", status, log_reason);
	/* commands without a WBXML response (GetAttachment) get the HTTP
	   error in every version */
	if (ctx->req->version < AS_VERSION_14_0 ||
	    ctx->cmd->response_tag == 0) {
		as_cmd_fail_http(ctx, http_status,
				 http_status == 449 ? "Retry after sending a PROVISION command" :
				 http_status == 403 ? "Forbidden" :
				 "Bad Request");
		return;
	}
	as_cmd_write_status(ctx, status);
	as_cmd_finish(ctx);
}

/* last_seen alone is written at most this often: every request of every
   device would otherwise cost a durable LMDB commit, and one slow fsync
   stalls every held Ping of the process */
#define AS_DEVICE_LAST_SEEN_PRECISION_SECS 60

static int as_cmd_device_update(struct as_cmd_context *ctx, bool *new_r,
				const char **error_r)
{
	struct as_device *dev;
	bool changed;
	int ret;

	dev = p_new(ctx->pool, struct as_device, 1);
	ret = as_store_device_get(ctx->store, ctx->pool, ctx->username,
				  ctx->req->device_id, dev, error_r);
	if (ret < 0)
		return -1;
	*new_r = ret == 0;
	if (ret == 0) {
		dev->user = ctx->username;
		dev->device_id = ctx->req->device_id;
		dev->first_seen = ioloop_time;
		dev->ping_folders = "";
		e_info(ctx->event, "New device (type %s)",
		       str_sanitize(ctx->req->device_type, 64));
	}
	changed = ret == 0 ||
		null_strcmp(dev->device_type, ctx->req->device_type) != 0 ||
		(ctx->req->user_agent != NULL &&
		 null_strcmp(dev->user_agent, ctx->req->user_agent) != 0) ||
		null_strcmp(dev->protocol_version,
			    ctx->req->version_str) != 0 ||
		dev->last_seen > ioloop_time ||
		ioloop_time - dev->last_seen >=
			AS_DEVICE_LAST_SEEN_PRECISION_SECS;
	dev->device_type = ctx->req->device_type;
	if (ctx->req->user_agent != NULL)
		dev->user_agent = ctx->req->user_agent;
	dev->protocol_version = ctx->req->version_str;
	ctx->device = dev;
	if (!changed)
		return 0;
	dev->last_seen = ioloop_time;
	return as_store_device_put(ctx->store, dev, error_r) < 0 ? -1 : 0;
}

int as_cmd_get_policy(struct as_cmd_context *ctx,
		      const struct as_policy **policy_r, const char **error_r)
{
	struct as_store_policy_target target = {
		.level = AS_STORE_POLICY_LEVEL_DEVICE,
		.user = ctx->username,
		.device_id = ctx->req->device_id,
	};

	if (ctx->policy == NULL) {
		struct as_policy *policy = p_new(ctx->pool, struct as_policy, 1);

		if (as_policy_lookup(ctx->store, ctx->pool, &target, policy,
				     error_r) < 0)
			return -1;
		ctx->policy = policy;
	}
	*policy_r = ctx->policy;
	return 0;
}

/* A request in a version above the effective MaxProtocolVersion: the
   version is one the service speaks, but not one this device may use.
   14.0 and later: the command's Status 138 VersionNotSupported (MS-ASCMD
   2.2.2 Common Status Codes: "the device uses a protocol version that
   can't be used to connect to the server"). 12.x has no common status
   codes (MS-ASPROV 3.1.5.2: codes above 100 not in every version), so
   it gets HTTP 400 (MS-ASHTTP 2.2.2.1.1: the same request fails the same
   way again). Both carry MS-ASProtocolVersions (MS-ASHTTP 2.2.4.1.2.2)
   with the versions it may use, as OPTIONS lists them. Returns FALSE
   when the request was answered. */
static bool as_cmd_version_check(struct as_cmd_context *ctx)
{
	const struct as_policy *policy;
	const char *error, *max_str;
	unsigned int max;

	if (as_cmd_get_policy(ctx, &policy, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		ctx->http_retry_after_secs = AS_CMD_STORE_RETRY_SECS;
		as_cmd_fail_http(ctx, 503, "Service Unavailable");
		return FALSE;
	}
	max_str = policy->values[AS_POLICY_IDX_MAX_PROTOCOL_VERSION];
	max = as_version_parse(max_str);
	if (ctx->req->version <= max)
		return TRUE;
	ctx->http_protocol_versions = as_version_list(max);
	as_cmd_fail_status(ctx, AS_STATUS_VERSION_NOT_SUPPORTED, 400,
		t_strdup_printf("Protocol version %s is above the maximum %s "
				"(policy level %s)", ctx->req->version_str,
				max_str, as_policy_level_name(policy->sources[
					AS_POLICY_IDX_MAX_PROTOCOL_VERSION])));
	return FALSE;
}

/* 12.x gets HTTP 449 for every case, 14.0+ the command's Status: 142 not
   provisioned, 144 unknown key, 143 the policy changed or its refresh
   interval passed since the device acknowledged it. */
static bool as_cmd_policy_check(struct as_cmd_context *ctx)
{
	const struct as_device *dev = ctx->device;
	const struct as_policy *policy;
	struct as_store_policy_state state;
	unsigned int refresh;
	const char *error;
	int ret;

	if (!ctx->set->provisioning ||
	    (ctx->cmd->flags & AS_CMD_FLAG_NO_POLICY) != 0)
		return TRUE;
	if (!ctx->req->has_policy_key || ctx->req->policy_key == 0 ||
	    dev->policy_key == 0) {
		as_cmd_fail_status(ctx, AS_STATUS_DEVICE_NOT_PROVISIONED, 449,
				   "Device not provisioned");
		return FALSE;
	}
	if (ctx->req->policy_key != dev->policy_key) {
		as_cmd_fail_status(ctx, AS_STATUS_INVALID_POLICY_KEY, 449,
			t_strdup_printf("Invalid policy key %u",
					ctx->req->policy_key));
		return FALSE;
	}

	if (as_cmd_get_policy(ctx, &policy, &error) < 0 ||
	    (ret = as_store_policy_state_get(ctx->store, ctx->username,
					     ctx->req->device_id, &state,
					     &error)) < 0) {
		e_error(ctx->event, "State store: %s", error);
		ctx->http_retry_after_secs = AS_CMD_STORE_RETRY_SECS;
		as_cmd_fail_http(ctx, 503, "Service Unavailable");
		return FALSE;
	}
	if (ret == 0) {
		/* provisioned before policies were stored: the policy was
		   the built-in default one */
		state.policy_hash = as_policy_hash(NULL);
		state.provisioned = ioloop_time;
	}
	if (state.policy_hash != as_policy_hash(policy->values)) {
		as_cmd_fail_status(ctx, AS_STATUS_POLICY_REFRESH, 449,
				   "Policy changed, device must provision");
		return FALSE;
	}
	refresh = as_policy_get_uint(policy, AS_POLICY_IDX_REFRESH_INTERVAL);
	if (refresh > 0 && state.provisioned <= ioloop_time - (time_t)refresh) {
		as_cmd_fail_status(ctx, AS_STATUS_POLICY_REFRESH, 449,
			t_strdup_printf("Policy refresh interval (%u s) "
					"passed, device must provision",
					refresh));
		return FALSE;
	}
	return TRUE;
}

/* Admin state, ABQ rules, remote wipe and the device limit. Returns
   FALSE after answering the request. */
static bool
as_cmd_device_gate(struct as_cmd_context *ctx, bool new_device,
		   const char **error_r)
{
	const char *reason;

	switch (as_device_access_check(ctx, new_device, &reason)) {
	case AS_DEVICE_GATE_OK:
		return TRUE;
	case AS_DEVICE_GATE_BLOCKED:
		as_cmd_fail_status(ctx, AS_STATUS_DEVICE_IS_BLOCKED_FOR_THIS_USER,
				   403, reason);
		break;
	case AS_DEVICE_GATE_TOO_MANY:
		as_cmd_fail_status(ctx, AS_STATUS_MAXIMUM_DEVICES_REACHED,
				   403, reason);
		break;
	case AS_DEVICE_GATE_WIPE_PENDING:
		/* Provision hands out the wipe directive; everything else
		   is sent there (MS-ASPROV: 449 / Status 142) */
		if (strcmp(ctx->cmd->name, "Provision") == 0)
			return TRUE;
		as_cmd_fail_status(ctx, AS_STATUS_DEVICE_NOT_PROVISIONED, 449,
				   reason);
		break;
	case AS_DEVICE_GATE_ERROR:
		reason = "State store failure";
		ctx->http_retry_after_secs = AS_CMD_STORE_RETRY_SECS;
		as_cmd_fail_http(ctx, 503, "Service Unavailable");
		break;
	}
	*error_r = reason;
	return FALSE;
}

/* A quarantined device may sync its default folders (and send its
   DeviceInformation) but nothing else: no mail goes out from it, it
   can't search the mailbox or the GAL and can't change the folder
   hierarchy. MS-ASCMD 2.2.2 names Status 130 (AccessDenied) for an
   operation the user may not perform; 129 would tell the device it is
   blocked altogether, and it would stop syncing the folders it may.
   Before 14.0 there are no common status codes: HTTP 403. */
static bool as_cmd_quarantine_check(struct as_cmd_context *ctx)
{
	if (ctx->device->access != AS_DEVICE_ACCESS_QUARANTINE ||
	    (ctx->cmd->flags & AS_CMD_FLAG_QUARANTINE_OK) != 0)
		return TRUE;
	as_cmd_fail_status(ctx, AS_STATUS_ACCESS_DENIED, 403,
		t_strdup_printf("%s refused: device is quarantined "
				"(waiting for the admin's approval)",
				ctx->cmd->name));
	return FALSE;
}

/* Hide the content of every *Password element (Settings, Search,
   ItemOperations carry them) while the tree is rendered; restored after. */
struct as_cmd_masked_data {
	const unsigned char *data;
	size_t size;
};
ARRAY_DEFINE_TYPE(as_cmd_masked_data, struct as_cmd_masked_data);

static void
as_cmd_mask_passwords(struct wbxml_node *node,
		      ARRAY_TYPE(as_cmd_masked_data) *saved, bool restore)
{
	static const unsigned char mask[] = "********";
	struct wbxml_node *child;
	const char *name = wbxml_tag_name(node->tag);
	size_t len = name == NULL ? 0 : strlen(name);

	if (len >= 8 && strcmp(name + len - 8, "Password") == 0 &&
	    node->data != NULL) {
		if (!restore) {
			struct as_cmd_masked_data *orig = array_append_space(saved);

			orig->data = node->data;
			orig->size = node->data_size;
			node->data = mask;
			node->data_size = sizeof(mask) - 1;
		} else {
			const struct as_cmd_masked_data *orig = array_front(saved);

			node->data = orig->data;
			node->data_size = orig->size;
			array_pop_front(saved);
		}
	}
	wbxml_node_foreach_child(node, child)
		as_cmd_mask_passwords(child, saved, restore);
}

/* A decoded document as XML, one log line per XML line. */
static void
as_cmd_log_xml(struct as_cmd_context *ctx, struct wbxml_node *root,
	       const char *what)
{
	ARRAY_TYPE(as_cmd_masked_data) saved;
	const char *const *lines;
	string_t *xml = t_str_new(256);

	t_array_init(&saved, 4);
	as_cmd_mask_passwords(root, &saved, FALSE);
	wbxml_node_to_xml(xml, root);
	as_cmd_mask_passwords(root, &saved, TRUE);

	for (lines = t_strsplit(str_c(xml), "\n"); *lines != NULL; lines++) {
		if (**lines != '\0')
			e_debug(ctx->event, "%s: %s", what, *lines);
	}
}

static void as_cmd_log_request(struct as_cmd_context *ctx)
{
	as_cmd_log_xml(ctx, ctx->root, "Request");
}

/* Per-device debugging (doveadm activesync device debug on): the
   request, if not logged yet, and later the response (see
   as_cmd_log_response()) */
static void as_cmd_device_debug_start(struct as_cmd_context *ctx)
{
	if (ctx->device == NULL || !ctx->device->debug)
		return;
	event_set_forced_debug(ctx->event, TRUE);
	if (ctx->root != NULL && !ctx->request_logged) {
		as_cmd_log_request(ctx);
		ctx->request_logged = TRUE;
	}
}

static void as_cmd_log_response(struct as_cmd_context *ctx)
{
	struct wbxml_node *root;
	const char *error;
	pool_t pool;

	if (ctx->device == NULL || !ctx->device->debug ||
	    ctx->response->used == 0)
		return;
	pool = pool_alloconly_create("activesync response log", 4096);
	if (wbxml_decode(pool, ctx->response->data, ctx->response->used,
			 &as_wbxml_limits, &root, &error) < 0)
		e_debug(ctx->event, "Response not decodable: %s", error);
	else
		as_cmd_log_xml(ctx, root, "Response");
	pool_unref(&pool);
}

static int
as_cmd_decode(struct as_cmd_context *ctx, const buffer_t *payload)
{
	const char *error;

	if ((ctx->cmd->flags & AS_CMD_FLAG_RAW_BODY_BEFORE_14) != 0 &&
	    ctx->req->version < AS_VERSION_14_0) {
		/* e.g. the MIME message of a 12.x SendMail */
		ctx->raw_body = payload;
		return 0;
	}
	if (payload->used == 0) {
		if ((ctx->cmd->flags & AS_CMD_FLAG_EMPTY_BODY_OK) != 0)
			return 0;
		as_cmd_fail_status(ctx, AS_STATUS_INVALID_CONTENT, 400,
				   "Empty request body");
		return -1;
	}
	if (wbxml_decode(ctx->pool, payload->data, payload->used,
			 &as_wbxml_limits, &ctx->root, &error) < 0) {
		as_cmd_fail_status(ctx, AS_STATUS_INVALID_WBXML, 400,
			t_strdup_printf("Invalid WBXML (%zu bytes): %s",
					payload->used, error));
		return -1;
	}
	if (ctx->root->tag != ctx->cmd->response_tag) {
		as_cmd_fail_status(ctx, AS_STATUS_INVALID_XML, 400,
			t_strdup_printf("Unexpected root element %s",
				t_strdup(wbxml_tag_name(ctx->root->tag))));
		return -1;
	}
	if (event_want_debug_log(ctx->event)) {
		as_cmd_log_request(ctx);
		ctx->request_logged = TRUE;
	}
	return 0;
}

static void
as_cmd_user_lookup(struct as_cmd_context *ctx, struct as_user_lookup *lookup_r)
{
	i_zero(lookup_r);
	lookup_r->username = ctx->username;
	lookup_r->remote_ip = ctx->remote_ip;
	lookup_r->secured = ctx->ssl;
	/* the connection's addresses and session id, so that local { } and
	   remote { } blocks, %{lip}, %{session} and mail_log_prefix work
	   as for imap */
	if (ctx->client != NULL) {
		lookup_r->session_id = ctx->client->session_id;
		lookup_r->local_ip = ctx->client->local_ip;
		lookup_r->local_port = ctx->client->local_port;
		lookup_r->remote_port = ctx->client->remote_port;
	}
	lookup_r->event_parent = ctx->event;
}

int as_cmd_open_other_user(struct as_cmd_context *ctx, const char *username,
			   struct as_user *user_r, const char **error_r)
{
	struct as_user_lookup lookup;
	int ret;

	/* the requester's connection, so that the lookup sees the same
	   local { } and remote { } blocks */
	as_cmd_user_lookup(ctx, &lookup);
	lookup.username = username;
	ret = as_user_open(&lookup, user_r, error_r);
	if (ret == 0)
		*error_r = "User not found in userdb";
	return ret <= 0 ? -1 : 0;
}

void as_cmd_release_user(struct as_cmd_context *ctx)
{
	if (ctx->mail_user == NULL)
		return;
	/* a held request may wait for many minutes: nothing of the user
	   stays open meanwhile (not even warm) */
	as_user_close(ctx->user);
	i_zero(ctx->user);
	ctx->mail_user = NULL;
}

int as_cmd_reopen_user(struct as_cmd_context *ctx, const char **error_r)
{
	struct as_user_lookup lookup;
	int ret;

	if (ctx->mail_user != NULL)
		return 0;
	as_cmd_user_lookup(ctx, &lookup);
	ret = as_user_cache_open(&lookup, ctx->user, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "User no longer found in userdb";
		return -1;
	}
	ctx->mail_user = ctx->user->mail_user;
	return 0;
}

int as_cmd_context_run(struct as_cmd_context *ctx, const buffer_t *payload,
		       const struct ip_addr *remote_ip, bool ssl,
		       const char **error_r)
{
	struct as_user_lookup lookup;
	const char *error;
	enum as_command_result result;
	bool new_device = FALSE;
	int ret;

	ctx->cmd = as_command_find(ctx->req->cmd);
	if (ctx->cmd == NULL) {
		e_info(ctx->event, "501: Unknown command %s",
		       str_sanitize(ctx->req->cmd, 32));
		as_cmd_fail_http(ctx, 501, "Not Implemented");
		*error_r = "Unknown command";
		return -1;
	}
	if (ctx->cmd->status_tag != 0)
		wbxml_writer_watch(ctx->writer, ctx->cmd->status_tag, 1);
	if (as_cmd_decode(ctx, payload) < 0) {
		*error_r = "Invalid request body";
		return -1;
	}

	ctx->remote_ip = *remote_ip;
	ctx->ssl = ssl;
	as_cmd_user_lookup(ctx, &lookup);
	ctx->user = p_new(ctx->pool, struct as_user, 1);
	ret = as_user_cache_open(&lookup, ctx->user, &error);
	if (ret == -2) {
		e_error(ctx->event, "503: %s", error);
		ctx->http_retry_after_secs = AS_USER_UNAVAILABLE_RETRY_SECS;
		as_cmd_fail_http(ctx, 503, "Service Unavailable");
		*error_r = error;
		return -1;
	}
	if (ret <= 0) {
		if (ret == 0)
			error = "User not found in userdb";
		e_error(ctx->event, "Couldn't open user: %s", error);
		as_cmd_fail_http(ctx, ret == 0 ? 403 : 500,
				 ret == 0 ? "Forbidden" : "Internal Server Error");
		*error_r = error;
		return -1;
	}
	ctx->mail_user = ctx->user->mail_user;
	/* from here on the user's own settings (userdb fields) apply */
	if (as_user_get_settings(ctx->user, ctx->pool, &ctx->set,
				 &error) < 0) {
		e_error(ctx->event, "Invalid settings: %s", error);
		as_cmd_fail_http(ctx, 500, "Internal Server Error");
		*error_r = error;
		return -1;
	}

	if (!ctx->set->enabled) {
		/* before the device record: a disabled user's devices are
		   not remembered */
		as_cmd_fail_status(ctx, AS_STATUS_USER_DISABLED_FOR_SYNC, 403,
				   "ActiveSync disabled for the user "
				   "(activesync_enabled)");
		*error_r = "ActiveSync disabled for the user";
		return -1;
	}
	if (as_cmd_device_update(ctx, &new_device, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		ctx->http_retry_after_secs = AS_CMD_STORE_RETRY_SECS;
		as_cmd_fail_http(ctx, 503, "Service Unavailable");
		*error_r = error;
		return -1;
	}
	if (!as_cmd_device_gate(ctx, new_device, error_r))
		return -1;
	as_cmd_device_debug_start(ctx);
	if (!as_cmd_version_check(ctx)) {
		*error_r = "Protocol version above the maximum";
		return -1;
	}
	if (!as_cmd_policy_check(ctx)) {
		*error_r = "Policy check failed";
		return -1;
	}
	if (!as_cmd_quarantine_check(ctx)) {
		*error_r = "Command not allowed for a quarantined device";
		return -1;
	}

	T_BEGIN {
		result = ctx->cmd->func(ctx);
	} T_END;
	switch (result) {
	case AS_CMD_DONE:
		as_cmd_finish(ctx);
		break;
	case AS_CMD_PENDING:
		i_assert(!ctx->finished);
		break;
	case AS_CMD_FAILED:
		as_cmd_fail_http(ctx, 500, "Internal Server Error");
		break;
	}
	return 0;
}

void as_cmd_context_destroy(struct as_cmd_context **_ctx)
{
	struct as_cmd_context *ctx = *_ctx;

	*_ctx = NULL;
	if (!ctx->finished && ctx->abort != NULL) {
		ctx->aborted = TRUE;
		e_debug(ctx->event, "Client went away while the command "
			"was pending");
		ctx->abort(ctx);
	}
	as_response_stream_free(ctx);
	if (ctx->writer != NULL)
		wbxml_writer_abort(&ctx->writer);
	i_stream_unref(&ctx->response_input);
	if (ctx->user != NULL)
		as_user_cache_close(ctx->user);
	buffer_free(&ctx->response);
}
