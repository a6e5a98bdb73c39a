/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "mail-storage.h"
#include "items/as-calendar.h"
#include "items/as-groupware-scan.h"
#include "items/as-freebusy.h"

struct freebusy_context {
	struct event *event;
	time_t start;
	unsigned int slot_secs;
	/* one digit per slot */
	char *slots;
	unsigned int count;
};

/* BusyStatus (MS-ASCAL) to the digit: working elsewhere is time the
   user can still be asked for, as Exchange shows it */
static char freebusy_digit(int busy_status)
{
	switch (busy_status) {
	case 0:
	case 4:
		return AS_FREEBUSY_FREE;
	case 1:
		return AS_FREEBUSY_TENTATIVE;
	case 3:
		return AS_FREEBUSY_OOF;
	default:
		return AS_FREEBUSY_BUSY;
	}
}

static bool
freebusy_add(const struct as_calendar_occurrence *occ, void *context)
{
	struct freebusy_context *ctx = context;
	char digit = freebusy_digit(occ->busy_status);
	time_t first, last;
	unsigned int i;

	if (occ->end <= occ->start)
		return TRUE;
	first = occ->start <= ctx->start ? 0 :
		(occ->start - ctx->start) / ctx->slot_secs;
	/* the slot holding the event's last second */
	last = (occ->end - 1 - ctx->start) / ctx->slot_secs;
	if (last >= (time_t)ctx->count)
		last = ctx->count - 1;
	/* the digits are ordered by strength (free < tentative < busy <
	   OOF) */
	for (i = first; (time_t)i <= last; i++) {
		if (ctx->slots[i] < digit)
			ctx->slots[i] = digit;
	}
	return TRUE;
}

static bool freebusy_item(struct mail *mail, const char *object,
			  const char *error, void *context)
{
	struct freebusy_context *ctx = context;
	time_t end = ctx->start + (time_t)ctx->count * ctx->slot_secs;

	if (object == NULL) {
		e_warning(ctx->event, "Free/busy: %s UID %u: %s",
			  mailbox_get_vname(mail->box), mail->uid, error);
	} else if (as_calendar_ical_occurrences(object, ctx->start, end,
						freebusy_add, ctx,
						&error) < 0) {
		e_warning(ctx->event, "Free/busy: %s UID %u left out: %s",
			  mailbox_get_vname(mail->box), mail->uid, error);
	}
	return TRUE;
}

int as_freebusy_merged(struct mail_user *user, struct event *event,
		       time_t start, time_t end, unsigned int slot_secs,
		       string_t *dest, const char **error_r)
{
	/* "event" and "event.default": the user's calendars */
	struct as_groupware_scan scan = {
		.folder_class = "event",
		.content_types = as_calendar_content_types,
		.item = freebusy_item,
	};
	struct freebusy_context ctx;
	int folders;

	if (slot_secs == 0 || end <= start) {
		*error_r = "empty free/busy range";
		return -1;
	}
	if ((end - start - 1) / slot_secs >= AS_FREEBUSY_MAX_SLOTS) {
		*error_r = t_strdup_printf(
			"free/busy range of more than %u slots",
			AS_FREEBUSY_MAX_SLOTS);
		return -1;
	}
	i_zero(&ctx);
	ctx.event = event;
	ctx.start = start;
	ctx.slot_secs = slot_secs;
	ctx.count = (end - start - 1) / slot_secs + 1;
	ctx.slots = t_malloc_no0(ctx.count);
	memset(ctx.slots, AS_FREEBUSY_FREE, ctx.count);

	scan.context = &ctx;
	folders = as_groupware_scan(user, event, &scan, error_r);
	if (folders < 0) {
		*error_r = t_strconcat("Free/busy: ", *error_r, NULL);
		return -1;
	}
	if (folders == 0)
		memset(ctx.slots, AS_FREEBUSY_NO_DATA, ctx.count);
	str_append_data(dest, ctx.slots, ctx.count);
	return 0;
}
