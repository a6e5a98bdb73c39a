#ifndef DOVEADM_ACTIVESYNC_H
#define DOVEADM_ACTIVESYNC_H

#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"

struct as_store;

/* Each command group (doveadm-activesync-cmd-<group>.c) registers its
   commands; the plugin's init calls these. */
void doveadm_activesync_cmds_device_register(void);
void doveadm_activesync_cmds_policy_register(void);
void doveadm_activesync_cmds_rule_register(void);

/* Register cmds[0..count-1] ("activesync <group> <verb>"). */
void doveadm_activesync_register(struct doveadm_cmd_ver2 *cmds,
				 unsigned int count);

/* What a command prints: the formatter it defaults to and its headers */
struct doveadm_activesync_output {
	const char *type;	/* DOVEADM_PRINT_TYPE_* */
	void (*headers)(void);
};

/* Register per-user commands (a "user" parameter, -A and -S among the
   parameters, see DOVEADM_ACTIVESYNC_USER_PARAMS). With -A, a wildcard
   -u, -S or when run by a doveadm server they are doveadm mail
   commands: doveadm iterates the userdb, proxies to the user's backend
   or to the doveadm server named by -S, and runs cmd->cmd once per
   user with "user" set to that user. A plain -u (or none) works on the
   local state store directly, also for users gone from the userdb.
   outputs[i] is cmds[i]'s output, NULL if it prints nothing. */
void doveadm_activesync_register_user_cmds(
	struct doveadm_cmd_ver2 *cmds,
	const struct doveadm_activesync_output *const *outputs,
	unsigned int count);
#define DOVEADM_ACTIVESYNC_USER_PARAMS \
	DOVEADM_CMD_PARAM('A', "all-users", CMD_PARAM_BOOL, 0) \
	DOVEADM_CMD_PARAM('S', "socket-path", CMD_PARAM_STR, 0) \
	DOVEADM_CMD_PARAM('u', "user", CMD_PARAM_STR, 0)
#define DOVEADM_ACTIVESYNC_USER_USAGE "[-A | -u <user>] [-S <socket>] "

/* Start the output: the formatter (unless -f chose one) and the
   headers, once per doveadm command however many users it runs for. */
void doveadm_activesync_print_start(
	const struct doveadm_activesync_output *output);
/* TRUE while a per-user command runs for each of many users (-A, a
   wildcard): a user without the named device is skipped, not an error */
extern bool doveadm_activesync_iterating;

/* Free what the registration keeps (plugin deinit) */
void doveadm_activesync_deinit(void);

/* Add the activesync_* settings to what doveadm reads (plugin init). */
void doveadm_activesync_settings_init(void);
/* The state directory the service uses (activesync_state_dir, default
   <state_dir>/activesync). */
const char *doveadm_activesync_state_dir(void);

/* Open the service's state store. On failure the error is logged,
   doveadm's exit code set and -1 returned. A missing state directory
   is not created (the service creates it with its own owner): it is
   reported as "no devices yet" with returning 0 and *store_r NULL. */
int doveadm_activesync_store_open(struct as_store **store_r);
void doveadm_activesync_store_close(struct as_store **store);

/* End a Ping the device holds, in whichever service process: it comes
   back at once and meets what the admin changed (a wipe, a block).
   Failures are logged only. */
void doveadm_activesync_wake_device(const char *user, const char *device_id);

/* Fail the command: log and set the exit code. */
void doveadm_activesync_fail(int exit_code, const char *fmt, ...)
	ATTR_FORMAT(2, 3);

/* "2026-12-06T15:04:05Z", "" for 0 */
const char *doveadm_activesync_time_str(time_t t);

#endif
