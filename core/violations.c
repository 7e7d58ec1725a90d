/* Alerts for violations of the policy; see violations.h. */
#include "core/violations.h"

#include "core/notify.h"
#include "core/plan.h"
#include "core/xalloc.h"
#include "store/alerts.h"

#include <stdlib.h>
#include <string.h>

/* The most violations one message lists; the rest are counted. */
#define LISTED 10

int
violations_kind(int finding_kind)
{
	switch (finding_kind) {
	case FIND_OVERDUE:
	case FIND_MAX_LIFETIME:
	case FIND_UNMANAGED:
	case FIND_EXPIRED:
	case FIND_PERSONAL:
	case FIND_CAPACITY:
	case FIND_FAILING:
		return 1;
	default:
		return 0;
	}
}

/* The name a finding is remembered by: its kind, workspace, slot and token. */
static char *
key_of(const struct plan_finding *f)
{
	if (f->token != NULL)
		return xasprintf("%s %s/%s %s", plan_finding_name(f->kind), f->workspace,
				 f->slot != NULL ? f->slot : "-", f->token);
	return xasprintf("%s %s/%s #%lld", plan_finding_name(f->kind), f->workspace,
			 f->slot != NULL ? f->slot : "-", (long long)f->row);
}

/* One message for the due violations v[0..n), each new when last[i] is 0. */
static char *
message(const struct plan_finding *const *v, const int64_t *last, size_t n)
{
	char *text = xasprintf("%zu violation%s of the policy", n, n == 1 ? "" : "s"), *more;
	size_t i;

	for (i = 0; i < n && i < LISTED; i++) {
		const struct plan_finding *f = v[i];
		char *says = plan_finding_text(f);

		more =
		    xasprintf("%s\n%s%s %s/%s%s%s: %s", text,
			      last[i] == 0 ? "" : "still: ", plan_finding_name(f->kind),
			      f->workspace, f->slot != NULL ? f->slot : "-",
			      f->token != NULL ? " " : "", f->token != NULL ? f->token : "", says);
		free(says);
		free(text);
		text = more;
	}
	if (n > i) {
		more = xasprintf("%s\nand %zu more; see tokenwarden audit report", text, n - i);
		free(text);
		text = more;
	}
	return text;
}

/* Swaps entries i and j of the three parallel arrays. */
static void
swap(const struct plan_finding **v, char **keys, int64_t *last, size_t i, size_t j)
{
	const struct plan_finding *f = v[i];
	char *k = keys[i];
	int64_t t = last[i];

	v[i] = v[j];
	keys[i] = keys[j];
	last[i] = last[j];
	v[j] = f;
	keys[j] = k;
	last[j] = t;
}

int
violations_alert(struct store *s, const struct policy *p, const struct plan *pl, int64_t now,
		 const struct notify_how *how, char **unsent, char **cause)
{
	struct notify_event ev = {NOTIFY_VIOLATION, NULL, NULL, NULL};
	const struct plan_finding **v;
	char **keys, *text;
	int64_t *last;
	size_t n = 0, ndue = 0;
	int rc = -1;

	*unsent = NULL;
	if (!notify_wants(p, NOTIFY_VIOLATION))
		return 0;
	v = xcalloc(pl->nfindings + 1, sizeof *v);
	keys = xcalloc(pl->nfindings + 1, sizeof *keys);
	last = xcalloc(pl->nfindings + 1, sizeof *last);
	for (size_t i = 0; i < pl->nfindings; i++) {
		if (!violations_kind((int)pl->findings[i].kind))
			continue;
		v[n] = &pl->findings[i];
		keys[n++] = key_of(&pl->findings[i]);
	}
	if (alerts_last(s, (const char *const *)keys, n, last, cause) < 0)
		goto out;
	/* The due ones (new, or last alerted long enough ago) move to the front, in order. */
	for (size_t i = 0; i < n; i++)
		if (last[i] == 0 || now - last[i] >= VIOLATIONS_REMIND_MS)
			swap(v, keys, last, ndue++, i);
	rc = 0;
	if (ndue == 0)
		goto out;
	if (ndue == 1) {
		ev.workspace = v[0]->workspace;
		ev.slot = v[0]->slot;
	}
	text = message(v, last, ndue);
	ev.text = text;
	/* A target that failed leaves them due, for the next run to send. */
	if (notify_send(p, how, &ev, unsent) == 0)
		rc = alerts_sent(s, (const char *const *)keys, ndue, now, cause) < 0 ? -1
										     : (int)ndue;
	free(text);
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(v);
	free(last);
	return rc;
}

int
violations_remind(const struct policy *p, const char *workspace, const char *text, int64_t last,
		  int64_t now, const struct notify_how *how, char **unsent)
{
	struct notify_event ev = {NOTIFY_FAILURE, workspace, NULL, NULL};
	char *says;
	int failed;

	*unsent = NULL;
	if (last != 0 && now - last < VIOLATIONS_REMIND_MS)
		return 0;
	says = last != 0 ? xstrjoin("still: ", text) : xstrdup(text);
	ev.text = says;
	failed = notify_send(p, how, &ev, unsent);
	free(says);
	return failed == 0 ? 1 : -1;
}

int
violations_lasting(struct store *s, const struct policy *p, const char *key, const char *workspace,
		   const char *text, int64_t now, const struct notify_how *how, char **unsent,
		   char **cause)
{
	int64_t last;
	int rc;

	*unsent = NULL;
	if (alerts_last_one(s, key, &last, cause) < 0)
		return -1;
	rc = violations_remind(p, workspace, text, last, now, how, unsent);
	if (rc <= 0)
		return 0;
	return alerts_sent(s, &key, 1, now, cause) < 0 ? -1 : 1;
}
