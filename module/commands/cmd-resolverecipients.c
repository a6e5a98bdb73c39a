/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "base64.h"
#include "str-sanitize.h"
#include "as-command.h"
#include "as-user.h"
#include "gal/as-gal.h"
#include "items/as-datetime.h"
#include "items/as-freebusy.h"
#include "resolve/as-contact-lookup.h"

/* ResolveRecipients (MS-ASCMD 2.2.1.15): each To is looked up in the
   GAL and in the user's contact folders; one match (or an exact
   address) resolves it, several are suggestions. */

/* ResolveRecipients/Status */
#define RR_STATUS_SUCCESS 1
#define RR_STATUS_PROTOCOL_ERROR 5
#define RR_STATUS_SERVER_ERROR 6
/* Response/Status */
#define RR_RESPONSE_RESOLVED 1
#define RR_RESPONSE_AMBIGUOUS 2
#define RR_RESPONSE_AMBIGUOUS_PARTIAL 3
#define RR_RESPONSE_NOT_RESOLVED 4
/* Availability/Status */
#define RR_AVAILABILITY_SUCCESS 1
#define RR_AVAILABILITY_TEMP_FAILURE 162
#define RR_AVAILABILITY_NOT_AVAILABLE 163
/* Certificates/Status */
#define RR_CERTIFICATES_SUCCESS 1
#define RR_CERTIFICATES_NONE 7
#define RR_CERTIFICATES_LIMIT 8

/* Recipient/Type */
#define RR_TYPE_GAL 1
#define RR_TYPE_CONTACT 2

/* CertificateRetrieval */
#define RR_CERT_RETRIEVAL_NONE 1
#define RR_CERT_RETRIEVAL_FULL 2
#define RR_CERT_RETRIEVAL_MINI 3

/* The spec's limits: To elements per request, characters of a To,
   suggestions per To */
#define RR_MAX_TO 100
#define RR_MAX_TO_LEN 256
#define RR_MAX_AMBIGUOUS 9999
/* Suggestions when the device gives no MaxAmbiguousRecipients */
#define RR_DEFAULT_AMBIGUOUS 20
/* MergedFreeBusy digits are half hours */
#define RR_FREEBUSY_SLOT_SECS (30 * 60)

struct rr_options {
	unsigned int cert_retrieval;
	unsigned int max_certificates;
	unsigned int max_ambiguous;
	bool availability;
	time_t start, end;
	struct as_gal_picture_opts picture;
};

struct rr_recipient {
	unsigned int type;
	const char *display_name;
	const char *email;
	/* GAL: the userdb user (for free/busy), NULL for a GAL folder's
	   contact */
	const char *user;
	/* GAL: the entry, for its picture */
	const struct as_gal_entry *gal;
	const buffer_t *photo;
	const ARRAY_TYPE(const_buffer_p) *certificates;
};
ARRAY_DEFINE_TYPE(rr_recipient, struct rr_recipient);

struct rr_context {
	struct as_cmd_context *cmd;
	struct rr_options opts;
	unsigned int certificates_sent;
	/* the GAL folders this user reads (as_gal_prepare(), once) */
	ARRAY_TYPE(const_string) gal_folders;
};

static bool
rr_parse_uint(const struct wbxml_node *parent, unsigned int tag,
	      unsigned int max, unsigned int *value_r, bool *set_r)
{
	const char *value = wbxml_node_child_text(parent, tag);

	if (set_r != NULL)
		*set_r = value != NULL;
	if (value == NULL)
		return TRUE;
	return str_to_uint(value, value_r) == 0 && *value_r <= max;
}

static bool
rr_parse_options(struct rr_context *ctx, const struct wbxml_node *options)
{
	struct rr_options *opts = &ctx->opts;
	const struct wbxml_node *node;
	const char *start, *end;

	opts->cert_retrieval = RR_CERT_RETRIEVAL_NONE;
	opts->max_ambiguous = RR_DEFAULT_AMBIGUOUS;
	opts->max_certificates = UINT_MAX;
	if (options == NULL)
		return TRUE;
	if (!rr_parse_uint(options, EAS_RESOLVERECIPIENTS_CERTIFICATERETRIEVAL,
			   RR_CERT_RETRIEVAL_MINI, &opts->cert_retrieval,
			   NULL) ||
	    opts->cert_retrieval < RR_CERT_RETRIEVAL_NONE ||
	    !rr_parse_uint(options, EAS_RESOLVERECIPIENTS_MAXCERTIFICATES,
			   RR_MAX_AMBIGUOUS, &opts->max_certificates, NULL) ||
	    !rr_parse_uint(options,
			   EAS_RESOLVERECIPIENTS_MAXAMBIGUOUSRECIPIENTS,
			   RR_MAX_AMBIGUOUS, &opts->max_ambiguous, NULL)) {
		e_info(ctx->cmd->event, "ResolveRecipients: bad "
		       "CertificateRetrieval or limit in Options");
		return FALSE;
	}
	node = wbxml_node_child(options, EAS_RESOLVERECIPIENTS_AVAILABILITY);
	if (node != NULL) {
		start = wbxml_node_child_text(node,
					      EAS_RESOLVERECIPIENTS_STARTTIME);
		end = wbxml_node_child_text(node,
					    EAS_RESOLVERECIPIENTS_ENDTIME);
		if (start == NULL || end == NULL ||
		    !as_datetime_parse(start, &opts->start) ||
		    !as_datetime_parse(end, &opts->end) ||
		    opts->end <= opts->start ||
		    (opts->end - opts->start - 1) / RR_FREEBUSY_SLOT_SECS >=
		    AS_FREEBUSY_MAX_SLOTS) {
			e_info(ctx->cmd->event, "ResolveRecipients: "
			       "Availability needs a StartTime before its "
			       "EndTime, at most %u half hours apart",
			       AS_FREEBUSY_MAX_SLOTS);
			return FALSE;
		}
		opts->availability = TRUE;
	}
	if (!as_gal_picture_parse(wbxml_node_child(options,
					EAS_RESOLVERECIPIENTS_PICTURE),
				  EAS_RESOLVERECIPIENTS_MAXSIZE,
				  EAS_RESOLVERECIPIENTS_MAXPICTURES,
				  &opts->picture)) {
		e_info(ctx->cmd->event, "ResolveRecipients: bad "
		       "Picture limits");
		return FALSE;
	}
	return TRUE;
}

static bool rr_listed(const ARRAY_TYPE(rr_recipient) *list, const char *email)
{
	const struct rr_recipient *r;

	array_foreach(list, r) {
		if (strcasecmp(r->email, email) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Candidates for one To: GAL entries first, then contacts with an
   address not already found. *exact_r: the index of a candidate whose
   address is the To itself, or -1. */
static int
rr_candidates(struct rr_context *ctx, const char *to,
	      ARRAY_TYPE(rr_recipient) *list, int *exact_r)
{
	struct as_cmd_context *cmd = ctx->cmd;
	ARRAY_TYPE(as_gal_entry) gal;
	ARRAY_TYPE(as_contact_match) contacts;
	const struct as_gal_entry *e;
	const struct as_contact_match *m;
	struct rr_recipient r;
	unsigned int total, limit;
	const char *error;

	/* one more than may be suggested, to tell a partial list */
	limit = ctx->opts.max_ambiguous + 1;
	*exact_r = -1;
	t_array_init(&gal, 8);
	if (as_gal_search_in(cmd, &ctx->gal_folders, to, 0, limit, &gal,
			     &total, &error) < 0) {
		e_error(cmd->event, "ResolveRecipients: GAL: %s", error);
		return -1;
	}
	array_foreach(&gal, e) {
		if (e->email == NULL)
			continue;
		i_zero(&r);
		r.type = RR_TYPE_GAL;
		r.display_name = e->display_name != NULL ?
			e->display_name : e->email;
		r.email = e->email;
		r.user = e->user;
		r.gal = e;
		if (strcasecmp(e->email, to) == 0 && *exact_r < 0)
			*exact_r = array_count(list);
		array_push_back(list, &r);
	}
	t_array_init(&contacts, 8);
	if (as_contact_lookup(cmd->mail_user, cmd->event, cmd->pool, to,
			      limit, &contacts, &error) < 0) {
		e_error(cmd->event, "ResolveRecipients: %s", error);
		return -1;
	}
	array_foreach(&contacts, m) {
		if (rr_listed(list, m->email))
			continue;
		i_zero(&r);
		r.type = RR_TYPE_CONTACT;
		r.display_name = m->display_name;
		r.email = m->email;
		r.photo = m->photo;
		if (array_is_created(&m->certificates))
			r.certificates = &m->certificates;
		if (m->exact && *exact_r < 0)
			*exact_r = array_count(list);
		array_push_back(list, &r);
	}
	return 0;
}

static void
rr_write_availability(struct rr_context *ctx, const struct rr_recipient *r)
{
	struct as_cmd_context *cmd = ctx->cmd;
	struct as_user user;
	string_t *digits;
	const char *error;
	unsigned int status = RR_AVAILABILITY_SUCCESS;

	digits = t_str_new(256);
	if (r->user == NULL) {
		/* not one of ours: nobody here knows their calendar */
		status = RR_AVAILABILITY_NOT_AVAILABLE;
	} else if (strcmp(r->user, cmd->username) == 0) {
		if (as_freebusy_merged(cmd->mail_user, cmd->event,
				       ctx->opts.start, ctx->opts.end,
				       RR_FREEBUSY_SLOT_SECS, digits,
				       &error) < 0) {
			e_error(cmd->event, "ResolveRecipients: %s", error);
			status = RR_AVAILABILITY_TEMP_FAILURE;
		}
	} else if (as_cmd_open_other_user(cmd, r->user, &user, &error) < 0) {
		e_error(cmd->event, "ResolveRecipients: free/busy of %s: %s",
			r->user, error);
		status = RR_AVAILABILITY_TEMP_FAILURE;
	} else {
		if (as_freebusy_merged(user.mail_user, cmd->event,
				       ctx->opts.start, ctx->opts.end,
				       RR_FREEBUSY_SLOT_SECS, digits,
				       &error) < 0) {
			e_error(cmd->event, "ResolveRecipients: free/busy of "
				"%s: %s", r->user, error);
			status = RR_AVAILABILITY_TEMP_FAILURE;
		}
		as_user_close(&user);
	}
	wbxml_start(cmd->writer, EAS_RESOLVERECIPIENTS_AVAILABILITY);
	wbxml_elem_uint(cmd->writer, EAS_RESOLVERECIPIENTS_STATUS, status);
	if (status == RR_AVAILABILITY_SUCCESS) {
		wbxml_elem_str(cmd->writer,
			       EAS_RESOLVERECIPIENTS_MERGEDFREEBUSY,
			       str_c(digits));
	}
	wbxml_end(cmd->writer);
}

static void
rr_write_certificates(struct rr_context *ctx, const struct rr_recipient *r)
{
	struct wbxml_writer *w = ctx->cmd->writer;
	const buffer_t *cert;
	string_t *b64;
	unsigned int count;

	count = r->certificates == NULL ? 0 : array_count(r->certificates);
	wbxml_start(w, EAS_RESOLVERECIPIENTS_CERTIFICATES);
	if (count == 0) {
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_STATUS,
				RR_CERTIFICATES_NONE);
	} else if (ctx->certificates_sent + count >
		   ctx->opts.max_certificates) {
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_STATUS,
				RR_CERTIFICATES_LIMIT);
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_CERTIFICATECOUNT,
				count);
	} else {
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_STATUS,
				RR_CERTIFICATES_SUCCESS);
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_CERTIFICATECOUNT,
				count);
		/* we keep whole certificates only: a MiniCertificate
		   request gets them too */
		array_foreach_elem(r->certificates, cert) {
			b64 = t_str_new(MAX_BASE64_ENCODED_SIZE(cert->used));
			base64_encode(cert->data, cert->used, b64);
			wbxml_elem_str(w, EAS_RESOLVERECIPIENTS_CERTIFICATE,
				       str_c(b64));
		}
		ctx->certificates_sent += count;
	}
	wbxml_end(w);
}

static const struct as_gal_picture_tags rr_picture_tags = {
	.picture = EAS_RESOLVERECIPIENTS_PICTURE,
	.status = EAS_RESOLVERECIPIENTS_STATUS,
	.data = EAS_RESOLVERECIPIENTS_DATA,
};

static void
rr_write_picture(struct rr_context *ctx, const struct rr_recipient *r)
{
	const buffer_t *photo = r->photo;

	if (r->gal != NULL)
		photo = as_gal_entry_photo(ctx->cmd, r->gal);
	as_gal_picture_write(ctx->cmd->writer, &rr_picture_tags,
			     &ctx->opts.picture, photo);
}

static void
rr_write_recipient(struct rr_context *ctx, const struct rr_recipient *r,
		   bool resolved)
{
	struct wbxml_writer *w = ctx->cmd->writer;

	wbxml_start(w, EAS_RESOLVERECIPIENTS_RECIPIENT);
	wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_TYPE, r->type);
	wbxml_elem_str(w, EAS_RESOLVERECIPIENTS_DISPLAYNAME, r->display_name);
	wbxml_elem_str(w, EAS_RESOLVERECIPIENTS_EMAILADDRESS, r->email);
	/* free/busy only for a resolved name, not for suggestions */
	if (ctx->opts.availability && resolved)
		rr_write_availability(ctx, r);
	if (ctx->opts.cert_retrieval != RR_CERT_RETRIEVAL_NONE)
		rr_write_certificates(ctx, r);
	if (ctx->opts.picture.requested)
		rr_write_picture(ctx, r);
	wbxml_end(w);
}

static int rr_resolve(struct rr_context *ctx, const char *to)
{
	struct wbxml_writer *w = ctx->cmd->writer;
	ARRAY_TYPE(rr_recipient) list;
	const struct rr_recipient *r;
	unsigned int status, count, i;
	int exact;

	t_array_init(&list, 8);
	if (rr_candidates(ctx, to, &list, &exact) < 0)
		return -1;
	count = array_count(&list);
	if (exact >= 0 || count == 1) {
		status = RR_RESPONSE_RESOLVED;
		r = array_idx(&list, exact >= 0 ? (unsigned int)exact : 0);
		count = 1;
	} else if (count == 0) {
		status = RR_RESPONSE_NOT_RESOLVED;
		r = NULL;
	} else {
		status = count > ctx->opts.max_ambiguous ?
			RR_RESPONSE_AMBIGUOUS_PARTIAL : RR_RESPONSE_AMBIGUOUS;
		count = I_MIN(count, ctx->opts.max_ambiguous);
		r = array_front(&list);
	}

	wbxml_start(w, EAS_RESOLVERECIPIENTS_RESPONSE);
	wbxml_elem_str(w, EAS_RESOLVERECIPIENTS_TO, to);
	wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_STATUS, status);
	if (status != RR_RESPONSE_NOT_RESOLVED) {
		wbxml_elem_uint(w, EAS_RESOLVERECIPIENTS_RECIPIENTCOUNT,
				count);
		for (i = 0; i < count; i++) {
			rr_write_recipient(ctx, &r[i],
					   status == RR_RESPONSE_RESOLVED);
		}
	}
	wbxml_end(w);
	return 0;
}

enum as_command_result cmd_resolverecipients(struct as_cmd_context *cmd)
{
	struct rr_context ctx;
	const struct wbxml_node *child;
	ARRAY_TYPE(const_string) tos;
	const char *to, *error;
	int ret = 0;

	i_zero(&ctx);
	ctx.cmd = cmd;
	t_array_init(&tos, 8);
	wbxml_node_foreach_child(cmd->root, child) {
		if (child->tag == EAS_RESOLVERECIPIENTS_TO) {
			to = t_str_trim(wbxml_node_text(child), " \t");
			if (*to == '\0' || strlen(to) > RR_MAX_TO_LEN ||
			    strlen(to) != child->data_size) {
				e_info(cmd->event, "ResolveRecipients: "
				       "empty, too long or binary To");
				as_cmd_write_status(cmd,
					RR_STATUS_PROTOCOL_ERROR);
				return AS_CMD_DONE;
			}
			array_push_back(&tos, &to);
		} else if (child->tag != EAS_RESOLVERECIPIENTS_OPTIONS) {
			e_info(cmd->event, "ResolveRecipients: unexpected %s",
			       t_strdup(wbxml_tag_name(child->tag)));
			as_cmd_write_status(cmd, RR_STATUS_PROTOCOL_ERROR);
			return AS_CMD_DONE;
		}
	}
	if (array_count(&tos) == 0 || array_count(&tos) > RR_MAX_TO) {
		e_info(cmd->event, "ResolveRecipients: %u To elements "
		       "(1..%u)", array_count(&tos), RR_MAX_TO);
		as_cmd_write_status(cmd, RR_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}
	if (!rr_parse_options(&ctx, wbxml_node_child(cmd->root,
			EAS_RESOLVERECIPIENTS_OPTIONS))) {
		as_cmd_write_status(cmd, RR_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}

	if (as_gal_prepare(cmd, &ctx.gal_folders, &error) < 0) {
		e_error(cmd->event, "ResolveRecipients: GAL: %s", error);
		as_cmd_write_status(cmd, RR_STATUS_SERVER_ERROR);
		return AS_CMD_DONE;
	}
	wbxml_start(cmd->writer, EAS_RESOLVERECIPIENTS_RESOLVERECIPIENTS);
	wbxml_elem_uint(cmd->writer, EAS_RESOLVERECIPIENTS_STATUS,
			RR_STATUS_SUCCESS);
	array_foreach_elem(&tos, to) {
		T_BEGIN {
			ret = rr_resolve(&ctx, to);
		} T_END;
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		as_cmd_write_status(cmd, RR_STATUS_SERVER_ERROR);
		return AS_CMD_DONE;
	}
	wbxml_end(cmd->writer);
	return AS_CMD_DONE;
}
