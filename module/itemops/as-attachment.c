/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "istream.h"
#include "ostream.h"
#include "safe-mkstemp.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "imap-msgpart.h"
#include "as-command.h"
#include "as-folders.h"
#include "items/as-body.h"
#include "itemops/as-attachment.h"

#include <unistd.h>

/* Multipart responses carry 32 bit sizes */
#define AS_ATTACHMENT_MAX_SIZE ((uoff_t)INT32_MAX)

struct attachment_ref {
	const char *folder_id;
	uint32_t uid;
	const char *section;
};

static bool section_is_valid(const char *section)
{
	const char *p;

	/* "1", "2.1.3": numbers > 0 separated by dots */
	for (p = section; *p != '\0'; ) {
		if (*p < '1' || *p > '9')
			return FALSE;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return FALSE;
	}
	return *section != '\0' && p[-1] != '.';
}

static bool
attachment_ref_parse(const char *str, struct attachment_ref *ref_r)
{
	const char *const *args = t_strsplit(str, ":");

	if (str_array_length(args) != 3 || args[0][0] == '\0' ||
	    str_to_uint32(args[1], &ref_r->uid) < 0 || ref_r->uid == 0 ||
	    !section_is_valid(args[2]))
		return FALSE;
	ref_r->folder_id = args[0];
	ref_r->section = args[2];
	return TRUE;
}

int as_attachment_parse_range(const char *str, uoff_t *first_r,
			      uoff_t *last_r)
{
	const char *p = strchr(str, '-');

	if (p == NULL ||
	    str_to_uoff(t_strdup_until(str, p), first_r) < 0 ||
	    str_to_uoff(p + 1, last_r) < 0 || *first_r > *last_r)
		return -1;
	return 0;
}

/* An unlinked file in the user's mail_temp_dir */
static int attachment_temp_fd(struct as_cmd_context *ctx, const char **error_r)
{
	string_t *path = t_str_new(128);
	int fd;

	mail_user_set_get_temp_prefix(path, ctx->mail_user->set);
	fd = safe_mkstemp_hostpid(path, 0600, (uid_t)-1, (gid_t)-1);
	if (fd == -1) {
		*error_r = t_strdup_printf("safe_mkstemp(%s) failed: %m",
					   str_c(path));
		return -1;
	}
	if (i_unlink(str_c(path)) < 0) {
		i_close_fd(&fd);
		*error_r = "Couldn't unlink the temporary file";
		return -1;
	}
	return fd;
}

static int
attachment_copy(struct as_cmd_context *ctx, struct istream *input,
		struct as_attachment *att, const char **error_r)
{
	struct ostream *output;
	int fd, ret = 0;

	fd = attachment_temp_fd(ctx, error_r);
	if (fd == -1)
		return -1;
	output = o_stream_create_fd_file(fd, 0, FALSE);
	switch (o_stream_send_istream(output, input)) {
	case OSTREAM_SEND_ISTREAM_RESULT_FINISHED:
		break;
	case OSTREAM_SEND_ISTREAM_RESULT_WAIT_INPUT:
	case OSTREAM_SEND_ISTREAM_RESULT_WAIT_OUTPUT:
		i_unreached();
	case OSTREAM_SEND_ISTREAM_RESULT_ERROR_INPUT:
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		ret = -1;
		break;
	case OSTREAM_SEND_ISTREAM_RESULT_ERROR_OUTPUT:
		*error_r = t_strdup_printf("write(temp file) failed: %s",
					   o_stream_get_error(output));
		ret = -1;
		break;
	}
	if (ret == 0 && o_stream_finish(output) < 0) {
		*error_r = t_strdup_printf("write(temp file) failed: %s",
					   o_stream_get_error(output));
		ret = -1;
	}
	att->size = output->offset;
	o_stream_destroy(&output);
	if (ret < 0) {
		i_close_fd(&fd);
		return -1;
	}
	att->input = i_stream_create_fd_autoclose(&fd, IO_BLOCK_SIZE);
	i_stream_set_name(att->input, "attachment temp file");
	return 0;
}

/* The attachment the email listed under this section, NULL if none:
   only what the device was told about can be fetched. */
static const struct as_body_attachment *
attachment_find(const struct as_body_info *info, const char *section)
{
	const struct as_body_attachment *att;

	array_foreach(&info->attachments, att) {
		if (strcmp(att->part_number, section) == 0)
			return att;
	}
	return NULL;
}

static int
attachment_read(struct as_cmd_context *ctx, struct mail *mail,
		const struct attachment_ref *ref, struct as_attachment *att_r,
		const char **error_r)
{
	const struct as_body_attachment *batt;
	struct as_body_info info;
	struct imap_msgpart *msgpart;
	struct imap_msgpart_open_result result;
	enum mail_error error;
	int ret;

	/* text bodies aren't needed: keep (almost) none of them */
	if (as_body_parse(pool_datastack_create(), mail, 1, TRUE,
			  &info, error_r) < 0)
		return -1;
	batt = attachment_find(&info, ref->section);
	if (batt == NULL) {
		*error_r = "no such attachment in the message";
		return 0;
	}
	if (imap_msgpart_parse(ref->section, &msgpart) < 0) {
		*error_r = "invalid section";
		return 0;
	}
	/* attached messages are sent as they are; other parts decoded
	   from their Content-Transfer-Encoding */
	if (strcmp(batt->content_type, "message/rfc822") != 0)
		imap_msgpart_set_decode_to_binary(msgpart);
	ret = imap_msgpart_open(mail, msgpart, &result);
	imap_msgpart_free(&msgpart);
	if (ret < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, &error);
		return error == MAIL_ERROR_EXPUNGED ? 0 : -1;
	}
	if (result.size > AS_ATTACHMENT_MAX_SIZE) {
		i_stream_unref(&result.input);
		*error_r = t_strdup_printf("attachment too large (%"PRIuUOFF_T
					   " bytes)", result.size);
		return -1;
	}
	ret = attachment_copy(ctx, result.input, att_r, error_r);
	i_stream_unref(&result.input);
	if (ret < 0)
		return -1;
	att_r->content_type = p_strdup(ctx->pool, batt->content_type);
	att_r->display_name = p_strdup(ctx->pool, batt->display_name);
	return 1;
}

int as_attachment_open(struct as_cmd_context *ctx, const char *file_reference,
		       struct as_attachment *att_r, const char **error_r)
{
	struct attachment_ref ref;
	struct as_folder_info folder;
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	int ret;

	i_zero(att_r);
	if (!attachment_ref_parse(file_reference, &ref)) {
		*error_r = "malformed FileReference";
		return 0;
	}
	ret = as_folders_lookup(ctx, ref.folder_id, &folder, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "unknown folder";
		return ret;
	}
	if (folder.noselect) {
		*error_r = "folder holds no messages";
		return 0;
	}
	if (as_folders_open(ctx, &folder, 0, &box, error_r) < 0) {
		/* deleted meanwhile */
		return 0;
	}
	t = mailbox_transaction_begin(box, 0, "activesync attachment");
	mail = mail_alloc(t, 0, NULL);
	if (!mail_set_uid(mail, ref.uid)) {
		*error_r = "no such message";
		ret = 0;
	} else {
		ret = attachment_read(ctx, mail, &ref, att_r, error_r);
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	mailbox_free(&box);
	return ret;
}
