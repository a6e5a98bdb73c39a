/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "base64.h"
#include "strnum.h"
#include "istream.h"
#include "wbxml.h"
#include "as-command.h"
#include "gal/as-gal.h"

#include <sys/stat.h>

/* Picture/Status (MS-ASCMD 2.2.3.167.x) */
#define GAL_PICTURE_SUCCESS 1
#define GAL_PICTURE_NONE 173
#define GAL_PICTURE_TOO_LARGE 174
#define GAL_PICTURE_LIMIT 175

const struct as_gal_picture_tags as_gal_picture_tags_gal = {
	.picture = EAS_GAL_PICTURE,
	.status = EAS_GAL_STATUS,
	.data = EAS_GAL_DATA,
};

static bool gal_picture_uint(const struct wbxml_node *picture,
			     unsigned int tag, unsigned int *value_r,
			     bool *set_r)
{
	const char *value = wbxml_node_child_text(picture, tag);

	*set_r = value != NULL;
	return value == NULL || str_to_uint(value, value_r) == 0;
}

bool as_gal_picture_parse(const struct wbxml_node *picture,
			  unsigned int max_size_tag,
			  unsigned int max_pictures_tag,
			  struct as_gal_picture_opts *opts_r)
{
	bool set;

	i_zero(opts_r);
	if (picture == NULL)
		return TRUE;
	opts_r->requested = TRUE;
	return gal_picture_uint(picture, max_size_tag, &opts_r->max_size,
				&set) &&
		gal_picture_uint(picture, max_pictures_tag,
				 &opts_r->max_pictures,
				 &opts_r->max_pictures_set);
}

/* A picture file named by the userdb: read whole, at most the size a
   contact photo may have */
static const buffer_t *
gal_picture_file(struct as_cmd_context *ctx, const char *path)
{
	struct istream *input;
	const unsigned char *data;
	buffer_t *buf;
	size_t size;
	ssize_t ret;

	input = i_stream_create_file(path, 8192);
	buf = buffer_create_dynamic(ctx->pool, 8192);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (buf->used + size > AS_GAL_MAX_PHOTO_SIZE) {
			ret = -2;
			break;
		}
		buffer_append(buf, data, size);
		i_stream_skip(input, size);
	}
	if (ret == -2) {
		e_warning(ctx->event, "GAL: picture %s is larger than %u "
			  "bytes, left out", path, AS_GAL_MAX_PHOTO_SIZE);
		buf = NULL;
	} else if (input->stream_errno != 0) {
		e_warning(ctx->event, "GAL: picture %s: %s", path,
			  i_stream_get_error(input));
		buf = NULL;
	}
	i_stream_unref(&input);
	return buf;
}

const buffer_t *as_gal_entry_photo(struct as_cmd_context *ctx,
				   const struct as_gal_entry *e)
{
	struct stat st;
	buffer_t *photo;
	const char *error;
	int ret;

	if (e->has_photo) {
		ret = as_store_gal_photo(ctx->store, ctx->pool, e, &photo,
					 &error);
		if (ret < 0)
			e_error(ctx->event, "GAL: reading a photo: %s", error);
		return ret > 0 ? photo : NULL;
	}
	if (e->picture == NULL)
		return NULL;
	/* a JPEG's base64 starts with "/9j/" too: a path only if there
	   is such a file */
	if (e->picture[0] == '/' && stat(e->picture, &st) == 0 &&
	    S_ISREG(st.st_mode))
		return gal_picture_file(ctx, e->picture);
	photo = buffer_create_dynamic(ctx->pool,
				      MAX_BASE64_DECODED_SIZE(strlen(e->picture)));
	if (base64_decode(e->picture, strlen(e->picture), NULL, photo) < 0 ||
	    photo->used == 0) {
		e_warning(ctx->event, "GAL: %s of %s is neither a path nor "
			  "base64, left out", AS_GAL_FIELD_PICTURE, e->user);
		return NULL;
	}
	return photo;
}

void as_gal_picture_write(struct wbxml_writer *w,
			  const struct as_gal_picture_tags *tags,
			  struct as_gal_picture_opts *opts,
			  const buffer_t *photo)
{
	unsigned int status = GAL_PICTURE_SUCCESS;

	if (photo == NULL || photo->used == 0)
		status = GAL_PICTURE_NONE;
	else if (opts->max_size > 0 && photo->used > opts->max_size)
		status = GAL_PICTURE_TOO_LARGE;
	else if (opts->max_pictures_set && opts->sent >= opts->max_pictures)
		status = GAL_PICTURE_LIMIT;
	wbxml_start(w, tags->picture);
	wbxml_elem_uint(w, tags->status, status);
	if (status == GAL_PICTURE_SUCCESS) {
		/* a byte array: opaque */
		wbxml_elem_opaque(w, tags->data, photo->data, photo->used);
		opts->sent++;
	}
	wbxml_end(w);
}
