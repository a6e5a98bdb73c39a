#ifndef CMD_SETTINGS_OOF_H
#define CMD_SETTINGS_OOF_H

struct as_cmd_context;
struct wbxml_node;

/* Settings/Status and the Status of each setting (MS-ASCMD 2.2.3.177.14) */
enum settings_status {
	SETTINGS_STATUS_SUCCESS = 1,
	SETTINGS_STATUS_PROTOCOL_ERROR = 2,
	SETTINGS_STATUS_ACCESS_DENIED = 3,
	SETTINGS_STATUS_SERVER_UNAVAILABLE = 4,
	SETTINGS_STATUS_INVALID_ARGUMENTS = 5,
	SETTINGS_STATUS_CONFLICTING_ARGUMENTS = 6,
	SETTINGS_STATUS_DENIED_BY_POLICY = 7,
};

/* Answers one Oof element (Get or Set) with its <Oof> response */
void settings_oof(struct as_cmd_context *ctx, const struct wbxml_node *node);

#endif
