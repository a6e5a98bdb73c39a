#ifndef AS_ITEM_H
#define AS_ITEM_H

/* One class of items (email, note, contact, task, and later calendar):
   how Sync, ItemOperations, Search and MoveItems read, write and save
   the items of a folder. The folder's class picks the struct
   (as_item_class_get()); commands never test the class themselves.
   Adding a class is one file set and one entry in items/as-item.c. */

#include "mail-types.h"
#include "as-folders.h"

struct mail;
struct mailbox;
struct mailbox_header_lookup_ctx;
struct wbxml_writer;
struct wbxml_node;
struct as_store;
struct as_body_options;

struct as_item_params {
	unsigned int version;		/* enum as_protocol_version */
	const char *folder_id;		/* for attachment FileReferences */
	const struct as_body_options *body;
	/* Multipart ItemOperations responses: the body's data is not
	   written inline; <itemoperations:Part>body_part</Part> replaces
	   <Data> (as_email_body_data() gives the data). 0 = inline. */
	unsigned int body_part;
	/* Item properties (flag dates) from the state store; NULL store or
	   box_guid = none (the flag is written from \Flagged alone). */
	struct as_store *store;
	const char *user;
	const unsigned char *box_guid;	/* guid_128_t of the mailbox */
	/* The collection's <Supported> (MS-ASCMD 2.2.3.168) for a device's
	   Change: elements not listed are ghosted, kept when omitted */
	bool have_supported;
	const unsigned int *supported;
	unsigned int supported_count;
};

/* An item as read, owned by its class */
struct as_item;

/* What a device's Add or Change brings */
struct as_item_build {
	const struct wbxml_node *data;	/* <ApplicationData> */
	struct mail *base;		/* the message replaced, NULL on Add */
	const char *from;		/* the user's address */
	const struct as_item_params *params;
	/* 16.x: the Change or Delete is of one occurrence of base (its
	   airsyncbase:InstanceId); data is NULL for a Delete */
	const char *instance_id;
	bool delete_instance;
};

struct as_item_class {
	const char *name;		/* AirSync:Class */
	enum as_folder_class folder_class;

	/* for mail_alloc(): what read() looks at, fetched at once */
	enum mail_fetch_field wanted_fields;
	/* NULL: no headers wanted; unref with mailbox_header_lookup_unref() */
	struct mailbox_header_lookup_ctx *
		(*wanted_headers)(struct mailbox *box);

	/* Read an item for Sync Add/Fetch, ItemOperations or Search, from
	   the data stack. -1 with error_r: unreadable for now (nothing is
	   written for it). Reading is apart from writing so that a failed
	   item leaves no half-written element behind. */
	int (*read)(struct mail *mail, const struct as_item_params *params,
		    struct as_item **item_r, const char **error_r);
	/* Its elements: the children of <ApplicationData> (Sync) or of
	   <Properties> (ItemOperations, Search) */
	void (*write)(struct wbxml_writer *w, const struct as_item *item);
	/* The body's data for a multipart ItemOperations response; NULL or
	   FALSE: the body is written inline */
	bool (*body_data)(const struct as_item *item, const void **data_r,
			  size_t *size_r);
	/* A server-side change: <ApplicationData> with what can change
	   alone (mail: read state, flag, categories). NULL: a Change is the
	   whole item again, read and written like an Add. */
	void (*write_change)(struct wbxml_writer *w, struct mail *mail,
			     const struct as_item_params *params);

	/* The message a device's Add or Change makes (an edit replaces the
	   message). NULL: devices don't create items of the class (mail
	   arrives by delivery; 16.x drafts are Sync's own business).
	   keywords_r: IMAP keywords for the new message (categories).
	   -1 with error_r: the device's data is refused (Status 6). */
	int (*build)(const struct as_item_build *build, string_t *msg,
		     const char *const **keywords_r, const char **error_r);

	/* The item's own UID (vCard / iCalendar UID) as read, NULL if it
	   has none. NULL function: the class has no item UIDs. A message
	   replaced by another one with the same item UID (an edit over
	   IMAP) reaches a device as a Change of the item it has. */
	const char *(*item_uid)(const struct as_item *item);

	/* A FilterType that selects by content (8: incomplete tasks only):
	   TRUE if the item is left out. NULL: no such FilterType. */
	bool (*filtered_out)(const struct as_item *item,
			     unsigned int filter_type);

	/* FilterType and the server's mail age limit select items by date */
	bool date_filter;
	/* With date_filter: is the item (read with wanted_fields) in range
	   from since on? NULL: the message's received date says it
	   (calendar items say it by their dates and occurrences). */
	bool (*in_range)(struct mail *mail, time_t since);
	/* A device's Change only touches flags/properties (mail): FALSE
	   means it carries the whole item and replaces the message */
	bool change_in_place;
	/* build() takes a Change or Delete of one occurrence (InstanceId):
	   the message is replaced, not deleted */
	bool instances;
};

/* The class of a folder's items; NULL if Sync serves none (no-select
   parents, classes without a converter yet). */
const struct as_item_class *
as_item_class_get(const struct as_folder_info *folder);

extern const struct as_item_class as_item_class_email;
extern const struct as_item_class as_item_class_note;

#endif
