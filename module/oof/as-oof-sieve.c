/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "mail-user.h"
#include "oof/as-oof-sieve.h"

#include "sieve.h"
#include "sieve-script.h"
#include "sieve-storage.h"
#include "sieve-error.h"

/* Which script is active:
   A user may already have an active Sieve script of their own (filters
   set up over ManageSieve or a webmail). Sieve allows only one active
   script, so the reply must be combined with it. We make our script the
   active one and let it include the user's previous script by name
   (include :personal :optional), and never edit the user's script:
   - the user's script stays byte for byte what they uploaded, and every
     change they make to it over ManageSieve still takes effect;
   - switching OOF off activates their script again, exactly as before;
   - if they activate another script over ManageSieve, OOF simply stops
     (Get then answers disabled) instead of a half-edited script of
     theirs carrying our rules;
   - a script they delete later is skipped (:optional), delivery goes on.
   The reverse (inserting an include of ours into their script) would
   rewrite text we do not own and could break their script for good.
   One limit: a script of theirs that also calls vacation makes Sieve
   fail with duplicate replies while OOF is on (delivery then keeps the
   message, as Sieve's runtime error handling does). */

struct as_oof_sieve {
	struct mail_user *user;
	struct sieve_instance *svinst;
	struct sieve_storage *storage;
};

static const char *as_oof_sieve_get_setting(void *context,
					    const char *identifier)
{
	struct as_oof_sieve *sv = context;

	return mail_user_plugin_getenv(sv->user, identifier);
}

static const struct sieve_callbacks as_oof_sieve_callbacks = {
	.get_setting = as_oof_sieve_get_setting,
};

static const char *as_oof_sieve_storage_error(struct as_oof_sieve *sv)
{
	return sieve_storage_get_last_error(sv->storage, NULL);
}

static int
as_oof_sieve_open(struct mail_user *user, struct event *event,
		  struct as_oof_sieve *sv, const char **error_r)
{
	struct sieve_environment svenv;
	enum sieve_error error;

	i_zero(sv);
	sv->user = user;
	i_zero(&svenv);
	svenv.username = user->username;
	(void)mail_user_get_home(user, &svenv.home_dir);
	svenv.base_dir = user->set->base_dir;
	svenv.event_parent = event;
	svenv.flags = SIEVE_FLAG_HOME_RELATIVE;
	sv->svinst = sieve_init(&svenv, &as_oof_sieve_callbacks, sv,
				user->mail_debug);
	if (sv->svinst == NULL) {
		*error_r = "Sieve could not be initialized";
		return -1;
	}
	sv->storage = sieve_storage_create_main(sv->svinst, user,
		SIEVE_STORAGE_FLAG_READWRITE, &error);
	if (sv->storage == NULL) {
		switch (error) {
		case SIEVE_ERROR_NOT_POSSIBLE:
			*error_r = "Sieve is disabled for this user";
			break;
		case SIEVE_ERROR_NOT_FOUND:
			*error_r = "The user has no personal Sieve storage";
			break;
		default:
			*error_r = "Failed to open the Sieve storage";
			break;
		}
		sieve_deinit(&sv->svinst);
		return -1;
	}
	return 0;
}

static void as_oof_sieve_close(struct as_oof_sieve *sv)
{
	sieve_storage_unref(&sv->storage);
	sieve_deinit(&sv->svinst);
}

/* Returns 1 and the text, 0 if there is no such script, -1 on error */
static int
as_oof_sieve_read_script(struct as_oof_sieve *sv, const char *name,
			 const char **text_r, const char **error_r)
{
	struct sieve_script *script;
	struct istream *input;
	enum sieve_error error;
	const unsigned char *data;
	size_t size;
	string_t *text;
	ssize_t ret;
	int result = 1;

	script = sieve_storage_open_script(sv->storage, name, &error);
	if (script == NULL) {
		if (error == SIEVE_ERROR_NOT_FOUND)
			return 0;
		*error_r = t_strdup_printf("Failed to open script %s: %s",
					   name, as_oof_sieve_storage_error(sv));
		return -1;
	}
	if (sieve_script_get_stream(script, &input, &error) < 0) {
		*error_r = t_strdup_printf("Failed to read script %s: %s",
					   name, as_oof_sieve_storage_error(sv));
		sieve_script_unref(&script);
		return -1;
	}
	text = t_str_new(1024);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (str_len(text) + size > AS_OOF_SCRIPT_MAX_SIZE) {
			/* too large to be ours: read no further */
			break;
		}
		str_append_data(text, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("Failed to read script %s: %s",
					   name, i_stream_get_error(input));
		result = -1;
	}
	sieve_script_unref(&script);
	*text_r = str_c(text);
	return result;
}

static int
as_oof_sieve_active_name(struct as_oof_sieve *sv, const char **name_r,
			 const char **error_r)
{
	int ret;

	*name_r = NULL;
	ret = sieve_storage_active_script_get_name(sv->storage, name_r);
	if (ret < 0) {
		*error_r = t_strdup_printf("Failed to find the active "
			"script: %s", as_oof_sieve_storage_error(sv));
		return -1;
	}
	if (ret == 0)
		*name_r = NULL;
	else
		*name_r = t_strdup(*name_r);
	return 0;
}

static int
as_oof_sieve_do_get(struct as_oof_sieve *sv, struct event *event,
		    struct as_oof *oof_r, const char **error_r)
{
	const char *active, *text;
	int ret;

	i_zero(oof_r);
	if (as_oof_sieve_active_name(sv, &active, error_r) < 0)
		return -1;
	ret = as_oof_sieve_read_script(sv, AS_OOF_SCRIPT_NAME, &text,
				       error_r);
	if (ret <= 0)
		return ret;
	if (as_oof_script_parse(text, oof_r) == 0) {
		/* replaced by the user with something else: answer what we
		   can tell, that a reply of theirs is active or not */
		e_info(event, "Sieve script "AS_OOF_SCRIPT_NAME" was changed "
		       "outside ActiveSync; its out-of-office values are "
		       "unknown");
		i_zero(oof_r);
		oof_r->state = null_strcmp(active, AS_OOF_SCRIPT_NAME) == 0 ?
			AS_OOF_STATE_GLOBAL : AS_OOF_STATE_DISABLED;
		return 0;
	}
	if (null_strcmp(active, AS_OOF_SCRIPT_NAME) != 0)
		oof_r->state = AS_OOF_STATE_DISABLED;
	return 0;
}

int as_oof_sieve_get(struct mail_user *user, struct event *event,
		     struct as_oof *oof_r, const char **error_r)
{
	struct as_oof_sieve sv;
	int ret;

	if (as_oof_sieve_open(user, event, &sv, error_r) < 0)
		return -1;
	ret = as_oof_sieve_do_get(&sv, event, oof_r, error_r);
	as_oof_sieve_close(&sv);
	return ret;
}

/* Saves text as our script after Sieve compiled it: a script that does
   not compile never replaces a working one */
static int
as_oof_sieve_save(struct as_oof_sieve *sv, const char *text,
		  const char **error_r)
{
	struct sieve_storage_save_context *save_ctx;
	struct sieve_error_handler *ehandler;
	struct sieve_script *script;
	struct sieve_binary *sbin;
	struct istream *input;
	enum sieve_error error;
	ssize_t ret;
	int result = 0;

	input = i_stream_create_from_data(text, strlen(text));
	save_ctx = sieve_storage_save_init(sv->storage, AS_OOF_SCRIPT_NAME,
					   input);
	if (save_ctx == NULL) {
		*error_r = t_strdup_printf("Failed to save the script: %s",
					   as_oof_sieve_storage_error(sv));
		i_stream_unref(&input);
		return -1;
	}
	/* the data stream has all of it buffered already: save first */
	do {
		if (sieve_storage_save_continue(save_ctx) < 0) {
			result = -1;
			break;
		}
	} while ((ret = i_stream_read(input)) > 0 || ret == -2);
	if (result == 0 && sieve_storage_save_finish(save_ctx) < 0)
		result = -1;
	if (result < 0) {
		*error_r = t_strdup_printf("Failed to save the script: %s",
					   as_oof_sieve_storage_error(sv));
		sieve_storage_save_cancel(&save_ctx);
		i_stream_unref(&input);
		return -1;
	}

	script = sieve_storage_save_get_tempscript(save_ctx);
	if (script == NULL) {
		*error_r = t_strdup_printf("Failed to save the script: %s",
					   as_oof_sieve_storage_error(sv));
		sieve_storage_save_cancel(&save_ctx);
		i_stream_unref(&input);
		return -1;
	}
	ehandler = sieve_master_ehandler_create(sv->svinst, 0);
	sbin = sieve_compile_script(script, ehandler,
				    SIEVE_COMPILE_FLAG_NOGLOBAL |
				    SIEVE_COMPILE_FLAG_UPLOADED |
				    SIEVE_COMPILE_FLAG_ACTIVATED, &error);
	sieve_error_handler_unref(&ehandler);
	if (sbin == NULL) {
		*error_r = "The script did not compile (see the errors "
			"logged before)";
		sieve_storage_save_cancel(&save_ctx);
		i_stream_unref(&input);
		return -1;
	}
	sieve_close(&sbin);
	if (sieve_storage_save_commit(&save_ctx) < 0) {
		*error_r = t_strdup_printf("Failed to save the script: %s",
					   as_oof_sieve_storage_error(sv));
		result = -1;
	}
	i_stream_unref(&input);
	return result;
}

static int
as_oof_sieve_activate(struct as_oof_sieve *sv, const char *name,
		      const char **error_r)
{
	struct sieve_script *script;
	enum sieve_error error;
	int ret;

	script = sieve_storage_open_script(sv->storage, name, &error);
	if (script == NULL) {
		if (error == SIEVE_ERROR_NOT_FOUND)
			return 0;
		*error_r = t_strdup_printf("Failed to open script %s: %s",
					   name, as_oof_sieve_storage_error(sv));
		return -1;
	}
	ret = sieve_script_activate(script, (time_t)-1);
	if (ret < 0) {
		*error_r = t_strdup_printf("Failed to activate script %s: %s",
					   name, as_oof_sieve_storage_error(sv));
	}
	sieve_script_unref(&script);
	return ret < 0 ? -1 : 1;
}

static int
as_oof_sieve_do_set(struct as_oof_sieve *sv, struct event *event,
		    const struct as_oof *_oof, const char *domain,
		    const char *const *known_senders, const char **error_r)
{
	struct as_oof oof = *_oof, old;
	const char *active, *text;
	string_t *script;
	bool ours_active;
	int ret;

	if (as_oof_sieve_active_name(sv, &active, error_r) < 0)
		return -1;
	ours_active = null_strcmp(active, AS_OOF_SCRIPT_NAME) == 0;
	if (!ours_active) {
		/* the user's script (or none) goes after the reply */
		oof.previous_script = active;
	} else {
		/* ours again: keep the script it already runs */
		ret = as_oof_sieve_read_script(sv, AS_OOF_SCRIPT_NAME, &text,
					       error_r);
		if (ret < 0)
			return -1;
		if (ret > 0 && as_oof_script_parse(text, &old) > 0)
			oof.previous_script = old.previous_script;
		else
			oof.previous_script = NULL;
	}

	script = t_str_new(1024);
	as_oof_script_write(&oof, domain, known_senders, script);
	if (as_oof_sieve_save(sv, str_c(script), error_r) < 0)
		return -1;

	if (oof.state != AS_OOF_STATE_DISABLED) {
		if (ours_active)
			return 0;
		ret = as_oof_sieve_activate(sv, AS_OOF_SCRIPT_NAME, error_r);
		if (ret == 0) {
			*error_r = "The saved script disappeared";
			return -1;
		}
		if (ret > 0) {
			e_debug(event, "Sieve script "AS_OOF_SCRIPT_NAME
				" activated (runs %s after it)",
				active == NULL ? "nothing" : active);
		}
		return ret < 0 ? -1 : 0;
	}

	/* off: what was active before ours is active again */
	if (!ours_active)
		return 0;
	if (oof.previous_script != NULL) {
		ret = as_oof_sieve_activate(sv, oof.previous_script, error_r);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			e_debug(event, "Sieve script %s active again",
				oof.previous_script);
			return 0;
		}
		/* deleted meanwhile: nothing to give the activation back */
	}
	if (sieve_storage_deactivate(sv->storage, (time_t)-1) < 0) {
		*error_r = t_strdup_printf("Failed to deactivate the script: %s",
					   as_oof_sieve_storage_error(sv));
		return -1;
	}
	return 0;
}

int as_oof_sieve_set(struct mail_user *user, struct event *event,
		     const struct as_oof *oof, const char *domain,
		     const char *const *known_senders, const char **error_r)
{
	struct as_oof_sieve sv;
	int ret;

	if (as_oof_sieve_open(user, event, &sv, error_r) < 0)
		return -1;
	ret = as_oof_sieve_do_set(&sv, event, oof, domain, known_senders,
				  error_r);
	as_oof_sieve_close(&sv);
	return ret;
}
