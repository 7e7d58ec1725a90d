/*
 * The Prometheus text exposition (version 0.0.4): HELP and TYPE before each
 * family, label values escaped, every family present with all its label
 * values (0 included) so that alerts and dashboards never see a series
 * vanish.  Labels are workspace, slot, credential, kind, state and status:
 * never a token's id (each rotation would start a new series) nor any
 * secret.
 */
#include "cmd/metrics.h"

#include "cmd/msg.h"

#include "core/clock.h"
#include "core/outfile.h"
#include "core/report.h"
#include "core/slotview.h"
#include "core/xalloc.h"
#include "store/runs.h"
#include "store/tokens.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS INT64_C(1000)

/* What one exposition reads. */
struct metrics_src {
	const struct policy *p;
	struct report r;
	struct slotview v;
	struct run_row last, last_ok;
	int64_t states[TOKEN_NSTATES];
};

/* A label value escaped as the format asks: backslash, double quote and newline. */
static void
put_label(FILE *f, const char *key, const char *value, int first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", key);
	for (const char *c = value != NULL ? value : ""; *c != '\0'; c++) {
		if (*c == '\\' || *c == '"')
			fprintf(f, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A time in ms as seconds since the epoch, to the millisecond; 0 stays 0. */
static void
put_seconds(FILE *f, int64_t ms)
{
	if (ms <= 0 || ms == INT64_MAX)
		fputs(" 0\n", f);
	else
		fprintf(f, " %lld.%03lld\n", (long long)(ms / MS), (long long)(ms % MS));
}

/* name{workspace="..",slot=".."[,key=".."]}; key may be NULL. */
static void
slot_labels(FILE *f, const char *name, const struct slotview_slot *e, const char *key,
	    const char *value)
{
	fprintf(f, "%s{", name);
	put_label(f, "workspace", e->slot->ws->name, 1);
	put_label(f, "slot", e->slot->name, 0);
	if (key != NULL)
		put_label(f, key, value, 0);
	fputc('}', f);
}

/* One gauge per slot, its value from fn. */
static void
slot_gauge(FILE *f, const struct slotview *v, const char *name, const char *help,
	   long long (*fn)(const struct slotview_slot *e))
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < v->nslots; i++) {
		slot_labels(f, name, &v->slots[i], NULL, NULL);
		fprintf(f, " %lld\n", fn(&v->slots[i]));
	}
}

/* One timestamp gauge per slot, its value (ms) from fn. */
static void
slot_time(FILE *f, const struct slotview *v, const char *name, const char *help,
	  int64_t (*fn)(const struct slotview_slot *e))
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < v->nslots; i++) {
		slot_labels(f, name, &v->slots[i], NULL, NULL);
		put_seconds(f, fn(&v->slots[i]));
	}
}

static int64_t
expiry(const struct slotview_slot *e)
{
	return e->expires_at;
}

static int64_t
next_rotation(const struct slotview_slot *e)
{
	return e->next_rotation;
}

static int64_t
last_success(const struct slotview_slot *e)
{
	return e->last_success;
}

static long long
slack(const struct slotview_slot *e)
{
	return e->slack;
}

static long long
failures(const struct slotview_slot *e)
{
	return e->failures;
}

static long long
failing(const struct slotview_slot *e)
{
	return e->failures > 0;
}

static long long
stuck(const struct slotview_slot *e)
{
	return e->stuck;
}

static long long
paused(const struct slotview_slot *e)
{
	return e->slot->eff.paused != 0;
}

static long long
overdue(const struct slotview_slot *e)
{
	return e->overdue;
}

static long long
due(const struct slotview_slot *e)
{
	return e->due;
}

static void
print_slots(FILE *f, const struct slotview *v)
{
	const char *name = "tokenwarden_slot_status";

	slot_time(f, v, "tokenwarden_slot_token_expiry_timestamp_seconds",
		  "When the slot's active token expires (Unix time); 0 when it has none.", expiry);
	slot_time(f, v, "tokenwarden_slot_next_rotation_timestamp_seconds",
		  "When the slot falls due for rotation (Unix time); now when it is due.",
		  next_rotation);
	slot_time(f, v, "tokenwarden_slot_last_success_timestamp_seconds",
		  "When the slot last had a new token made active (Unix time); 0 never.",
		  last_success);
	slot_gauge(f, v, "tokenwarden_slot_slack_runs",
		   "Runs in a row that may fail before the slot's token lapses.", slack);
	slot_gauge(f, v, "tokenwarden_slot_failures",
		   "Failed rotations of the slot since its last success.", failures);
	slot_gauge(f, v, "tokenwarden_slot_failing",
		   "1 when the slot's rotation failed since its last success (stuck included).",
		   failing);
	slot_gauge(f, v, "tokenwarden_slot_stuck",
		   "1 when the slot's rotation failed schedule.stuck_after times in a row.", stuck);
	slot_gauge(f, v, "tokenwarden_slot_paused", "1 when the policy pauses the slot.", paused);
	slot_gauge(f, v, "tokenwarden_slot_overdue",
		   "1 when the slot has no working token, or will not before it expires.", overdue);
	slot_gauge(f, v, "tokenwarden_slot_due",
		   "1 when the slot's due time has come (paused or backing off or not).", due);
	family(
	    f, name, "gauge",
	    "The slot's status word (as tokenwarden status prints it): 1 for the one that holds.");
	for (size_t i = 0; i < v->nslots; i++) {
		for (int w = 0; w < SLOT_NWORDS; w++) {
			slot_labels(f, name, &v->slots[i], "status",
				    slotview_word_name((enum slot_word)w));
			fprintf(f, " %d\n", v->slots[i].word == (enum slot_word)w);
		}
	}
}

/* The last run's requests and 429s per credential, from its summary; 0 for a credential it lacks.
 */
static void
print_credentials(FILE *f, const struct metrics_src *m)
{
	static const struct {
		const char *name, *key, *help;
	} fams[] = {
	    {"tokenwarden_last_run_requests", "requests",
	     "API requests the last run sent with the credential, retries included."},
	    {"tokenwarden_last_run_throttled_requests", "throttled",
	     "Of those, the requests answered 429 Too Many Requests."},
	};
	const json_t *creds =
	    m->last.summary != NULL ? json_object_get(m->last.summary, "credentials") : NULL;

	for (size_t k = 0; k < sizeof fams / sizeof fams[0]; k++) {
		family(f, fams[k].name, "gauge", fams[k].help);
		for (size_t i = 0; i < m->p->nws; i++) {
			const char *cred = m->p->ws[i].credential;
			size_t j = 0;
			json_t *c = json_object_get(creds, cred);

			/* One series per credential, however many workspaces share it. */
			while (j < i && strcmp(m->p->ws[j].credential, cred) != 0)
				j++;
			if (j < i)
				continue;
			fprintf(f, "%s{", fams[k].name);
			put_label(f, "credential", cred, 1);
			fprintf(f, "} %lld\n",
				(long long)json_integer_value(json_object_get(c, fams[k].key)));
		}
	}
}

static void
print_runs(FILE *f, const struct metrics_src *m)
{
	family(f, "tokenwarden_last_run_start_timestamp_seconds", "gauge",
	       "When the last rotate or daemon run started (Unix time); 0 when none has.");
	fputs("tokenwarden_last_run_start_timestamp_seconds", f);
	put_seconds(f, m->last.started_at);
	family(f, "tokenwarden_last_run_end_timestamp_seconds", "gauge",
	       "When the last run ended (Unix time); 0 while it runs, or when it died.");
	fputs("tokenwarden_last_run_end_timestamp_seconds", f);
	put_seconds(f, m->last.ended_at);
	family(f, "tokenwarden_last_run_exit_status", "gauge",
	       "The last run's exit status (0 all done, 1 failed, 3 work left, ...); -1 while "
	       "it runs, when it died, or when none has.");
	fprintf(f, "tokenwarden_last_run_exit_status %d\n", m->last.id != 0 ? m->last.status : -1);
	family(f, "tokenwarden_last_successful_run_end_timestamp_seconds", "gauge",
	       "When the last run that exited 0 ended (Unix time); 0 when none has.");
	fputs("tokenwarden_last_successful_run_end_timestamp_seconds", f);
	put_seconds(f, m->last_ok.ended_at);
}

static void
print_counts(FILE *f, const struct metrics_src *m)
{
	size_t kinds[FIND_NKINDS] = {0};

	for (size_t i = 0; i < m->r.plan.nfindings; i++)
		kinds[m->r.plan.findings[i].kind]++;
	family(f, "tokenwarden_findings", "gauge",
	       "Findings of the audit (tokenwarden audit report) by kind.");
	for (int k = 0; k < FIND_NKINDS; k++) {
		fputs("tokenwarden_findings{", f);
		put_label(f, "kind", plan_finding_name((enum finding_kind)k), 1);
		fprintf(f, "} %zu\n", kinds[k]);
	}
	family(f, "tokenwarden_tokens", "gauge", "Token rows of the inventory by state.");
	for (int st = 0; st < TOKEN_NSTATES; st++) {
		fputs("tokenwarden_tokens{", f);
		put_label(f, "state", tokens_state_name((enum token_state)st), 1);
		fprintf(f, "} %lld\n", (long long)m->states[st]);
	}
	family(f, "tokenwarden_slots", "gauge", "Slots of the policy by status word.");
	for (int w = 0; w < SLOT_NWORDS; w++) {
		fputs("tokenwarden_slots{", f);
		put_label(f, "status", slotview_word_name((enum slot_word)w), 1);
		fprintf(f, "} %zu\n", m->v.by_word[w]);
	}
}

static void
print_all(FILE *f, const struct metrics_src *m, int64_t now)
{
	family(f, "tokenwarden_metrics_timestamp_seconds", "gauge",
	       "When these metrics were written (Unix time).");
	fputs("tokenwarden_metrics_timestamp_seconds", f);
	put_seconds(f, now);
	print_slots(f, &m->v);
	print_credentials(f, m);
	print_runs(f, m);
	print_counts(f, m);
}

static void
src_free(struct metrics_src *m)
{
	slotview_free(&m->v);
	report_free(&m->r);
	runs_row_free(&m->last);
	runs_row_free(&m->last_ok);
}

int
metrics_write(const char *path, struct store *s, const struct policy *p, int64_t now, char **cause)
{
	struct metrics_src m;
	struct outfile o;
	const char *own;
	int rc = -1;

	memset(&m, 0, sizeof m);
	m.p = p;
	/* Everything is read before the file is opened: a store error leaves path as it was. */
	if (report_build(s, p, now, NULL, &m.r, cause) < 0 ||
	    slotview_build(s, p, &m.r, now, &m.v, cause) < 0 ||
	    runs_last(s, &m.last, &m.last_ok, cause) < 0 ||
	    tokens_count_by_state(s, m.states, cause) < 0)
		goto out;
	if (outfile_open(&o, path, METRICS_FILE_MODE, cause) < 0) {
		rc = -2;
		goto out;
	}
	own = store_file_at(s, o.dir, o.name);
	if (own != NULL) {
		*cause = xasprintf("%s is %s: the metrics would replace it; give another path",
				   path, own);
		outfile_abort(&o);
		rc = -2;
		goto out;
	}
	print_all(o.f, &m, now);
	rc = outfile_commit(&o, cause);
out:
	src_free(&m);
	return rc;
}

void
metrics_after_run(const char *path, struct store *s, const struct policy *p)
{
	char *cause = NULL;

	if (path == NULL)
		return;
	if (metrics_write(path, s, p, clock_now_ms(), &cause) < 0)
		warnf("--metrics-textfile: %s; the run's outcome stands, but the metrics file "
		      "was not updated",
		      cause != NULL ? cause : path);
	free(cause);
}
