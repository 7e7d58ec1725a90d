/*
 * The policy: what an admin wants rotated, how, and which rules the
 * inventory must follow, loaded from one YAML file into plain structs.
 * Loading checks everything it can without the network or the store and
 * reports every problem at once (policies/diag.h).  A policy that has any
 * error is never returned, so nothing acts on half a policy.
 */
#ifndef TW_POLICY_H
#define TW_POLICY_H

#include "policies/diag.h"

#include <stddef.h>
#include <stdint.h>

#define POLICY_VERSION 1
/* The largest policy file read. */
#define POLICY_MAX_BYTES (1024 * 1024)

struct tz;

/* The per-slot settings that inherit: defaults, then workspace, then token. */
enum policy_field {
	PF_NAME_TEMPLATE,
	PF_LIFETIME,
	PF_ROTATE_BEFORE,
	PF_GRACE,
	PF_JITTER,
	PF_WINDOW,
	PF_VERIFY,
	PF_DELIVER,
	PF_PAUSED,
	PF_NFIELDS
};

/* Where an effective value came from. */
enum policy_level { PL_BUILTIN, PL_DEFAULTS, PL_WORKSPACE, PL_TOKEN };

/* Returns the field's key in the file ("rotate_before"), or the level's name ("workspace"). */
const char *policy_field_name(enum policy_field f);
const char *policy_level_name(enum policy_level l);

#define POLICY_MAX_SPANS 8

/*
 * When rotations may start: on the days in `days` (bit 0 Monday .. bit 6
 * Sunday), during one of the spans of local time in zone tz.  A span whose
 * end is not after its start runs past midnight into the next day.
 */
struct policy_window {
	unsigned days;
	struct {
		int start, end; /* minutes after local midnight, 0..1440 */
	} spans[POLICY_MAX_SPANS];
	size_t nspans;
	struct tz *tz;       /* owned */
	int64_t longest_gap; /* seconds it can stay closed (core/window.h), found at load */
	int line, col;
};

enum deliver_kind { DELIVER_FILE, DELIVER_EXEC };

/* A consumer.  Paths and arguments may hold {workspace} and {slot}. */
struct policy_deliver {
	enum deliver_kind kind;
	char *path;  /* file: absolute */
	char *owner; /* file: NULL keeps the owner */
	char *group; /* file: NULL keeps the group */
	char **argv; /* exec: argv[0] absolute, NULL-terminated */
	size_t argc;
	int64_t timeout; /* exec: seconds */
	int line, col;   /* where its path or program is written */
};

struct policy_settings {
	unsigned set; /* bit f: field f is given here */
	unsigned bad; /* bit f: field f is given here but did not load */
	int line[PF_NFIELDS], col[PF_NFIELDS];
	char *name_template;
	int64_t lifetime;             /* seconds */
	int64_t rotate_before;        /* seconds, when rotate_before_pct is 0 */
	int rotate_before_pct;        /* 1..99: a share of lifetime */
	int64_t grace;                /* seconds */
	int64_t jitter;               /* seconds; each slot's share of it is stable */
	struct policy_window *window; /* NULL: any time */
	int verify;
	int paused;
	struct policy_deliver *deliver;
	size_t ndeliver;
};

struct policy_workspace;

/* A slot: one logical token that tokenwarden keeps alive under a stable name. */
struct policy_slot {
	char *name;
	struct policy_workspace *ws;
	struct policy_settings own; /* as written under the token */
	/* Effective values; pointers borrow from whichever level set them. */
	struct policy_settings eff;
	enum policy_level from[PF_NFIELDS];
	int line, col;
};

enum cred_kind { CRED_WORKSPACE, CRED_MEMBER, CRED_PERSONAL };

struct policy_workspace {
	char *name;       /* Mode workspace username */
	char *api;        /* API root */
	char *credential; /* a credential name, never the secret */
	enum cred_kind credential_kind;
	int rate_requests;   /* requests allowed ... */
	int64_t rate_window; /* ... per this many seconds, per credential */
	struct policy_settings own;
	struct policy_slot *slots;
	size_t nslots;
	int line, col;
};

enum rule_action { RULE_IGNORE, RULE_REPORT, RULE_DELETE };

struct policy_enforce {
	int64_t max_lifetime; /* seconds; 0: no limit */
	enum rule_action unmanaged;
	int64_t unmanaged_after; /* RULE_DELETE: delete unmanaged tokens older than this */
	enum rule_action expired;
	int64_t expired_after;     /* RULE_DELETE: delete this long after expiry */
	enum rule_action personal; /* RULE_IGNORE or RULE_REPORT */
};

/* Alert kinds a notify target takes. */
enum {
	NOTIFY_FAILURE = 1 << 0,
	NOTIFY_STUCK = 1 << 1,
	NOTIFY_VIOLATION = 1 << 2,
	NOTIFY_SUCCESS = 1 << 3,
};

struct policy_notify {
	char *webhook;
	unsigned events;
	int line, col;
};

/* How often rotate runs and for how long: the capacity estimate's inputs. */
struct policy_schedule {
	int64_t interval; /* seconds between runs (the timer's period) */
	/* Seconds a run may start after its time (the timer's RandomizedDelaySec):
	 * the next run may come as late as interval + random_delay from now. */
	int64_t random_delay;
	int64_t max_time;  /* seconds a run may take; 0: no limit */
	int capacity_days; /* how far ahead plan checks capacity */
	int stuck_after;   /* failed rotations in a row that make a slot stuck */
	/* A slot whose token would lapse before the next run is tried again
	 * within the run, up to `retries` more times (default 20), the first
	 * after retry_backoff seconds, doubling up to 16 times that. */
	int retries;
	int64_t retry_backoff;
	/* A slot is not tried again in a run once this many of its creates in
	 * it lost their answers: each may have made a token nobody holds.
	 * POLICY_LOST_UNBOUNDED, the default: no bound but retries'. */
	int lost_answers;
	int64_t max_clock_skew; /* seconds the server's Date may differ by; -1: off */
};

/* schedule.lost_answers that bounds nothing: more than a run's tries (retries is 20 at most). */
#define POLICY_LOST_UNBOUNDED 21

struct policy {
	char *file;
	char *store_path; /* NULL: the default */
	char *public_key; /* NULL: the default */
	/* store integrity: 1 warn, 0 refuse to rotate on tables that do not follow from the
	 * history */
	int integrity_warn;
	struct policy_settings builtin; /* the values nobody wrote */
	struct policy_settings defaults;
	struct policy_workspace *ws;
	size_t nws;
	struct policy_enforce enforce;
	struct policy_notify *notify;
	size_t nnotify;
	struct policy_schedule schedule;
	/* The proxy for API calls and webhooks, never for loopback (core/net.h); NULL: none. */
	char *proxy;
	/* Every slot, sorted by workspace name then slot name; borrowed from ws. */
	struct policy_slot **slots;
	size_t nslots;
};

/*
 * Loads and checks the policy in buf (len bytes), naming it `file` in
 * messages and reading time zones from zoneinfo (NULL: the system's).
 * Every problem goes to d.  Returns 0 with *out when there is no error
 * (warnings allowed), else -1 with *out NULL.
 */
int policy_load_buffer(const char *file, const char *buf, size_t len, const char *zoneinfo,
		       struct policy **out, struct diag_list *d);

/*
 * As policy_load_buffer, reading the file at path (at most POLICY_MAX_BYTES),
 * which is refused when someone but its owner, root or this user could
 * change it, and warned about when it names webhooks that group or others
 * can read.
 */
int policy_load_file(const char *path, const char *zoneinfo, struct policy **out,
		     struct diag_list *d);

/* Finds a slot by workspace and name (binary search); NULL when absent. */
const struct policy_slot *policy_find_slot(const struct policy *p, const char *workspace,
					   const char *slot);
/* As policy_find_slot, returning the slot's index in p->slots, or -1. */
long policy_slot_index(const struct policy *p, const char *workspace, const char *slot);

/* Returns 1 when some workspace has a slot named slot. */
int policy_has_slot_named(const struct policy *p, const char *slot);

/*
 * Returns the slot that spec names: "WORKSPACE/SLOT", or a bare slot name
 * that exactly one workspace has.  Otherwise NULL with *cause (allocated):
 * no such slot (with the nearest name), or the workspaces sharing the bare
 * name, to pick from.
 */
const struct policy_slot *policy_resolve_slot(const struct policy *p, const char *spec,
					      char **cause);

/* Returns the workspace named name, or NULL. */
const struct policy_workspace *policy_find_workspace(const struct policy *p, const char *name);

/*
 * How many different credentials p's workspaces name: above 1,
 * $TOKENWARDEN_CREDENTIAL cannot stand for any of them (core/cred.h).
 */
size_t policy_credential_count(const struct policy *p);

/* The effective rotate_before of a slot in seconds (a percentage applied to its lifetime). */
int64_t policy_rotate_before(const struct policy_settings *eff);

/*
 * Slot s's slack: how many runs in a row may fail before its token lapses.
 * The runs sure to start between its due time and its token's expiry,
 * however late each starts (schedule.random_delay) and however long its
 * window stays closed, less the one that rotates it; 0 at least (a token
 * that would expire before the next run is due at once).  Its jitter only
 * adds to this.
 */
int policy_slack(const struct policy *p, const struct policy_slot *s);

/*
 * Renders a slot's Mode-side token name for a creation at `at` (ms) into an
 * allocated string.  Returns NULL (with *cause) when the template is bad.
 */
char *policy_render_name(const struct policy_slot *s, int64_t at, char **cause);

/* Returns text (a deliver path or argument) with {workspace} and {slot} filled in for s;
 * the caller frees it. */
char *policy_render_target(const struct policy_slot *s, const char *text);

/*
 * Spells path as a delivery reaches it, in place: no empty or "." part,
 * each ".." taking back the part before it (the delivery follows no link,
 * so that part's parent is the one the kernel knows), none above "/".
 */
void policy_path_lexical(char *path);

void policy_free(struct policy *p);

#endif
