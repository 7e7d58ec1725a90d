/*
 * audit report's document: what an auditor takes away, gathered from the
 * policy and a read-only store.  The header says where it came from and
 * whether the history holds; then the findings, the token inventory, the
 * slots and the recent history, each narrowed by the same filter.  Reads,
 * never writes; cmd/ renders it as a table, JSON, CSV or HTML.
 */
#ifndef TW_AUDIT_H
#define TW_AUDIT_H

#include "core/readers.h"
#include "core/report.h"
#include "core/slotview.h"
#include "store/events.h"

#include <stddef.h>
#include <stdint.h>

/* The version of the JSON and CSV layouts: raised when a field changes meaning or goes. */
#define AUDIT_FORMAT_VERSION 1

/* What to show; every field zero or NULL (state -1): everything. */
struct audit_filter {
	const char *workspace; /* NULL: any */
	const char *slot;      /* NULL: any */
	int state;             /* -1: the tokens that may exist on the server; else that state */
	int64_t expiring; /* ms: only tokens expiring within this of the report's time; 0: any */
	int64_t since;    /* the history from this time (ms); 0: all of it */
};

struct audit_token {
	const struct token_row *row;
	char *creator;       /* who made or imported it; NULL: before the history */
	int64_t verified_at; /* its last verification; 0: never */
	int64_t due;         /* a slot's active token: when its rotation falls due; 0: none */
};

/*
 * The history's chain checked in AUDIT_CHAIN_PARTS parts at once, each a
 * reader (core/readers.h) on a connection of its own, while the caller
 * reads on: the chain, every event hashed, is most of an audit's work.
 */
#define AUDIT_CHAIN_PARTS 2

struct audit_chain {
	struct events_part parts[AUDIT_CHAIN_PARTS];
	struct reader readers[AUDIT_CHAIN_PARTS];
};

/* Splits the chain and starts its parts; 0, or -1 with *cause (nothing started). */
int audit_chain_start(struct store *s, struct audit_chain *c, char **cause);
/*
 * Waits for c's parts and joins them as events_verify returns: 0 when the
 * chain holds (*count, head), 1 when it does not (*bad_id, *why), or -1
 * when a part failed, setting *cause (when NULL) to its cause.
 */
int audit_chain_join(struct store *s, struct audit_chain *c, int64_t *count,
		     char head[EVENTS_HEAD_MAX], int64_t *bad_id, char **why, char **cause);

/* Whether the history and the tables hold, as audit verify says it. */
struct audit_integrity {
	int intact;     /* the chain holds and the live rows, records and secrets follow from it */
	int64_t events; /* events in the chain */
	char head[EVENTS_HEAD_MAX];
	int64_t bad_event; /* with a broken chain: the first bad event; 0: the tail */
	char *broken;      /* why the chain does not hold; NULL when it does */
	int64_t rows;      /* live token rows compared with the history */
	int64_t differ;    /* of those, rows that differ from it */
	/* records of what reached whom that differ from it (inventory_verify_records) */
	int64_t records_differ;
	/* sealed secrets that differ from it (inventory_verify_secrets) */
	int64_t secrets_differ;
};

struct audit_doc {
	int64_t at;
	const struct policy *policy;
	const char *policy_path;
	char policy_sha256[65]; /* hex; "" when the file could not be read again */
	const char *store_path;
	struct audit_filter filter;
	struct audit_integrity integrity;
	struct report report;
	struct token_row *extra; /* rows read for a state report_build does not read */
	size_t nextra;
	struct audit_token *tokens; /* by expiry, then row */
	size_t ntokens;
	const struct plan_finding **findings; /* those that fail an audit, in the plan's order */
	size_t nfindings;
	struct slotview view;               /* every slot of the policy */
	const struct slotview_slot **slots; /* those shown, in the policy's order */
	size_t nslots;
};

/*
 * Gathers the document of policy p (read from policy_path) over store s
 * (at store_path) at time at, narrowed by f (copied; its strings are
 * borrowed).  Returns 0 with *d (free with audit_free), or -1 with *cause.
 */
int audit_build(struct store *s, const struct policy *p, const char *policy_path,
		const char *store_path, int64_t at, const struct audit_filter *f,
		struct audit_doc *d, char **cause);

/*
 * Calls fn for each event of the history d shows (since its filter's time
 * and up to d's, of its workspace and slot), oldest first.  Returns 0, fn's non-zero
 * value, or -1 with *cause.
 */
int audit_history(struct store *s, const struct audit_doc *d,
		  int (*fn)(const struct event *e, void *arg), void *arg, char **cause);

void audit_free(struct audit_doc *d);

/*
 * What v says of the tables against the history, for a report: "the chain
 * holds and ... follow from it", or what differs (v->broken aside, which
 * the caller says).  Allocated.
 */
char *audit_tables_text(const struct audit_integrity *v);

/* The rule a finding of kind k breaks, and what puts it right: static text. */
const char *audit_rule(enum finding_kind k);
const char *audit_fix(enum finding_kind k);

#endif
