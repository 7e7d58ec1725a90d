/* audit report's document; see audit.h. */
#include "core/audit.h"

#include "core/readers.h"
#include "core/xalloc.h"
#include "store/inventory.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

static int
wanted_place(const struct audit_filter *f, const char *ws, const char *slot)
{
	if (f->workspace != NULL && (ws == NULL || strcmp(f->workspace, ws) != 0))
		return 0;
	return f->slot == NULL || (slot != NULL && strcmp(f->slot, slot) == 0);
}

/* Hex SHA-256 of the file at path into out, or "" when it cannot be read. */
static void
file_sha256(const char *path, char out[65])
{
	crypto_hash_sha256_state h;
	unsigned char buf[8192], md[crypto_hash_sha256_BYTES];
	FILE *f = path != NULL ? fopen(path, "rb") : NULL;
	size_t n;

	out[0] = '\0';
	if (f == NULL)
		return;
	crypto_hash_sha256_init(&h);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		crypto_hash_sha256_update(&h, buf, n);
	if (!ferror(f)) {
		crypto_hash_sha256_final(&h, md);
		sodium_bin2hex(out, 65, md, sizeof md);
	}
	fclose(f);
}

static int
count_diff(const struct inventory_diff *diff, void *arg)
{
	(void)diff;
	(*(int64_t *)arg)++;
	return 0;
}

/* One part of the chain, as a reader. */
static int
check_chain(struct store *s, void *arg, char **cause)
{
	return events_verify_part(s, arg, cause);
}

int
audit_chain_start(struct store *s, struct audit_chain *c, char **cause)
{
	if (events_split(s, c->parts, AUDIT_CHAIN_PARTS, cause) < 0)
		return -1;
	for (size_t i = 0; i < AUDIT_CHAIN_PARTS; i++) {
		c->readers[i] = (struct reader){.fn = check_chain, .arg = &c->parts[i]};
		reader_start(s, &c->readers[i]);
	}
	return 0;
}

int
audit_chain_join(struct store *s, struct audit_chain *c, int64_t *count, char head[EVENTS_HEAD_MAX],
		 int64_t *bad_id, char **why, char **cause)
{
	int failed = 0, rc = -1;

	for (size_t i = 0; i < AUDIT_CHAIN_PARTS; i++)
		failed |= reader_join(s, &c->readers[i], cause) < 0;
	if (!failed)
		rc = events_verify_join(c->parts, AUDIT_CHAIN_PARTS, count, head, bad_id, why);
	for (size_t i = 0; i < AUDIT_CHAIN_PARTS; i++)
		FREE_NULL(&c->parts[i].why);
	return rc;
}

/*
 * The rows rotate acts on against their last events (all rows: audit
 * verify), the records of what reached whom, and the sealed secrets.
 */
static int
check_rows(struct store *s, void *arg, char **cause)
{
	struct audit_integrity *v = arg;

	if (inventory_verify(s, INVENTORY_LIVE, count_diff, &v->differ, &v->rows, cause) < 0 ||
	    inventory_verify_records(s, count_diff, &v->records_differ, cause) < 0)
		return -1;
	return inventory_verify_secrets(s, count_diff, &v->secrets_differ, cause) < 0 ? -1 : 0;
}

/* What the history says of every token row, by row id (read_facts). */
struct facts {
	struct event_row_facts *by_row;
	int64_t n;
};

static int
read_facts(struct store *s, void *arg, char **cause)
{
	struct facts *f = arg;

	return events_row_facts(s, &f->by_row, &f->n, cause);
}

static int
token_sort(const void *a, const void *b)
{
	const struct token_row *x = ((const struct audit_token *)a)->row;
	const struct token_row *y = ((const struct audit_token *)b)->row;

	if (x->expires_at != y->expires_at)
		return x->expires_at < y->expires_at ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int
wanted_token(const struct audit_doc *d, const struct token_row *r)
{
	const struct audit_filter *f = &d->filter;

	if (!wanted_place(f, r->workspace, r->slot))
		return 0;
	if (f->state >= 0 && (int)r->state != f->state)
		return 0;
	return f->expiring == 0 || r->expires_at <= d->at + f->expiring;
}

/* The rows of the filter's state: report_build's when it reads that state, else the store's. */
static int
source_rows(struct store *s, struct audit_doc *d, const struct token_row **rows, size_t *n,
	    char **cause)
{
	struct token_filter tf = {.state = d->filter.state};
	enum token_state st = (enum token_state)d->filter.state;

	*rows = d->report.rows;
	*n = d->report.nrows;
	if (d->filter.state < 0 ||
	    (st != TOKEN_DELETED && st != TOKEN_FAILED && st != TOKEN_REVOKED))
		return 0;
	tf.workspace = d->filter.workspace;
	tf.slot = d->filter.slot;
	if (tokens_list(s, &tf, &d->extra, &d->nextra, cause) < 0)
		return -1;
	*rows = d->extra;
	*n = d->nextra;
	return 0;
}

/* Each listed token's creator, last verification and, a slot's active one, next rotation. */
static int
gather_tokens(struct store *s, struct audit_doc *d, struct facts *facts, char **cause)
{
	const struct token_row *rows;
	int64_t *due = xcalloc(d->report.nrows + 1, sizeof *due);
	size_t n;

	/* The slots' active tokens are report rows: their next rotation, by index (one array). */
	assert(d->report.more == NULL);
	for (size_t i = 0; i < d->view.nslots; i++)
		if (d->view.slots[i].active != NULL)
			due[d->view.slots[i].active - d->report.rows] =
			    d->view.slots[i].next_rotation;
	if (source_rows(s, d, &rows, &n, cause) < 0) {
		free(due);
		return -1;
	}
	d->tokens = xcalloc(n + 1, sizeof *d->tokens);
	for (size_t i = 0; i < n; i++) {
		struct audit_token *t = &d->tokens[d->ntokens];
		int64_t id = rows[i].row;

		if (!wanted_token(d, &rows[i]))
			continue;
		t->row = &rows[i];
		if (id > 0 && id < facts->n) {
			t->creator = facts->by_row[id].creator;
			facts->by_row[id].creator = NULL;
			t->verified_at = facts->by_row[id].verified_at;
		}
		if (rows == d->report.rows)
			t->due = due[i];
		d->ntokens++;
	}
	qsort(d->tokens, d->ntokens, sizeof *d->tokens, token_sort);
	free(due);
	return 0;
}

/* The slots d shows, in the policy's order. */
static void
pick_slots(struct audit_doc *d)
{
	d->slots = xcalloc(d->view.nslots + 1, sizeof *d->slots);
	for (size_t i = 0; i < d->view.nslots; i++) {
		const struct slotview_slot *v = &d->view.slots[i];

		if (wanted_place(&d->filter, v->slot->ws->name, v->slot->name))
			d->slots[d->nslots++] = v;
	}
}

static void
pick_findings(struct audit_doc *d)
{
	const struct plan *pl = &d->report.plan;

	d->findings = xcalloc(pl->nfindings + 1, sizeof *d->findings);
	for (size_t i = 0; i < pl->nfindings; i++) {
		const struct plan_finding *f = &pl->findings[i];

		/* A create another process is making right now is no finding of an audit. */
		if (f->kind != FIND_IN_FLIGHT && wanted_place(&d->filter, f->workspace, f->slot))
			d->findings[d->nfindings++] = f;
	}
}

/*
 * The report's reading: the chain (audit_chain_start) and the live rows'
 * check, each on readers, while this thread reads the inventory and the
 * history's facts.
 */
int
audit_build(struct store *s, const struct policy *p, const char *policy_path,
	    const char *store_path, int64_t at, const struct audit_filter *f, struct audit_doc *d,
	    char **cause)
{
	struct facts facts = {0};
	struct audit_chain chain;
	struct reader rows = {.fn = check_rows, .arg = &d->integrity};
	char *why = NULL;
	int rc, checked;

	memset(d, 0, sizeof *d);
	d->at = at;
	d->policy = p;
	d->policy_path = policy_path;
	d->store_path = store_path;
	d->filter = *f;
	if (audit_chain_start(s, &chain, cause) < 0)
		return -1;
	reader_start(s, &rows);
	file_sha256(policy_path, d->policy_sha256);
	rc = report_build(s, p, at, NULL, &d->report, cause) < 0 ||
		     slotview_build(s, p, &d->report, at, &d->view, cause) < 0 ||
		     read_facts(s, &facts, cause) < 0
		 ? -1
		 : 0;
	/*
	 * Joined whatever happened; their cause only matters when all else went
	 * well.  A chain that does not hold is a finding of the report (broken),
	 * not a failure; nor are rows that differ (the rows' check counts them).
	 */
	checked = reader_join(s, &rows, &why) < 0 ? -1 : 0;
	if (audit_chain_join(s, &chain, &d->integrity.events, d->integrity.head,
			     &d->integrity.bad_event, &d->integrity.broken, &why) < 0)
		checked = -1;
	d->integrity.intact = d->integrity.broken == NULL && d->integrity.differ == 0 &&
			      d->integrity.records_differ == 0 && d->integrity.secrets_differ == 0;
	if (rc == 0 && checked < 0) {
		rc = -1;
		*cause = why;
		why = NULL;
	}
	free(why);
	if (rc == 0 && gather_tokens(s, d, &facts, cause) < 0)
		rc = -1;
	if (rc == 0) {
		pick_slots(d);
		pick_findings(d);
	}
	for (int64_t i = 0; i < facts.n; i++)
		free(facts.by_row[i].creator);
	free(facts.by_row);
	return rc;
}

int
audit_history(struct store *s, const struct audit_doc *d,
	      int (*fn)(const struct event *e, void *arg), void *arg, char **cause)
{
	struct event_filter ef = {
	    .since = d->filter.since,
	    .until = d->at + 1, /* as of the report's time, as all else */
	    .workspace = d->filter.workspace,
	    .slot = d->filter.slot,
	};

	return events_list(s, &ef, fn, arg, cause);
}

void
audit_free(struct audit_doc *d)
{
	for (size_t i = 0; i < d->ntokens; i++)
		free(d->tokens[i].creator);
	free(d->tokens);
	free(d->findings);
	free(d->slots);
	slotview_free(&d->view);
	free(d->integrity.broken);
	tokens_free(d->extra, d->nextra);
	report_free(&d->report);
	memset(d, 0, sizeof *d);
}

static const struct {
	const char *rule, *fix;
} advice[FIND_NKINDS] = {
    [FIND_OVERDUE] = {"every slot has a working token, replaced before it expires",
		      "run 'tokenwarden doctor', put right what it names, then 'tokenwarden "
		      "rotate'"},
    [FIND_MAX_LIFETIME] = {"enforce max_lifetime: no token lives longer",
			   "rotate its slot, or delete it with 'tokenwarden token delete'"},
    [FIND_UNMANAGED] = {"enforce unmanaged: every live token belongs to a slot",
			"give it a slot in the policy and 'tokenwarden token import' it, or "
			"delete it with 'tokenwarden token delete'"},
    [FIND_EXPIRED] = {"enforce expired: no token past its expiry stays on the server",
		      "delete it with 'tokenwarden token delete'"},
    [FIND_UNKNOWN] = {"the outcome of every create is known",
		      "find it on the server by its name and import or delete it; it lapses "
		      "by itself at its expiry"},
    [FIND_IN_FLIGHT] = {"a create is being made right now", "none: it is not a finding"},
    [FIND_PAUSED] = {"a paused slot is not left due",
		     "unpause it in the policy, or rotate it by hand with 'tokenwarden rotate "
		     "--force'"},
    [FIND_PERSONAL] = {"workspaces use a workspace or member credential, not a personal one",
		       "make a workspace credential in Mode and name it in the policy"},
    [FIND_CAPACITY] = {"the request budget rotates every token before its deadline",
		       "raise the workspace's rate, spread rotate_before, or run more often"},
    [FIND_STUCK] = {"no slot fails schedule.stuck_after runs in a row",
		    "read its last error with 'tokenwarden audit log --slot', put it right, "
		    "then 'tokenwarden rotate --force'"},
    [FIND_FAILING] = {"every slot's rotation succeeds",
		      "read its last error with 'tokenwarden audit log --slot' and put it "
		      "right before the token expires"},
    [FIND_CLOCK] = {"the host's clock agrees with the server's",
		    "set the clock right (NTP); runs leave the workspace alone until then"},
    [FIND_HELD] = {"a replaced token is deleted once its grace is over",
		   "let the slot it waits for rotate ('tokenwarden plan' says when and why), "
		   "or 'tokenwarden rotate --force' that slot"},
};

const char *
audit_rule(enum finding_kind k)
{
	return k < FIND_NKINDS ? advice[k].rule : "?";
}

const char *
audit_fix(enum finding_kind k)
{
	return k < FIND_NKINDS ? advice[k].fix : "?";
}

/* list (taken) with item (taken) added as the k-th of n: "A", "A and B", "A, B and C". */
static char *
list_add(char *list, int k, int n, char *item)
{
	char *longer = xasprintf("%s%s%s", list, k == 0 ? "" : k + 1 < n ? ", " : " and ", item);

	free(list);
	free(item);
	return longer;
}

char *
audit_tables_text(const struct audit_integrity *v)
{
	int n = (v->differ != 0) + (v->records_differ != 0) + (v->secrets_differ != 0), k = 0;
	char *list, *text;

	if (n == 0)
		return xasprintf("the chain holds and all %" PRId64 " live token rows, the "
				 "records of the tokens consumers hold and the sealed secrets "
				 "follow from it",
				 v->rows);
	/* What differs, the rows first: "A, B and C differ from the history". */
	list = xstrdup("");
	if (v->differ != 0)
		list = list_add(
		    list, k++, n,
		    xasprintf("%" PRId64 " of %" PRId64 " live token rows", v->differ, v->rows));
	if (v->records_differ != 0)
		list = list_add(list, k++, n,
				xasprintf("%" PRId64 " record%s of the tokens consumers hold",
					  v->records_differ, v->records_differ == 1 ? "" : "s"));
	if (v->secrets_differ != 0)
		list = list_add(list, k++, n,
				xasprintf("%" PRId64 " sealed secret%s", v->secrets_differ,
					  v->secrets_differ == 1 ? "" : "s"));
	text =
	    xasprintf("%s %s from the history", list,
		      n == 1 && v->differ + v->records_differ + v->secrets_differ == 1 ? "differs"
										       : "differ");
	free(list);
	return text;
}
