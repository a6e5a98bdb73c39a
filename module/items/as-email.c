/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* An IMAP message as an EAS Email item (MS-ASEMAIL, bodies MS-ASAIRS). */

#include "lib.h"
#include "str.h"
#include "array.h"
#include "istream.h"
#include "istream-crlf.h"
#include "unichar.h"
#include "message-address.h"
#include "message-header-decode.h"
#include "imap-base-subject.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "as-request.h"
#include "items/as-body.h"
#include "items/as-flag.h"
#include "items/as-categories.h"
#include "items/as-conversation.h"
#include "items/as-datetime.h"
#include "as-store-itemprops.h"
#include "items/as-body-prefs.h"
#include "items/as-item.h"
#include "items/as-email.h"
#include "items/as-meeting-request.h"

#include <time.h>

/* Text kept per body part while parsing when no truncation applies */
#define AS_EMAIL_MAX_TEXT_SIZE (4*1024*1024)
#define AS_EMAIL_MIN_TEXT_SIZE (64*1024)
#define AS_EMAIL_MAX_ADDRESSES 500

enum as_importance {
	AS_IMPORTANCE_LOW = 0,
	AS_IMPORTANCE_NORMAL = 1,
	AS_IMPORTANCE_HIGH = 2,
};

/* The body as it goes to the device */
struct email_body {
	enum as_body_type type;
	uoff_t truncation;
	bool all_or_none;
	unsigned int preview;

	const char *data;	/* NULL = no Data element */
	size_t data_size;
	uoff_t full_size;
	bool truncated;
	/* MIME with 8-bit content: sent as OPAQUE, not as a string */
	bool opaque;
	const char *preview_text;
};

struct as_email {
	const struct as_item_params *params;
	uint32_t uid;
	const char *to, *cc, *from, *reply_to, *subject, *thread_topic;
	const char *display_to;
	const char *date_received;
	time_t received;
	enum as_importance importance;
	enum mail_flags flags;
	struct as_body_info info;
	struct email_body body;
	const char *message_class;
	/* item properties from the store, NULL if none */
	const char *props;
	const char *const *categories;
	bool have_conversation;
	unsigned char conversation_id[AS_CONVERSATION_ID_SIZE];
	buffer_t *conversation_index;
	/* an invitation (iMIP REQUEST/CANCEL), NULL for other mail */
	const struct as_meeting_request *meeting;
};

static const char *
email_props(struct mail *mail, const struct as_item_params *params)
{
	const char *value, *error;

	if (params->store == NULL || params->box_guid == NULL)
		return NULL;
	if (as_store_itemprops_get(params->store, pool_datastack_create(),
				   params->user, params->box_guid, mail->uid,
				   &value, &error) <= 0)
		return NULL;
	return value;
}

const char *const as_email_header_names[] = {
	"From", "To", "Cc", "Reply-To", "Subject", "Importance",
	"X-Priority", "Thread-Index", "References", "In-Reply-To",
	"Message-ID", NULL
};

struct mailbox_header_lookup_ctx *as_email_wanted_headers(struct mailbox *box)
{
	return mailbox_header_lookup_init(box, as_email_header_names);
}

const char *as_email_server_id(const char *folder_id, uint32_t uid)
{
	return t_strdup_printf("%s:%u", folder_id, uid);
}

bool as_email_parse_server_id(const char *server_id, const char *folder_id,
			      uint32_t *uid_r)
{
	size_t len = strlen(folder_id);

	if (strncmp(server_id, folder_id, len) != 0 || server_id[len] != ':')
		return FALSE;
	if (str_to_uint32(server_id + len + 1, uid_r) < 0 || *uid_r == 0)
		return FALSE;
	return TRUE;
}

/* Headers may carry raw 8-bit bytes in any charset: what goes to the
   device must be valid UTF-8. */
static const char *utf8_valid(const char *str)
{
	string_t *dest;

	if (str == NULL)
		return NULL;
	dest = t_str_new(strlen(str) + 8);
	if (uni_utf8_get_valid_data((const unsigned char *)str, strlen(str),
				    dest))
		return str;
	return str_c(dest);
}

static const char *header_decode(const char *value)
{
	string_t *str = t_str_new(strlen(value) + 16);

	message_header_decode_utf8((const unsigned char *)value,
				   strlen(value), str, NULL);
	return str_c(str);
}

static void quoted_append(string_t *dest, const char *name)
{
	str_append_c(dest, '"');
	for (; *name != '\0'; name++) {
		if (*name == '"' || *name == '\\')
			str_append_c(dest, '\\');
		str_append_c(dest, *name);
	}
	str_append_c(dest, '"');
}

/* Address header -> '"Name" <addr>, addr2' with names decoded to UTF-8;
   names (or addresses) also go to display_r separated by "; ". */
static const char *
addresses_format(const char *value, string_t *display_r)
{
	struct message_address *addr;
	string_t *out = t_str_new(128);
	const char *name, *address;

	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)value,
				     strlen(value), AS_EMAIL_MAX_ADDRESSES, 0);
	for (; addr != NULL; addr = addr->next) {
		/* group start/end markers have no domain */
		if (addr->domain == NULL || addr->mailbox == NULL ||
		    *addr->mailbox == '\0')
			continue;
		address = *addr->domain == '\0' ? addr->mailbox :
			t_strconcat(addr->mailbox, "@", addr->domain, NULL);
		name = addr->name == NULL || *addr->name == '\0' ? NULL :
			header_decode(addr->name);
		if (str_len(out) > 0)
			str_append(out, ", ");
		if (name != NULL) {
			quoted_append(out, name);
			str_printfa(out, " <%s>", address);
		} else {
			str_append(out, address);
		}
		if (display_r != NULL) {
			if (str_len(display_r) > 0)
				str_append(display_r, "; ");
			str_append(display_r, name != NULL ? name : address);
		}
	}
	return str_c(out);
}

static int
get_header(struct mail *mail, const char *name, const char **value_r)
{
	int ret;

	ret = mail_get_first_header(mail, name, value_r);
	if (ret == 0)
		*value_r = NULL;
	return ret < 0 ? -1 : 0;
}

static int get_address_header(struct mail *mail, const char *name,
			      string_t *display_r, const char **value_r)
{
	const char *value;

	if (get_header(mail, name, &value) < 0)
		return -1;
	*value_r = value == NULL ? NULL : addresses_format(value, display_r);
	if (*value_r != NULL && **value_r == '\0')
		*value_r = NULL;
	return 0;
}

static enum as_importance get_importance(struct mail *mail)
{
	const char *value;

	if (get_header(mail, "Importance", &value) == 0 && value != NULL) {
		value = t_str_trim(value, " \t");
		if (strcasecmp(value, "high") == 0)
			return AS_IMPORTANCE_HIGH;
		if (strcasecmp(value, "low") == 0)
			return AS_IMPORTANCE_LOW;
		return AS_IMPORTANCE_NORMAL;
	}
	if (get_header(mail, "X-Priority", &value) == 0 && value != NULL) {
		value = t_str_trim(value, " \t");
		if (value[0] == '1' || value[0] == '2')
			return AS_IMPORTANCE_HIGH;
		if (value[0] == '4' || value[0] == '5')
			return AS_IMPORTANCE_LOW;
	}
	return AS_IMPORTANCE_NORMAL;
}

/* How much text to keep while parsing: enough for the largest truncated
   body, with room for HTML -> text conversion. */
static size_t max_text_size(const struct as_body_options *opts)
{
	uoff_t max = 0;
	unsigned int i;

	if (opts->pref_count == 0) {
		if (opts->truncation == AS_TRUNCATION_NONE)
			return AS_EMAIL_MAX_TEXT_SIZE;
		max = opts->truncation;
	}
	for (i = 0; i < opts->pref_count; i++) {
		if (opts->prefs[i].truncation_size == AS_TRUNCATION_NONE)
			return AS_EMAIL_MAX_TEXT_SIZE;
		if (opts->prefs[i].truncation_size > max)
			max = opts->prefs[i].truncation_size;
	}
	max *= 4;
	if (max < AS_EMAIL_MIN_TEXT_SIZE)
		max = AS_EMAIL_MIN_TEXT_SIZE;
	return I_MIN(max, AS_EMAIL_MAX_TEXT_SIZE);
}

/* Pick the body type and its limits from the device's preferences. */
static void choose_body(const struct as_body_options *opts,
			const struct as_body_info *info,
			struct email_body *body_r)
{
	const struct as_body_pref *prefs[AS_BODY_TYPE_MIME + 1];
	const struct as_body_pref *pref = NULL;
	enum as_body_type native = as_body_native_type(info);
	bool mime_allowed;
	unsigned int i;

	memset(prefs, 0, sizeof(prefs));
	for (i = 0; i < opts->pref_count; i++) {
		unsigned int type = opts->prefs[i].type;

		if (type <= AS_BODY_TYPE_MIME && prefs[type] == NULL)
			prefs[type] = &opts->prefs[i];
	}
	/* Without MIMESupport a type 4 preference alone is honoured (14.x
	   clients rely on it); MIMESupport 0/1 restricts it. */
	mime_allowed = !opts->have_mime_support || opts->mime_support == 2 ||
		(opts->mime_support == 1 &&
		 (info->smime_signed || info->smime_encrypted));

	i_zero(body_r);
	body_r->truncation = AS_TRUNCATION_NONE;
	if (prefs[AS_BODY_TYPE_MIME] != NULL && mime_allowed)
		pref = prefs[AS_BODY_TYPE_MIME];
	else if (opts->pref_count == 0 && opts->have_mime_support &&
		 opts->mime_support > 0 && mime_allowed) {
		/* 12.x form: MIMESupport + MIMETruncation */
		body_r->type = AS_BODY_TYPE_MIME;
		body_r->truncation = opts->mime_truncation;
		return;
	} else if (prefs[native] != NULL)
		pref = prefs[native];
	else if (prefs[AS_BODY_TYPE_HTML] != NULL)
		pref = prefs[AS_BODY_TYPE_HTML];
	else if (prefs[AS_BODY_TYPE_PLAIN] != NULL)
		pref = prefs[AS_BODY_TYPE_PLAIN];

	if (pref == NULL) {
		/* nothing usable (no preference, RTF, or MIME refused):
		   plain text with the 12.x Truncation, if any */
		body_r->type = AS_BODY_TYPE_PLAIN;
		body_r->truncation = opts->pref_count > 0 ?
			opts->prefs[0].truncation_size : opts->truncation;
		if (opts->pref_count > 0)
			body_r->all_or_none = opts->prefs[0].all_or_none;
		return;
	}
	body_r->type = pref->type == AS_BODY_TYPE_MIME ? AS_BODY_TYPE_MIME :
		(enum as_body_type)pref->type;
	body_r->truncation = pref->truncation_size;
	body_r->all_or_none = pref->all_or_none;
	body_r->preview = pref->preview;
}

/* No NULs and no 8-bit bytes; a word at a time */
static bool is_7bit_text(const unsigned char *data, size_t size)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t word;
	size_t i = 0;

	for (; i + 8 <= size; i += 8) {
		memcpy(&word, data + i, 8);
		/* a high bit set, or a zero byte */
		if ((word & high) != 0 || ((word - ones) & ~word & high) != 0)
			return FALSE;
	}
	for (; i < size; i++) {
		if (data[i] == '\0' || data[i] >= 0x80)
			return FALSE;
	}
	return TRUE;
}

static int read_mime(struct mail *mail, struct email_body *body,
		     const char **error_r)
{
	struct istream *input, *crlf;
	const unsigned char *data;
	size_t size;
	uoff_t limit;
	buffer_t *buf;
	int ret;

	if (mail_get_virtual_size(mail, &body->full_size) < 0 ||
	    mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	limit = body->truncation == AS_TRUNCATION_NONE ? body->full_size :
		I_MIN(body->truncation, body->full_size);
	body->truncated = limit < body->full_size;
	if (body->truncated && body->all_or_none) {
		body->data = NULL;
		return 0;
	}
	/* not zero-filled: every byte kept is written */
	buf = t_new(buffer_t, 1);
	buffer_create_from_data(buf, t_malloc_no0(limit + 1), limit + 1);
	crlf = i_stream_create_crlf(input);
	while (buf->used < limit &&
	       (ret = i_stream_read_more(crlf, &data, &size)) > 0) {
		size = I_MIN(size, limit - buf->used);
		buffer_append(buf, data, size);
		i_stream_skip(crlf, size);
	}
	if (crlf->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(crlf),
					   i_stream_get_error(crlf));
		i_stream_unref(&crlf);
		return -1;
	}
	i_stream_unref(&crlf);
	/* 7-bit text travels as an inline string; anything with 8-bit
	   bytes or NULs goes as opaque data, byte for byte */
	body->opaque = !is_7bit_text(buf->data, buf->used);
	body->data = buf->data;
	body->data_size = buf->used;
	if (!body->truncated)
		body->full_size = buf->used;
	return 0;
}

static const char *make_preview(const struct as_body_info *info,
				unsigned int max_chars)
{
	const char *text, *p;
	string_t *out = t_str_new(max_chars + 8);
	uoff_t full;
	unsigned int chars = 0;
	bool space = FALSE;

	text = as_body_text(info, AS_BODY_TYPE_PLAIN, &full);
	for (p = text; *p != '\0' && chars < max_chars; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = str_len(out) > 0;
			continue;
		}
		if (space) {
			str_append_c(out, ' ');
			chars++;
			space = FALSE;
			if (chars == max_chars)
				break;
		}
		str_append_c(out, *p);
		/* count characters, not UTF-8 continuation bytes */
		if (((unsigned char)p[1] & 0xc0) != 0x80)
			chars++;
	}
	/* a space only ever goes out before a following character */
	if (str_len(out) > 0 && str_data(out)[str_len(out)-1] == ' ')
		str_truncate(out, str_len(out) - 1);
	return str_c(out);
}

static int fill_body(struct mail *mail, const struct as_body_options *opts,
		     unsigned int version, struct as_email *f,
		     const char **error_r)
{
	struct email_body *body = &f->body;
	const char *text;
	size_t len;

	if (body->type == AS_BODY_TYPE_MIME) {
		if (read_mime(mail, body, error_r) < 0)
			return -1;
	} else {
		text = as_body_text(&f->info, body->type, &body->full_size);
		len = strlen(text);
		if (body->full_size < len)
			body->full_size = len;
		body->truncated = body->truncation != AS_TRUNCATION_NONE &&
			body->full_size > body->truncation;
		if (!body->truncated && len < body->full_size &&
		    body->truncation == AS_TRUNCATION_NONE) {
			/* we kept less than the whole (huge) text */
			body->truncated = TRUE;
		}
		if (body->truncated && body->all_or_none)
			body->data = NULL;
		else {
			if (body->truncation != AS_TRUNCATION_NONE)
				len = as_body_utf8_truncate(text, len,
							    body->truncation);
			body->data = text;
			body->data_size = len;
		}
	}
	if (body->preview > 0 && version >= AS_VERSION_14_0)
		body->preview_text = make_preview(&f->info, body->preview);
	return 0;
}

/* The message's structure (cached by Dovecot), then only what the chosen
   body needs: a MIME body is the message as it is, so its texts are read
   only for a Preview, and its attachments not at all. */
static int email_body_read(struct mail *mail,
			   const struct as_item_params *params,
			   struct as_email *f, const char **error_r)
{
	const struct as_body_options *opts = params->body;
	pool_t pool = pool_datastack_create();
	bool want_attachments, want_texts;

	if (as_body_structure(pool, mail, TRUE, &f->info, error_r) < 0)
		return -1;
	choose_body(opts, &f->info, &f->body);
	if (f->body.type != AS_BODY_TYPE_MIME) {
		want_attachments = TRUE;
		want_texts = TRUE;
	} else {
		want_attachments = FALSE;
		want_texts = f->body.preview > 0 &&
			params->version >= AS_VERSION_14_0;
	}
	if ((want_attachments &&
	     as_body_attachment_sizes(mail, &f->info, error_r) < 0) ||
	    (want_texts &&
	     as_body_texts(pool, mail, max_text_size(opts), &f->info,
			   error_r) < 0)) {
		if (mail->expunged)
			return -1;
		/* the cached structure doesn't fit the message: one pass
		   over the message itself */
		if (as_body_parse(pool, mail, max_text_size(opts), TRUE,
				  &f->info, error_r) < 0)
			return -1;
		choose_body(opts, &f->info, &f->body);
	}
	return 0;
}

static const char *message_class(const struct as_body_info *info)
{
	if (info->smime_encrypted)
		return "IPM.Note.SMIME";
	if (info->smime_signed)
		return "IPM.Note.SMIME.MultipartSigned";
	return "IPM.Note";
}

static int email_meeting_read(struct mail *mail, struct as_email *f,
			      const char **error_r)
{
	const char *error;
	int ret;

	ret = as_meeting_request_read(mail, &f->info, &f->meeting, &error);
	if (ret < 0) {
		*error_r = error;
		return -1;
	}
	if (ret == 0) {
		f->meeting = NULL;
		if (error != NULL) {
			/* shown as the plain mail it also is */
			i_info("activesync: %s UID %u: %s",
			       mailbox_get_vname(mail->box), mail->uid, error);
		}
		return 0;
	}
	f->message_class = as_meeting_request_message_class(f->meeting);
	return 0;
}

static int email_fields_read(struct mail *mail,
			     const struct as_item_params *params,
			     struct as_email *f, const char **error_r)
{
	string_t *display_to = t_str_new(128);
	time_t received;
	bool is_reply;

	i_zero(f);
	if (get_address_header(mail, "To", display_to, &f->to) < 0 ||
	    get_address_header(mail, "Cc", NULL, &f->cc) < 0 ||
	    get_address_header(mail, "From", NULL, &f->from) < 0 ||
	    get_address_header(mail, "Reply-To", NULL, &f->reply_to) < 0 ||
	    mail_get_first_header_utf8(mail, "Subject", &f->subject) < 0 ||
	    mail_get_received_date(mail, &received) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	f->display_to = str_len(display_to) == 0 ? NULL :
		utf8_valid(str_c(display_to));
	f->to = utf8_valid(f->to);
	f->cc = utf8_valid(f->cc);
	f->from = utf8_valid(f->from);
	f->reply_to = utf8_valid(f->reply_to);
	f->subject = utf8_valid(f->subject);
	if (f->subject != NULL) {
		f->thread_topic = imap_get_base_subject_cased(
			pool_datastack_create(), f->subject, &is_reply);
	}
	f->date_received = as_datetime_format(received);
	f->received = received;
	f->importance = get_importance(mail);
	f->flags = mail_get_flags(mail);
	f->props = email_props(mail, params);
	f->categories = as_email_categories(mail);
	if (params->version >= AS_VERSION_14_0) {
		f->conversation_index = t_buffer_create(32);
		f->have_conversation = as_conversation_get(mail,
			f->conversation_id, f->conversation_index) == 0;
	}

	/* Broken MIME and unknown charsets don't fail here (they are
	   converted); a failure is the storage's (the file unreadable, an
	   I/O error). Then the item is not sent now rather than sent with
	   an empty body the device would keep: Sync tries it again later
	   (and isolates it if it keeps failing), ItemOperations says 14. */
	if (email_body_read(mail, params, f, error_r) < 0)
		return -1;
	f->message_class = message_class(&f->info);
	if (email_meeting_read(mail, f, error_r) < 0)
		return -1;
	if (fill_body(mail, params->body, params->version, f,
		      error_r) < 0)
		return -1;
	return 0;
}

static void write_categories(struct wbxml_writer *w,
			     const char *const *categories)
{
	if (categories[0] == NULL) {
		wbxml_empty(w, EAS_EMAIL_CATEGORIES);
		return;
	}
	wbxml_start(w, EAS_EMAIL_CATEGORIES);
	for (; *categories != NULL; categories++)
		wbxml_elem_str(w, EAS_EMAIL_CATEGORY, *categories);
	wbxml_end(w);
}

static void
write_attachments(struct wbxml_writer *w, const struct as_email *f,
		  const struct as_item_params *params, uint32_t uid)
{
	const struct as_body_attachment *att;

	if (array_count(&f->info.attachments) == 0)
		return;
	wbxml_start(w, EAS_AIRSYNCBASE_ATTACHMENTS);
	array_foreach(&f->info.attachments, att) {
		wbxml_start(w, EAS_AIRSYNCBASE_ATTACHMENT);
		wbxml_elem_str(w, EAS_AIRSYNCBASE_DISPLAYNAME,
			       utf8_valid(att->display_name));
		wbxml_elem_str(w, EAS_AIRSYNCBASE_FILEREFERENCE,
			       t_strdup_printf("%s:%u:%s", params->folder_id,
					       uid, att->part_number));
		/* 1 = normal attachment */
		wbxml_elem_uint(w, EAS_AIRSYNCBASE_METHOD, 1);
		wbxml_elem_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE,
				att->size);
		if (att->content_id != NULL)
			wbxml_elem_str(w, EAS_AIRSYNCBASE_CONTENTID,
				       att->content_id);
		if (att->content_location != NULL)
			wbxml_elem_str(w, EAS_AIRSYNCBASE_CONTENTLOCATION,
				       att->content_location);
		if (att->is_inline)
			wbxml_elem_uint(w, EAS_AIRSYNCBASE_ISINLINE, 1);
		wbxml_end(w);
	}
	wbxml_end(w);
}

static void write_body(struct wbxml_writer *w, const struct email_body *body,
		       unsigned int body_part)
{
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, body->type);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, body->full_size);
	if (body->truncated)
		wbxml_elem_uint(w, EAS_AIRSYNCBASE_TRUNCATED, 1);
	if (body->data != NULL && body_part > 0) {
		/* multipart ItemOperations response: the data is a part */
		wbxml_elem_uint(w, EAS_ITEMOPERATIONS_PART, body_part);
	} else if (body->data != NULL) {
		if (body->data_size == 0)
			wbxml_empty(w, EAS_AIRSYNCBASE_DATA);
		else if (body->opaque) {
			wbxml_elem_opaque(w, EAS_AIRSYNCBASE_DATA,
					  body->data, body->data_size);
		} else {
			wbxml_start(w, EAS_AIRSYNCBASE_DATA);
			wbxml_text_n(w, body->data, body->data_size);
			wbxml_end(w);
		}
	}
	if (body->preview_text != NULL)
		wbxml_elem_str(w, EAS_AIRSYNCBASE_PREVIEW, body->preview_text);
	wbxml_end(w);
}

static void elem_str_opt(struct wbxml_writer *w, unsigned int tag,
			 const char *value)
{
	if (value != NULL)
		wbxml_elem_str(w, tag, value);
}

int as_email_read(struct mail *mail, const struct as_item_params *params,
		  struct as_email **email_r, const char **error_r)
{
	struct as_email *email = t_new(struct as_email, 1);

	if (email_fields_read(mail, params, email, error_r) < 0)
		return -1;
	email->params = params;
	email->uid = mail->uid;
	*email_r = email;
	return 0;
}

void as_email_write(struct wbxml_writer *w, const struct as_email *email)
{
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	as_email_write_properties(w, email);
	wbxml_end(w);
}

void as_email_write_properties(struct wbxml_writer *w,
			       const struct as_email *email)
{
	const struct as_item_params *params = email->params;
	const struct as_email f = *email;

	elem_str_opt(w, EAS_EMAIL_TO, f.to);
	elem_str_opt(w, EAS_EMAIL_CC, f.cc);
	elem_str_opt(w, EAS_EMAIL_FROM, f.from);
	elem_str_opt(w, EAS_EMAIL_SUBJECT, f.subject);
	elem_str_opt(w, EAS_EMAIL_REPLYTO, f.reply_to);
	wbxml_elem_str(w, EAS_EMAIL_DATERECEIVED, f.date_received);
	elem_str_opt(w, EAS_EMAIL_DISPLAYTO, f.display_to);
	elem_str_opt(w, EAS_EMAIL_THREADTOPIC, f.thread_topic);
	wbxml_elem_uint(w, EAS_EMAIL_IMPORTANCE, f.importance);
	wbxml_elem_uint(w, EAS_EMAIL_READ, (f.flags & MAIL_SEEN) != 0 ? 1 : 0);
	if (f.body.type != AS_BODY_TYPE_MIME)
		write_attachments(w, &f, params, f.uid);
	write_body(w, &f.body, params->body_part);
	wbxml_elem_str(w, EAS_EMAIL_MESSAGECLASS, f.message_class);
	if (f.meeting != NULL)
		as_meeting_request_write(w, f.meeting, params->version);
	/* the text we send is UTF-8 */
	wbxml_elem_str(w, EAS_EMAIL_INTERNETCPID, "65001");
	as_flag_write(w, (f.flags & MAIL_FLAGGED) != 0, f.props);
	wbxml_elem_str(w, EAS_EMAIL_CONTENTCLASS, f.meeting != NULL ?
		       AS_MEETING_CONTENT_CLASS :
		       "urn:content-classes:message");
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_NATIVEBODYTYPE,
			as_body_native_type(&f.info));
	if (params->version >= AS_VERSION_14_0) {
		if (f.have_conversation) {
			wbxml_elem_opaque(w, EAS_EMAIL2_CONVERSATIONID,
					  f.conversation_id,
					  sizeof(f.conversation_id));
			wbxml_elem_opaque(w, EAS_EMAIL2_CONVERSATIONINDEX,
					  f.conversation_index->data,
					  f.conversation_index->used);
		}
		write_categories(w, f.categories);
	}
	if (params->version >= AS_VERSION_16_0 &&
	    (f.flags & MAIL_DRAFT) != 0)
		wbxml_elem_uint(w, EAS_EMAIL2_ISDRAFT, 1);
}

const struct as_meeting_request *
as_email_get_meeting_request(const struct as_email *email)
{
	return email->meeting;
}

const char *as_email_get_subject(const struct as_email *email)
{
	return email->subject;
}

time_t as_email_get_received(const struct as_email *email)
{
	return email->received;
}

const char *const *as_email_get_categories(const struct as_email *email)
{
	return email->categories;
}

void as_email_write_body(struct wbxml_writer *w, const struct as_email *email)
{
	write_body(w, &email->body, email->params->body_part);
}

bool as_email_body_data(const struct as_email *email, const void **data_r,
			size_t *size_r)
{
	if (email->body.data == NULL)
		return FALSE;
	*data_r = email->body.data;
	*size_r = email->body.data_size;
	return TRUE;
}

void as_email_write_change(struct wbxml_writer *w, struct mail *mail)
{
	as_email_write_change_params(w, mail, NULL);
}

static void
email_write_change(struct wbxml_writer *w, struct mail *mail,
		   const struct as_item_params *params)
{
	enum mail_flags flags = mail_get_flags(mail);

	wbxml_elem_uint(w, EAS_EMAIL_READ, (flags & MAIL_SEEN) != 0 ? 1 : 0);
	as_flag_write(w, (flags & MAIL_FLAGGED) != 0,
		      params == NULL ? NULL : email_props(mail, params));
	/* an empty Categories is "all removed" in a Change */
	if (params != NULL && params->version >= AS_VERSION_14_0)
		write_categories(w, as_email_categories(mail));
}

void as_email_write_change_params(struct wbxml_writer *w, struct mail *mail,
				  const struct as_item_params *params)
{
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	email_write_change(w, mail, params);
	wbxml_end(w);
}

const char *const *as_email_categories(struct mail *mail)
{
	ARRAY_TYPE(const_string) cats;
	const char *const *kw, *name;

	t_array_init(&cats, 4);
	for (kw = mail_get_keywords(mail); *kw != NULL; kw++) {
		name = as_keyword_to_category(*kw);
		if (name != NULL)
			array_push_back(&cats, &name);
	}
	array_append_zero(&cats);
	return array_front(&cats);
}

/* ---- the Email item class ---- */

int as_email_class_read(struct mail *mail,
			const struct as_item_params *params,
			struct as_item **item_r, const char **error_r)
{
	struct as_email *email;

	if (as_email_read(mail, params, &email, error_r) < 0)
		return -1;
	*item_r = (struct as_item *)email;
	return 0;
}

static void email_class_write(struct wbxml_writer *w, const struct as_item *item)
{
	as_email_write_properties(w, (const struct as_email *)item);
}

bool as_email_class_body_data(const struct as_item *item, const void **data_r,
			      size_t *size_r)
{
	return as_email_body_data((const struct as_email *)item, data_r, size_r);
}

const struct as_item_class as_item_class_email = {
	.name = "Email",
	.folder_class = AS_FOLDER_CLASS_MAIL,
	.wanted_fields = AS_EMAIL_WANTED_FIELDS,
	.wanted_headers = as_email_wanted_headers,
	.read = as_email_class_read,
	.write = email_class_write,
	.body_data = as_email_class_body_data,
	.write_change = email_write_change,
	.date_filter = TRUE,
	.change_in_place = TRUE,
};
