/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str-sanitize.h"
#include "strnum.h"
#include "unichar.h"
#include "as-command.h"
#include "as-user.h"
#include "items/as-datetime.h"
#include "oof/as-oof-sieve.h"
#include "resolve/as-contact-lookup.h"
#include "commands/cmd-settings-oof.h"

/* Settings Oof (MS-ASCMD 2.2.3.119): Get and Set of the out-of-office
   reply, kept as a Sieve vacation script (oof/as-oof-sieve.c). */

/* A reply longer than this is refused (Status 5): it is sent to every
   sender, and it lives in a Sieve script */
#define OOF_MAX_MESSAGE_SIZE (64 * 1024)
/* Contacts' addresses written into the script at most */
#define OOF_MAX_KNOWN_SENDERS 5000

static const unsigned int oof_audience_tags[AS_OOF_AUDIENCE_COUNT] = {
	[AS_OOF_AUDIENCE_INTERNAL] = EAS_SETTINGS_APPLIESTOINTERNAL,
	[AS_OOF_AUDIENCE_EXTERNAL_KNOWN] = EAS_SETTINGS_APPLIESTOEXTERNALKNOWN,
	[AS_OOF_AUDIENCE_EXTERNAL_UNKNOWN] =
		EAS_SETTINGS_APPLIESTOEXTERNALUNKNOWN,
};

/* BodyType: "Text" or "HTML" (the spec's case; others accepted
   case-insensitively). Returns FALSE for anything else. */
static bool oof_parse_body_type(const char *value, bool *html_r)
{
	if (strcasecmp(value, "Text") == 0)
		*html_r = FALSE;
	else if (strcasecmp(value, "HTML") == 0)
		*html_r = TRUE;
	else
		return FALSE;
	return TRUE;
}

static const char *oof_user_domain(struct as_cmd_context *ctx)
{
	const char *addr = as_user_primary_address(ctx->set, ctx->username);
	const char *p = strrchr(addr, '@');

	i_assert(p != NULL);
	return p + 1;
}

static unsigned int
oof_get(struct as_cmd_context *ctx, const struct wbxml_node *get,
	struct as_oof *oof_r, bool *html_r)
{
	const char *body_type, *error;

	body_type = wbxml_node_child_text(get, EAS_SETTINGS_BODYTYPE);
	*html_r = FALSE;
	if (body_type != NULL && !oof_parse_body_type(body_type, html_r)) {
		e_info(ctx->event, "Oof Get: BodyType %s is neither Text "
		       "nor HTML", str_sanitize(body_type, 32));
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	if (as_oof_sieve_get(ctx->mail_user, ctx->event, oof_r,
			     &error) < 0) {
		e_error(ctx->event, "Oof Get: %s", error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	return SETTINGS_STATUS_SUCCESS;
}

static void
oof_write_get(struct as_cmd_context *ctx, const struct as_oof *oof,
	      bool html)
{
	unsigned int i;

	wbxml_start(ctx->writer, EAS_SETTINGS_GET);
	wbxml_elem_uint(ctx->writer, EAS_SETTINGS_OOFSTATE, oof->state);
	if (oof->state == AS_OOF_STATE_TIME_BASED) {
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_STARTTIME,
			       as_datetime_format(oof->start));
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_ENDTIME,
			       as_datetime_format(oof->end));
	}
	/* every audience, those never set as disabled */
	for (i = 0; i < AS_OOF_AUDIENCE_COUNT; i++) {
		const struct as_oof_message *msg = &oof->messages[i];

		wbxml_start(ctx->writer, EAS_SETTINGS_OOFMESSAGE);
		wbxml_empty(ctx->writer, oof_audience_tags[i]);
		wbxml_elem_uint(ctx->writer, EAS_SETTINGS_ENABLED,
				msg->present && msg->enabled ? 1 : 0);
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_REPLYMESSAGE,
			       as_oof_message_as(msg, html));
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_BODYTYPE,
			       html ? "HTML" : "Text");
		wbxml_end(ctx->writer);
	}
	wbxml_end(ctx->writer);
}

static unsigned int
oof_parse_message(struct as_cmd_context *ctx, const struct wbxml_node *node,
		  struct as_oof *oof, bool *seen)
{
	const struct wbxml_node *child;
	struct as_oof_message msg;
	const char *enabled, *body_type, *text;
	int audience = -1;
	unsigned int i;

	i_zero(&msg);
	wbxml_node_foreach_child(node, child) {
		for (i = 0; i < AS_OOF_AUDIENCE_COUNT; i++) {
			if (child->tag != oof_audience_tags[i])
				continue;
			if (audience >= 0) {
				e_info(ctx->event, "Oof Set: OofMessage "
				       "with two audiences");
				return SETTINGS_STATUS_PROTOCOL_ERROR;
			}
			audience = i;
		}
	}
	if (audience < 0) {
		e_info(ctx->event, "Oof Set: OofMessage without AppliesTo*");
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	if (seen[audience]) {
		e_info(ctx->event, "Oof Set: %s given twice",
		       as_oof_audience_key(audience));
		return SETTINGS_STATUS_CONFLICTING_ARGUMENTS;
	}
	seen[audience] = TRUE;

	enabled = wbxml_node_child_text(node, EAS_SETTINGS_ENABLED);
	if (enabled != NULL && strcmp(enabled, "0") != 0 &&
	    strcmp(enabled, "1") != 0) {
		e_info(ctx->event, "Oof Set: Enabled %s is not 0 or 1",
		       str_sanitize(enabled, 32));
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	body_type = wbxml_node_child_text(node, EAS_SETTINGS_BODYTYPE);
	if (body_type != NULL && !oof_parse_body_type(body_type, &msg.html)) {
		e_info(ctx->event, "Oof Set: BodyType %s is neither Text "
		       "nor HTML", str_sanitize(body_type, 32));
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	child = wbxml_node_child(node, EAS_SETTINGS_REPLYMESSAGE);
	text = child == NULL ? NULL : wbxml_node_text(child);
	if (text != NULL) {
		if (strlen(text) != child->data_size ||
		    !uni_utf8_str_is_valid(text)) {
			e_info(ctx->event, "Oof Set: ReplyMessage is not "
			       "UTF-8 text");
			return SETTINGS_STATUS_INVALID_ARGUMENTS;
		}
		if (child->data_size > OOF_MAX_MESSAGE_SIZE) {
			e_info(ctx->event, "Oof Set: ReplyMessage of %zu "
			       "bytes (limit %u)", child->data_size,
			       OOF_MAX_MESSAGE_SIZE);
			return SETTINGS_STATUS_INVALID_ARGUMENTS;
		}
	}

	/* what the device leaves out stays as it was */
	msg.present = TRUE;
	msg.enabled = enabled != NULL ? enabled[0] == '1' :
		oof->messages[audience].present &&
		oof->messages[audience].enabled;
	if (text != NULL) {
		msg.message = text;
	} else {
		msg.message = oof->messages[audience].message;
		msg.html = oof->messages[audience].html;
	}
	if (msg.message == NULL)
		msg.message = "";
	oof->messages[audience] = msg;
	return SETTINGS_STATUS_SUCCESS;
}

/* The addresses of the user's contacts, as they are now: the senders
   the AppliesToExternalKnown message answers (the script keeps this
   list until OOF is set again) */
static int
oof_known_senders(struct as_cmd_context *ctx, const struct as_oof *oof,
		  const char *const **known_r)
{
	const struct as_oof_message *msg =
		&oof->messages[AS_OOF_AUDIENCE_EXTERNAL_KNOWN];
	ARRAY_TYPE(as_contact_match) contacts;
	ARRAY_TYPE(const_string) addrs;
	const struct as_contact_match *m;
	const char *error;

	*known_r = NULL;
	if (oof->state == AS_OOF_STATE_DISABLED || !msg->present ||
	    !msg->enabled)
		return 0;
	t_array_init(&contacts, 32);
	if (as_contact_lookup(ctx->mail_user, ctx->event, ctx->pool, NULL,
			      OOF_MAX_KNOWN_SENDERS, &contacts, &error) < 0) {
		e_error(ctx->event, "Oof Set: %s", error);
		return -1;
	}
	t_array_init(&addrs, array_count(&contacts) + 1);
	array_foreach(&contacts, m) {
		/* the user's own domain is internal anyway */
		const char *domain = strrchr(m->email, '@');
		if (domain != NULL &&
		    strcasecmp(domain + 1, oof_user_domain(ctx)) != 0)
			array_push_back(&addrs, &m->email);
	}
	array_append_zero(&addrs);
	*known_r = array_front(&addrs);
	return 0;
}

static unsigned int
oof_set(struct as_cmd_context *ctx, const struct wbxml_node *set)
{
	const struct wbxml_node *child;
	const char *state_str, *start, *end, *error;
	bool seen[AS_OOF_AUDIENCE_COUNT] = { FALSE, };
	struct as_oof oof;
	const char *const *known;
	unsigned int state, status;

	state_str = wbxml_node_child_text(set, EAS_SETTINGS_OOFSTATE);
	if (state_str == NULL || str_to_uint(state_str, &state) < 0 ||
	    state > AS_OOF_STATE_TIME_BASED) {
		e_info(ctx->event, "Oof Set: OofState %s is not 0, 1 or 2",
		       state_str == NULL ? "missing" :
		       str_sanitize(state_str, 32));
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	/* start from what is stored: a Set of only OofState keeps the
	   messages */
	if (as_oof_sieve_get(ctx->mail_user, ctx->event, &oof, &error) < 0) {
		e_error(ctx->event, "Oof Set: %s", error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	oof.state = state;
	oof.start = oof.end = 0;
	start = wbxml_node_child_text(set, EAS_SETTINGS_STARTTIME);
	end = wbxml_node_child_text(set, EAS_SETTINGS_ENDTIME);
	if (state == AS_OOF_STATE_TIME_BASED) {
		if (start == NULL || end == NULL) {
			e_info(ctx->event, "Oof Set: OofState 2 without "
			       "StartTime and EndTime");
			return SETTINGS_STATUS_PROTOCOL_ERROR;
		}
		if (!as_datetime_parse(start, &oof.start) ||
		    !as_datetime_parse(end, &oof.end)) {
			e_info(ctx->event, "Oof Set: bad StartTime/EndTime "
			       "%s / %s", str_sanitize(start, 40),
			       str_sanitize(end, 40));
			return SETTINGS_STATUS_PROTOCOL_ERROR;
		}
		if (oof.start >= oof.end) {
			e_info(ctx->event, "Oof Set: EndTime is not after "
			       "StartTime");
			return SETTINGS_STATUS_INVALID_ARGUMENTS;
		}
	}
	wbxml_node_foreach_child(set, child) {
		if (child->tag != EAS_SETTINGS_OOFMESSAGE)
			continue;
		status = oof_parse_message(ctx, child, &oof, seen);
		if (status != SETTINGS_STATUS_SUCCESS)
			return status;
	}
	if (oof_known_senders(ctx, &oof, &known) < 0)
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	if (as_oof_sieve_set(ctx->mail_user, ctx->event, &oof,
			     oof_user_domain(ctx), known, &error) < 0) {
		e_error(ctx->event, "Oof Set: %s", error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	e_info(ctx->event, "Oof set: state %u", oof.state);
	return SETTINGS_STATUS_SUCCESS;
}

void settings_oof(struct as_cmd_context *ctx, const struct wbxml_node *node)
{
	const struct wbxml_node *get, *set;
	unsigned int status;
	struct as_oof oof;
	bool html;

	get = wbxml_node_child(node, EAS_SETTINGS_GET);
	set = wbxml_node_child(node, EAS_SETTINGS_SET);
	if ((get == NULL) == (set == NULL)) {
		e_info(ctx->event, "Oof: needs exactly one of Get and Set");
		status = SETTINGS_STATUS_PROTOCOL_ERROR;
	} else if (get != NULL) {
		status = oof_get(ctx, get, &oof, &html);
	} else {
		status = oof_set(ctx, set);
	}

	wbxml_start(ctx->writer, EAS_SETTINGS_OOF);
	wbxml_elem_uint(ctx->writer, EAS_SETTINGS_STATUS, status);
	if (get != NULL && status == SETTINGS_STATUS_SUCCESS)
		oof_write_get(ctx, &oof, html);
	wbxml_end(ctx->writer);
}
