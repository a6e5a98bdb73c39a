/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ioloop.h"
#include "hostpid.h"
#include "randgen.h"
#include "hex-binary.h"
#include "message-date.h"
#include "message-header-encode.h"
#include "message-parser.h"
#include "mail-storage.h"
#include "imap-msgpart.h"
#include "items/as-body.h"
#include "items/as-draft.h"
#include "items/as-groupware-msg.h"

void as_groupware_msg_build(const struct as_groupware_msg *msg,
			    string_t *dest)
{
	unsigned char rnd[8];
	const char *boundary;

	random_fill(rnd, sizeof(rnd));
	boundary = t_strdup_printf("=_as_%s", binary_to_hex(rnd, sizeof(rnd)));

	str_printfa(dest, "From: <%s>\r\n", as_draft_header_text(msg->from));
	if (msg->subject != NULL && *msg->subject != '\0') {
		str_append(dest, "Subject: ");
		message_header_encode(as_draft_header_text(msg->subject), dest);
		str_append(dest, "\r\n");
	}
	str_printfa(dest, "Date: %s\r\n", message_date_create(
		msg->date != 0 ? msg->date : ioloop_time));
	str_printfa(dest, "Message-ID: <%s.%s@%s>\r\n",
		    dec2str(ioloop_time), binary_to_hex(rnd, sizeof(rnd)),
		    my_hostdomain());
	str_printfa(dest, "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
		    boundary);
	str_append(dest, "This is a multi-part message in MIME format.\r\n");

	/* quoted-printable keeps both parts readable as they are stored
	   while no line is longer than mail allows */
	str_printfa(dest, "\r\n--%s\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		    boundary);
	as_draft_append_qp(dest, msg->summary == NULL ? "" :
				msg->summary);

	str_printfa(dest, "\r\n--%s\r\n"
		    "Content-Type: %s; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
		    boundary, msg->content_type, msg->filename);
	as_draft_append_qp(dest, msg->object);
	str_printfa(dest, "\r\n--%s--\r\n", boundary);
}

static bool
groupware_type_matches(const char *content_type,
		       const char *const *content_types)
{
	const char *p;
	size_t len;

	if (content_type == NULL)
		return FALSE;
	p = strchr(content_type, ';');
	len = p == NULL ? strlen(content_type) :
		(size_t)(p - content_type);
	while (len > 0 && (content_type[len-1] == ' ' ||
			   content_type[len-1] == '\t'))
		len--;
	for (; *content_types != NULL; content_types++) {
		if (strlen(*content_types) == len &&
		    strncasecmp(content_type, *content_types, len) == 0)
			return TRUE;
	}
	return FALSE;
}

/* The IMAP section of the object part: an attachment of the type, or
   the message itself when it is a single part of the type. */
static int
groupware_msg_find(struct mail *mail, const char *const *content_types,
		   const char **section_r, const char **error_r)
{
	const struct as_body_attachment *att;
	struct as_body_info info;
	const char *content_type;

	if (as_body_structure(pool_datastack_create(), mail, TRUE,
			      &info, error_r) < 0)
		return -1;
	array_foreach(&info.attachments, att) {
		if (groupware_type_matches(att->content_type, content_types)) {
			*section_r = att->part_number;
			return 1;
		}
	}
	if (info.parts != NULL && info.parts->children == NULL &&
	    mail_get_first_header(mail, "Content-Type", &content_type) > 0 &&
	    groupware_type_matches(content_type, content_types)) {
		*section_r = "1";
		return 1;
	}
	*error_r = t_strdup_printf("no %s part in the message",
				   content_types[0]);
	return 0;
}

int as_groupware_msg_read(struct mail *mail, const char *const *content_types,
			  const char **object_r, const char **error_r)
{
	struct imap_msgpart *msgpart;
	struct imap_msgpart_open_result result;
	const unsigned char *data;
	string_t *object;
	const char *section;
	size_t size;
	ssize_t ret;
	int ret2;

	ret2 = groupware_msg_find(mail, content_types, &section, error_r);
	if (ret2 <= 0)
		return ret2;
	if (imap_msgpart_parse(section, &msgpart) < 0) {
		*error_r = t_strdup_printf("invalid section %s", section);
		return -1;
	}
	imap_msgpart_set_decode_to_binary(msgpart);
	ret2 = imap_msgpart_open(mail, msgpart, &result);
	imap_msgpart_free(&msgpart);
	if (ret2 < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	if (result.size > AS_GROUPWARE_MSG_MAX_OBJECT_SIZE) {
		/* as good as none: it won't get smaller by retrying */
		i_stream_unref(&result.input);
		*error_r = t_strdup_printf("object too large (%"PRIuUOFF_T
					   " bytes)", result.size);
		return 0;
	}
	object = t_str_new(result.size + 1);
	while ((ret = i_stream_read_more(result.input, &data, &size)) > 0) {
		if (str_len(object) + size > AS_GROUPWARE_MSG_MAX_OBJECT_SIZE)
			break;
		str_append_data(object, data, size);
		i_stream_skip(result.input, size);
	}
	if (result.input->stream_errno != 0) {
		*error_r = t_strdup_printf("reading section %s failed: %s",
			section, i_stream_get_error(result.input));
		i_stream_unref(&result.input);
		return -1;
	}
	if (ret > 0) {
		i_stream_unref(&result.input);
		*error_r = "object too large";
		return 0;
	}
	i_stream_unref(&result.input);
	*object_r = as_draft_utf8_valid(str_c(object));
	return 1;
}
