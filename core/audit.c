/* audit report's document; see audit.h. */
#include "core/audit.h"

#include "core/xalloc.h"
#include "store/inventory.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The policy's slots sorted by workspace and name, to find a row's slot by bisection. */
struct slot_index {
	struct audit_slot *all; /* every slot of the policy, by (workspace, name) */
	size_t n;
};

static int
slot_cmp(const char *ws, const char *name, const struct audit_slot *b)
{
	int c = strcmp(ws, b->slot->ws->name);

	return c != 0 ? c : strcmp(name, b->slot->name);
}

static int
slot_sort(const void *a, const void *b)
{
	const struct audit_slot *x = a;

	return slot_cmp(x->slot->ws->name, x->slot->name, b);
}

static struct audit_slot *
slot_find(const struct slot_index *ix, const char *ws, const char *name)
{
	size_t lo = 0, hi = ix->n;

	if (ws == NULL || name == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = slot_cmp(ws, name, &ix->all[mid]);

		if (c == 0)
			return &ix->all[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
last_success(const char *ws, const char *slot, int64_t at, void *arg)
{
	struct audit_slot *a = slot_find(arg, ws, slot);

	if (a != NULL)
		a->last_success = at;
	return 0;
}

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

/* The chain whole, and the rows rotate acts on against it (all rows: audit verify). */
static int
integrity(struct store *s, struct audit_integrity *v, char **cause)
{
	memset(v, 0, sizeof *v);
	char *why = NULL;
	int rc = events_verify(s, &v->events, v->head, &v->bad_event, &why);

	if (rc < 0) {
		*cause = why;
		return -1;
	}
	v->broken = why;
	if (inventory_verify(s, INVENTORY_LIVE, count_diff, &v->differ, &v->rows, cause) < 0)
		return -1;
	v->intact = rc == 0 && v->differ == 0;
	return 0;
}

/*
 * The integrity check, on a connection of its own in a thread of its own:
 * it reads the whole history, which takes as long as the rest of the
 * report, and a second core does it meanwhile.
 */
struct checker {
	struct store *s;
	struct audit_integrity *v;
	pthread_t thread;
	int started, rc;
	char *cause;
};

static void *
checker_main(void *arg)
{
	struct checker *c = arg;

	c->rc = integrity(c->s, c->v, &c->cause);
	return NULL;
}

static void
checker_start(struct store *s, struct audit_integrity *v, struct checker *c)
{
	char *cause = NULL;

	memset(c, 0, sizeof *c);
	c->v = v;
	if (store_open_another(s, &c->s, &cause) < 0) {
		free(cause); /* checker_join checks on s instead */
		c->s = NULL;
		return;
	}
	c->started = pthread_create(&c->thread, NULL, checker_main, c) == 0;
}

/* Waits for the check (or does it on s when it could not start); returns 0 or -1. */
static int
checker_join(struct store *s, struct checker *c, char **cause)
{
	int rc;

	if (c->started)
		pthread_join(c->thread, NULL);
	else
		c->rc = integrity(s, c->v, &c->cause);
	store_close(c->s);
	rc = c->rc;
	if (rc < 0)
		*cause = c->cause;
	else
		free(c->cause);
	memset(c, 0, sizeof *c);
	return rc;
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

static int
gather_tokens(struct store *s, struct audit_doc *d, const struct slot_index *ix, char **cause)
{
	const struct token_row *rows;
	struct event_row_facts *facts = NULL;
	int64_t *ids = NULL;
	size_t n;
	int rc = -1;

	if (source_rows(s, d, &rows, &n, cause) < 0)
		return -1;
	d->tokens = xcalloc(n + 1, sizeof *d->tokens);
	for (size_t i = 0; i < n; i++)
		if (wanted_token(d, &rows[i]))
			d->tokens[d->ntokens++].row = &rows[i];
	ids = xcalloc(d->ntokens + 1, sizeof *ids);
	facts = xcalloc(d->ntokens + 1, sizeof *facts);
	/* The rows come in row order (report_build's and tokens_list's). */
	for (size_t i = 0; i < d->ntokens; i++)
		ids[i] = d->tokens[i].row->row;
	if (events_row_facts(s, ids, d->ntokens, facts, cause) < 0)
		goto out;
	for (size_t i = 0; i < d->ntokens; i++) {
		struct audit_token *t = &d->tokens[i];
		struct audit_slot *a = slot_find(ix, t->row->workspace, t->row->slot);

		t->creator = facts[i].creator;
		facts[i].creator = NULL;
		t->verified_at = facts[i].verified_at;
		if (a != NULL && a->active == t->row)
			t->due = a->next_due;
	}
	qsort(d->tokens, d->ntokens, sizeof *d->tokens, token_sort);
	rc = 0;
out:
	for (size_t i = 0; i < d->ntokens; i++)
		free(facts[i].creator);
	free(facts);
	free(ids);
	return rc;
}

/* Each slot's active token, last activation and next due time, in ix (sorted). */
static int
gather_slots(struct store *s, struct audit_doc *d, struct slot_index *ix, char **cause)
{
	const struct policy *p = d->policy;

	ix->n = p->nslots;
	ix->all = xcalloc(p->nslots + 1, sizeof *ix->all);
	for (size_t i = 0; i < p->nslots; i++)
		ix->all[i].slot = p->slots[i];
	qsort(ix->all, ix->n, sizeof *ix->all, slot_sort);
	for (size_t i = 0; i < d->report.nrows; i++) {
		const struct token_row *r = &d->report.rows[i];
		struct audit_slot *a =
		    r->state == TOKEN_ACTIVE ? slot_find(ix, r->workspace, r->slot) : NULL;

		if (a != NULL)
			a->active = r;
	}
	if (events_last_by_slot(s, "token.active", last_success, ix, cause) != 0)
		return -1;
	for (size_t i = 0; i < ix->n; i++) {
		struct audit_slot *a = &ix->all[i];

		if (a->slot->eff.paused)
			a->next_due = 0;
		else if (a->active == NULL)
			a->next_due = d->at;
		else
			a->next_due = plan_due(p, a->slot, a->active->expires_at);
	}
	return 0;
}

/* The slots d shows, in the policy's order. */
static void
pick_slots(struct audit_doc *d, const struct slot_index *ix)
{
	const struct policy *p = d->policy;

	d->slots = xcalloc(p->nslots + 1, sizeof *d->slots);
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *ps = p->slots[i];
		const struct audit_slot *a = slot_find(ix, ps->ws->name, ps->name);

		if (a != NULL && wanted_place(&d->filter, ps->ws->name, ps->name))
			d->slots[d->nslots++] = *a;
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

int
audit_build(struct store *s, const struct policy *p, const char *policy_path,
	    const char *store_path, int64_t at, const struct audit_filter *f, struct audit_doc *d,
	    char **cause)
{
	struct slot_index ix = {0};
	struct checker check;
	char *why = NULL;
	int rc, checked;

	memset(d, 0, sizeof *d);
	d->at = at;
	d->policy = p;
	d->policy_path = policy_path;
	d->store_path = store_path;
	d->filter = *f;
	checker_start(s, &d->integrity, &check);
	file_sha256(policy_path, d->policy_sha256);
	rc = report_build(s, p, at, NULL, &d->report, cause) < 0 ||
		     gather_slots(s, d, &ix, cause) < 0 || gather_tokens(s, d, &ix, cause) < 0
		 ? -1
		 : 0;
	/* Joined whatever happened; its cause only matters when all else went well. */
	checked = checker_join(s, &check, &why);
	if (rc == 0 && checked < 0) {
		rc = -1;
		*cause = why;
		why = NULL;
	}
	free(why);
	if (rc == 0) {
		pick_slots(d, &ix);
		pick_findings(d);
	}
	free(ix.all);
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
