#ifndef ACTIVESYNC_PLUGIN_H
#define ACTIVESYNC_PLUGIN_H

struct module;

extern const char *activesync_plugin_dependencies[];

void activesync_plugin_init(struct module *module);
void activesync_plugin_deinit(void);

#endif
