/* Alerts for violations of the policy; see violations.h. */
#include "core/violations.h"

#include "core/notify.h"
#include "core/plan.h"
#include "core/report.h"
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

/* One message for the due violations v[i] (due[i] set, new[i] when never alerted). */
static char *
message(const struct plan_finding *const *v, const int *due, const int *fresh, size_t n,
	size_t ndue)
{
	char *text = xasprintf("%zu violation%s of the policy", ndue, ndue == 1 ? "" : "s");
	size_t listed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct plan_finding *f = v[i];
		char *more;

		if (!due[i] || listed == LISTED)
			continue;
		more =
		    xasprintf("%s\n%s%s %s/%s%s%s: %s", text,
			      fresh[i] ? "" : "still: ", plan_finding_name(f->kind), f->workspace,
			      f->slot != NULL ? f->slot : "-", f->token != NULL ? " " : "",
			      f->token != NULL ? f->token : "", f->text);
		free(text);
		text = more;
		listed++;
	}
	if (ndue > listed) {
		char *more = xasprintf("%s\nand %zu more; see tokenwarden audit report", text,
				       ndue - listed);

		free(text);
		text = more;
	}
	return text;
}

/* Sends the due violations; returns how many, with *unsent when a target failed. */
static size_t
send_due(const struct policy *p, const struct plan_finding *const *v, const int *due,
	 const int *fresh, size_t n, long timeout_ms, char **unsent)
{
	struct notify_event ev = {NOTIFY_VIOLATION, NULL, NULL, NULL};
	size_t ndue = 0, first = n;
	char *text;

	for (size_t i = 0; i < n; i++)
		if (due[i] && ndue++ == 0)
			first = i;
	if (ndue == 0)
		return 0;
	if (ndue == 1) {
		ev.workspace = v[first]->workspace;
		ev.slot = v[first]->slot;
	}
	text = message(v, due, fresh, n, ndue);
	ev.text = text;
	if (notify_send(p, &ev, timeout_ms, unsent) > 0)
		ndue = 0;
	free(text);
	return ndue;
}

int
violations_alert(struct store *s, const struct policy *p, int64_t now, long timeout_ms,
		 char **unsent, char **cause)
{
	struct report r;
	const struct plan_finding **v = NULL;
	char **keys = NULL;
	int64_t *last = NULL;
	int *due = NULL, *fresh = NULL, rc = -1;
	size_t n = 0, sent;

	*unsent = NULL;
	if (!notify_wants(p, NOTIFY_VIOLATION))
		return 0;
	if (report_build(s, p, now, &r, cause) < 0)
		return -1;
	v = xcalloc(r.plan.nfindings + 1, sizeof *v);
	keys = xcalloc(r.plan.nfindings + 1, sizeof *keys);
	for (size_t i = 0; i < r.plan.nfindings; i++) {
		if (!violations_kind((int)r.plan.findings[i].kind))
			continue;
		v[n] = &r.plan.findings[i];
		keys[n++] = key_of(&r.plan.findings[i]);
	}
	last = xcalloc(n + 1, sizeof *last);
	due = xcalloc(n + 1, sizeof *due);
	fresh = xcalloc(n + 1, sizeof *fresh);
	if (alerts_last(s, (const char *const *)keys, n, last, cause) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		fresh[i] = last[i] == 0;
		due[i] = fresh[i] || now - last[i] >= VIOLATIONS_REMIND_MS;
	}
	sent = send_due(p, v, due, fresh, n, timeout_ms, unsent);
	if (sent > 0 && alerts_sent(s, (const char *const *)keys, due, n, now, cause) < 0)
		goto out;
	rc = (int)sent;
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(v);
	free(last);
	free(due);
	free(fresh);
	report_free(&r);
	return rc;
}
