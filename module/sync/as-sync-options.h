#ifndef AS_SYNC_OPTIONS_H
#define AS_SYNC_OPTIONS_H

struct wbxml_node;

#define AS_SYNC_MAX_BODY_PREFS 4
/* No truncation requested */
#define AS_TRUNCATION_NONE ((uoff_t)-1)

/* One AirSyncBase:BodyPreference */
struct as_body_pref {
	unsigned int type;		/* enum as_body_type */
	uoff_t truncation_size;		/* AS_TRUNCATION_NONE if absent */
	bool all_or_none;
	unsigned int preview;		/* 14.0+: preview characters, 0 = none */
};

/* The Options of a Sync collection. They are kept with the collection
   state, so a later Sync without Options uses the same ones. */
struct as_sync_options {
	unsigned int filter_type;	/* 0 = all ... 7 = six months */
	unsigned int conflict;		/* 0 = client wins, 1 = server wins */
	unsigned int mime_support;	/* 0 never, 1 S/MIME only, 2 always */
	bool have_mime_support;
	/* 12.x forms: AirSync:MIMETruncation / Truncation as sizes */
	uoff_t mime_truncation;
	uoff_t truncation;
	struct as_body_pref body_prefs[AS_SYNC_MAX_BODY_PREFS];
	unsigned int body_pref_count;
};

void as_sync_options_init(struct as_sync_options *opts_r);

/* Parse a collection's Options element. Returns 1 if opts were set, 0 if
   the Options are for another class (SMS in 14.x; opts untouched), or -1
   with error_r when they are malformed (the caller answers Status 4). */
int as_sync_options_parse(const struct wbxml_node *options,
			  struct as_sync_options *opts, const char **error_r);

/* Serialize for the collection state and back. Unknown keys are ignored
   when reading, so later versions can add fields. */
void as_sync_options_write(string_t *dest, const struct as_sync_options *opts);
void as_sync_options_read(const char *str, struct as_sync_options *opts_r);

bool as_sync_options_filter_equals(const struct as_sync_options *a,
				   const struct as_sync_options *b);

/* Oldest received date the filter lets through, 0 for no filter. */
time_t as_sync_filter_since(unsigned int filter_type, time_t now);

#endif
