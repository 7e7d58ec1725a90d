/*
 * The per-slot settings (policy.h's enum policy_field) that defaults,
 * workspaces and tokens may all set, and how they inherit.
 */
#ifndef TW_SETTINGS_H
#define TW_SETTINGS_H

#include "policies/loader.h"
#include "policies/policy.h"

/* The setting keys in enum policy_field order, NULL-terminated. */
extern const char *const settings_keys[PF_NFIELDS + 1];

/* Fills s with the built-in values (every field set). */
void settings_builtin(struct policy_settings *s);

/*
 * Parses v, the value of setting f written at key k, into s and marks f
 * set there.  Returns 0, or -1 after a message.
 */
int settings_parse(struct loader *ld, enum policy_field f, const struct ynode *k,
		   const struct ynode *v, struct policy_settings *s);

/*
 * Makes slot->eff from the levels in order (builtin, defaults, workspace,
 * token): each field comes from the last level that sets it.
 */
void settings_merge(struct policy_slot *slot, const struct policy_settings *builtin,
		    const struct policy_settings *defaults, const struct policy_settings *ws);

/* Checks that every {placeholder} in s is one of allowed (NULL-terminated); 0, or -1. */
int settings_placeholders(const char *s, const char *const *allowed, const char **bad,
			  size_t *badlen);

/* Frees what s owns. */
void settings_free(struct policy_settings *s);

#endif
