/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "items/as-item.h"
#include "items/as-contact.h"
#include "items/as-task.h"
#include "items/as-calendar.h"

/* The item classes Sync serves, by folder class. Journal folders have
   no converter yet: they are listed as mail folders (see as-folders.c),
   and a folder typed so anyway gets no items. */
static const struct as_item_class *const as_item_classes[] = {
	&as_item_class_email,
	&as_item_class_note,
	&as_item_class_contact,
	&as_item_class_task,
	&as_item_class_calendar,
};

const struct as_item_class *
as_item_class_get(const struct as_folder_info *folder)
{
	enum as_folder_class folder_class = as_folder_class(folder);
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_item_classes); i++) {
		if (as_item_classes[i]->folder_class == folder_class)
			return as_item_classes[i];
	}
	return NULL;
}
