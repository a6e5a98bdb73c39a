#ifndef AS_BODY_PREFS_H
#define AS_BODY_PREFS_H

/* What a device asks of item bodies (AirSyncBase:BodyPreference and
   the 12.x truncation forms). Sync, ItemOperations and Search parse it
   (module/sync/as-sync-options.c); every item class reads it. */

struct wbxml_writer;

#define AS_MAX_BODY_PREFS 4
/* No truncation requested */
#define AS_TRUNCATION_NONE ((uoff_t)-1)

/* One AirSyncBase:BodyPreference */
struct as_body_pref {
	unsigned int type;		/* enum as_body_type */
	uoff_t truncation_size;		/* AS_TRUNCATION_NONE if absent */
	bool all_or_none;
	unsigned int preview;		/* 14.0+: preview characters, 0 = none */
};

struct as_body_options {
	unsigned int mime_support;	/* 0 never, 1 S/MIME only, 2 always */
	bool have_mime_support;
	/* 12.x forms: AirSync:MIMETruncation / Truncation as sizes */
	uoff_t mime_truncation;
	uoff_t truncation;
	struct as_body_pref prefs[AS_MAX_BODY_PREFS];
	unsigned int pref_count;
};

void as_body_options_init(struct as_body_options *opts_r);

/* Write <AirSyncBase:Body> for an item whose body is plain text (the
   note, the contact's or task's notes): Type 1, or HTML (Type 2, the
   text escaped) when the device prefers HTML and not plain text,
   truncated at a character boundary as the preference says. */
void as_body_write_text(struct wbxml_writer *w, const char *text,
			const struct as_body_options *opts);

#endif
