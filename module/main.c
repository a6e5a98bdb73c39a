/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "ioloop.h"
#include "restrict-access.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "mail-storage-service.h"
#include "mail-storage-settings.h"
#include "mail-user.h"
#include "http-server.h"
#include "smtp-submit-settings.h"
#include "as-settings.h"
#include "as-store.h"
#include "as-auth.h"
#include "as-user.h"
#include "as-user-cache.h"
#include "as-client.h"
#include "push/as-notify.h"

#include <sys/resource.h>

#define AS_CLIENT_IDLE_TIMEOUT_MSECS (5 * 60 * 1000)
/* With one connection per process (mbox) an idle keep-alive connection
   holds a whole process: give it back soon, devices simply reconnect */
#define AS_CLIENT_IDLE_TIMEOUT_ONE_CLIENT_MSECS (10 * 1000)

static struct mail_storage_service_ctx *storage_service;
static struct as_service as_service_global;
static struct event_category event_category_activesync = {
	.name = "activesync",
};
static pool_t as_settings_pool;

static void client_connected(struct master_service_connection *conn)
{
	master_service_client_connection_accept(conn);
	(void)as_client_create(conn);
}

static void main_settings_read(struct as_settings *set_r, bool *mbox_r)
{
	const struct master_service_settings *master_set;
	const struct setting_parser_info *user_info;
	const struct setting_parser_context *set_parser;
	struct mail_storage_service_input input;
	void **sets;
	const char *error;
	pool_t pool;

	i_zero(&input);
	input.service = "activesync";
	/* see as_user_open() */
	input.module = AS_USER_SETTINGS_MODULE;
	input.username = "";

	pool = pool_alloconly_create("activesync service settings", 4096);
	if (mail_storage_service_read_settings(storage_service, &input, pool,
					       &user_info, &set_parser,
					       &error) < 0)
		i_fatal("%s", error);
	sets = master_service_settings_parser_get_others(master_service,
							 set_parser);
	*mbox_r = as_user_settings_use_mbox(sets[0],
		mail_user_set_get_driver_settings(user_info, sets[0],
						  MAIL_STORAGE_SET_DRIVER_NAME));
	master_set = master_service_settings_get(master_service);
	if (as_settings_read(sets[AS_USER_SET_INDEX_ACTIVESYNC], sets[0], NULL,
			     master_set->base_dir, master_set->state_dir,
			     as_settings_pool, set_r, &error) < 0)
		i_fatal("%s", error);
	pool_unref(&pool);
}

/* The state store's map is address space, so it must fit under the
   vsz_limit Dovecot's master set for this process (RLIMIT_AS). Half of
   it goes to the map at most; the rest is the process's own. */
static void main_store_limits(const struct as_settings *set,
			      struct as_store_settings *store_set)
{
	struct rlimit rl;
	uoff_t vsz_half = 0;

	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		vsz_half = rl.rlim_cur / 2;
	if (set->state_max_size != 0 &&
	    (vsz_half == 0 || set->state_max_size <= vsz_half)) {
		store_set->max_map_size = set->state_max_size;
		store_set->max_map_size_source = t_strdup_printf(
			"activesync_state_max_size = %s",
			as_store_size_str(set->state_max_size));
	} else if (vsz_half != 0) {
		store_set->max_map_size = vsz_half;
		store_set->max_map_size_source = t_strdup_printf(
			"half of service activesync { vsz_limit = %s }: "
			"raise vsz_limit", as_store_size_str(vsz_half * 2));
	}
}

static void main_init(void)
{
	/* the user's submission_host / sendmail_path for SendMail and our
	   own settings: their indexes in mail_storage_service_user_get_set()
	   are AS_USER_SET_INDEX_* */
	static const struct setting_parser_info *set_roots[] = {
		&smtp_submit_setting_parser_info,
		&as_setting_parser_info,
		NULL
	};
	struct as_settings *set;
	struct as_store_settings store_set;
	struct http_server_settings http_set;
	const char *error;
	bool mbox;

	as_settings_pool = pool_alloconly_create("activesync settings", 1024);
	storage_service = mail_storage_service_init(master_service, set_roots,
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_TEMP_PRIV_DROP |
		MAIL_STORAGE_SERVICE_FLAG_ALLOW_ROOT |
		MAIL_STORAGE_SERVICE_FLAG_ENABLE_CORE_DUMPS |
		MAIL_STORAGE_SERVICE_FLAG_NO_CHDIR |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		MAIL_STORAGE_SERVICE_FLAG_NO_IDLE_TIMEOUT);
	as_user_service_init(storage_service);

	set = p_new(as_settings_pool, struct as_settings, 1);
	main_settings_read(set, &mbox);
	if (mbox && master_service_get_client_limit(master_service) > 1) {
		/* Dovecot's mbox refuses a process serving more than one
		   client (locking). Serve like imap does: the master hands
		   this process one connection at a time and starts others,
		   up to process_limit, for the rest. Only possible before
		   master_service_init_finish(), with no client yet. */
		master_service_set_client_limit(master_service, 1);
		i_info("mbox: one device connection per process "
		       "(client_limit=1); process_limit=%u bounds the devices "
		       "served at once",
		       master_service_get_process_limit(master_service));
	}

	as_service = &as_service_global;
	as_service->set = set;
	as_service->event = event_create(NULL);
	event_add_category(as_service->event, &event_category_activesync);
	if (set->debug)
		event_set_forced_debug(as_service->event, TRUE);

	i_zero(&store_set);
	store_set.dir = set->state_dir;
	main_store_limits(set, &store_set);
	if (as_store_open(&store_set, &as_service->store, &error) < 0) {
		/* Exiting would make the master throttle restarts while it
		   keeps accepting connections that nobody answers: stay up
		   and answer every request 503 instead (as-client.c). */
		as_service->unavailable_reason = p_strdup_printf(
			as_settings_pool, "activesync_state_dir %s: %s",
			set->state_dir, error);
		e_error(as_service->event, "Can't open the state store, so "
			"every request is answered 503 until this is fixed "
			"and Dovecot reloaded: %s",
			as_service->unavailable_reason);
	}

	as_auth_init(set->auth_socket_path, set->auth_cache_ttl,
		     as_service->event);
	as_notify_init(set->notify_socket, as_service->event);

	i_zero(&http_set);
	http_set.max_client_idle_time_msecs =
		master_service_get_client_limit(master_service) == 1 ?
		AS_CLIENT_IDLE_TIMEOUT_ONE_CLIENT_MSECS :
		AS_CLIENT_IDLE_TIMEOUT_MSECS;
	/* two, so that the connection is still read while a Ping is held
	   and a client that goes away is noticed at once */
	http_set.max_pipelined_requests = 2;
	http_set.request_limits.max_payload_size = set->max_request_size;
	http_set.event = as_service->event;
	http_set.debug = set->debug;
	as_service->http_server = http_server_init(&http_set);
}

static void main_deinit(void)
{
	as_clients_destroy_all();
	/* warm users hold storage: before the storage service goes */
	as_user_cache_deinit();
	as_notify_deinit();
	http_server_deinit(&as_service->http_server);
	as_auth_deinit();
	as_store_close(&as_service->store);
	event_unref(&as_service->event);
	mail_storage_service_deinit(&storage_service);
	pool_unref(&as_settings_pool);
}

int main(int argc, char *argv[])
{
	enum master_service_flags service_flags =
		MASTER_SERVICE_FLAG_KEEP_CONFIG_OPEN;

	master_service = master_service_init("activesync", service_flags,
					     &argc, &argv, "");
	if (master_getopt(master_service) > 0)
		return FATAL_DEFAULT;
	master_service_init_log(master_service);

	restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, NULL);
	restrict_access_allow_coredumps(TRUE);

	main_init();
	master_service_init_finish(master_service);
	master_service_run(master_service, client_connected);
	main_deinit();
	master_service_deinit(&master_service);
	return 0;
}
