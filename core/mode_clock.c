/*
 * The server's clock: reads each answer's HTTP Date header, compares it with
 * this host's clock, and refuses a create or delete while the two disagree
 * by more than mode_opts.max_skew_ms.  The requests themselves are mode.c's.
 */
#include "core/mode_priv.h"

#include "core/timefmt.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DATE_MAX 64 /* a longer Date header value is not an HTTP date */

void
mode_clock_header(struct mode_client *c, const char *line, size_t len)
{
	size_t n = strlen("Date:");
	int64_t ms;

	if (len < n || strncasecmp(line, "Date:", n) != 0)
		return;
	while (len > n && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (c->hdr_clock.state == MODE_CLOCK_NO_DATE && len - n <= DATE_MAX &&
	    mode_http_date(line + n, len - n, &ms) == 0) {
		c->hdr_clock.state = MODE_CLOCK_KNOWN;
		c->hdr_clock.server_ms = ms;
	} else {
		c->hdr_clock.state = MODE_CLOCK_BAD_DATE;
	}
}

int
mode_last_skew(const struct mode_client *c, int64_t *skew_ms)
{
	if (c->clock.state == MODE_CLOCK_NONE)
		return 0;
	if (c->clock.state != MODE_CLOCK_KNOWN)
		return -1;
	*skew_ms = c->clock.server_ms - c->clock.local_ms;
	return 1;
}

/* A reader of the bytes [p, end) of an HTTP-date. */
struct dcur {
	const char *p;
	const char *end;
};

/* Consumes text exactly (case-sensitive); returns 0 or -1. */
static int
d_lit(struct dcur *d, const char *text)
{
	size_t n = strlen(text);

	if ((size_t)(d->end - d->p) < n || memcmp(d->p, text, n) != 0)
		return -1;
	d->p += n;
	return 0;
}

/* Consumes exactly n digits into *v; returns 0 or -1. */
static int
d_num(struct dcur *d, int n, int *v)
{
	*v = 0;
	if (d->end - d->p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)d->p[i]))
			return -1;
		*v = *v * 10 + (d->p[i] - '0');
	}
	d->p += n;
	return 0;
}

/* Consumes one of count names; sets *idx.  Returns 0 or -1. */
static int
d_name(struct dcur *d, const char *const *names, int count, int *idx)
{
	for (int i = 0; i < count; i++) {
		if (d_lit(d, names[i]) == 0) {
			*idx = i;
			return 0;
		}
	}
	return -1;
}

/* Consumes HH:MM:SS. */
static int
d_time(struct dcur *d, int *h, int *mi, int *sec)
{
	return d_num(d, 2, h) < 0 || d_lit(d, ":") < 0 || d_num(d, 2, mi) < 0 ||
		       d_lit(d, ":") < 0 || d_num(d, 2, sec) < 0
		   ? -1
		   : 0;
}

static const char *const wkdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const weekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
				       "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The fields of an HTTP-date as written; mon is 0..11, wday 0 (Sunday)..6. */
struct dfields {
	int wday, day, mon, year, h, mi, sec;
};

/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
static int
d_imf(struct dcur d, struct dfields *f)
{
	return d_name(&d, wkdays, 7, &f->wday) < 0 || d_lit(&d, ", ") < 0 ||
		       d_num(&d, 2, &f->day) < 0 || d_lit(&d, " ") < 0 ||
		       d_name(&d, months, 12, &f->mon) < 0 || d_lit(&d, " ") < 0 ||
		       d_num(&d, 4, &f->year) < 0 || d_lit(&d, " ") < 0 ||
		       d_time(&d, &f->h, &f->mi, &f->sec) < 0 || d_lit(&d, " GMT") < 0 ||
		       d.p != d.end
		   ? -1
		   : 0;
}

/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
static int
d_rfc850(struct dcur d, struct dfields *f)
{
	if (d_name(&d, weekdays, 7, &f->wday) < 0 || d_lit(&d, ", ") < 0 ||
	    d_num(&d, 2, &f->day) < 0 || d_lit(&d, "-") < 0 ||
	    d_name(&d, months, 12, &f->mon) < 0 || d_lit(&d, "-") < 0 ||
	    d_num(&d, 2, &f->year) < 0 || d_lit(&d, " ") < 0 ||
	    d_time(&d, &f->h, &f->mi, &f->sec) < 0 || d_lit(&d, " GMT") < 0 || d.p != d.end)
		return -1;
	f->year += f->year >= 70 ? 1900 : 2000;
	return 0;
}

/* asctime: Sun Nov  6 08:49:37 1994 */
static int
d_asctime(struct dcur d, struct dfields *f)
{
	if (d_name(&d, wkdays, 7, &f->wday) < 0 || d_lit(&d, " ") < 0 ||
	    d_name(&d, months, 12, &f->mon) < 0 || d_lit(&d, " ") < 0)
		return -1;
	if (d_lit(&d, " ") == 0) {
		if (d_num(&d, 1, &f->day) < 0)
			return -1;
	} else if (d_num(&d, 2, &f->day) < 0) {
		return -1;
	}
	return d_lit(&d, " ") < 0 || d_time(&d, &f->h, &f->mi, &f->sec) < 0 || d_lit(&d, " ") < 0 ||
		       d_num(&d, 4, &f->year) < 0 || d.p != d.end
		   ? -1
		   : 0;
}

int
mode_http_date(const char *s, size_t len, int64_t *ms)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct dcur d = {s, s + len};
	struct dfields f;
	int leap, dim;
	int64_t secs;

	while (d.p < d.end && (*d.p == ' ' || *d.p == '\t'))
		d.p++;
	while (d.end > d.p && (d.end[-1] == ' ' || d.end[-1] == '\t'))
		d.end--;
	memset(&f, 0, sizeof f);
	if (d_imf(d, &f) < 0 && d_rfc850(d, &f) < 0 && d_asctime(d, &f) < 0)
		return -1;
	if (f.year < 1970 || f.year > 9999)
		return -1;
	leap = (f.year % 4 == 0 && f.year % 100 != 0) || f.year % 400 == 0;
	dim = mdays[f.mon] + (f.mon == 1 && leap);
	/* A leap second ends a UTC day, 23:59:60; it reads as the next day's first second. */
	if (f.day < 1 || f.day > dim || f.h > 23 || f.mi > 59 || f.sec > 60 ||
	    (f.sec == 60 && (f.h != 23 || f.mi != 59)))
		return -1;
	secs = timefmt_from_civil(f.year, f.mon + 1, f.day, f.h, f.mi, f.sec);
	/* 1970-01-01 was a Thursday: a wrong weekday means the value was not made by a clock. */
	if ((timefmt_from_civil(f.year, f.mon + 1, f.day, 0, 0, 0) / 86400 + 4) % 7 != f.wday)
		return -1;
	*ms = secs * 1000;
	return 0;
}

/*
 * Writes a span of ms for a person: 45d or 2h5m (an hour or more, to the
 * nearest minute: a Date has whole seconds), 5m10s (to the second), 250 ms.
 */
static void
span_str(int64_t ms, char buf[TIMEFMT_MAX])
{
	if (ms >= 3600000)
		timefmt_duration_str((ms + 30000) / 60000 * 60, buf);
	else if (ms >= 1000)
		timefmt_duration_str((ms + 500) / 1000, buf);
	else
		snprintf(buf, TIMEFMT_MAX, "%lld ms", (long long)ms);
}

int
mode_clock_judge(const struct mode_clock *obs, int64_t max_skew_ms, const char *what, char **cause)
{
	char server[TIMEFMT_MAX], local[TIMEFMT_MAX], apart[TIMEFMT_MAX], bound[TIMEFMT_MAX];
	int64_t skew;

	if (max_skew_ms % 1000 == 0)
		timefmt_duration_str(max_skew_ms / 1000, bound);
	else
		snprintf(bound, sizeof bound, "%lld ms", (long long)max_skew_ms);
	timefmt_mode(obs->local_ms, local);
	if (obs->state != MODE_CLOCK_KNOWN) {
		*cause = xasprintf(
		    "%s: the server sent no usable Date (%s), so its clock cannot be compared "
		    "with this host's (%s) and nothing is created or deleted; check that --api "
		    "reaches Mode's API (a proxy may drop the header); schedule.max_clock_skew "
		    "allows %s",
		    what,
		    obs->state == MODE_CLOCK_NO_DATE    ? "no Date header"
		    : obs->state == MODE_CLOCK_BAD_DATE ? "a Date header that is not an HTTP date"
							: "no answer yet",
		    local, bound);
		return MODE_ERR_CLOCK;
	}
	skew = obs->server_ms - obs->local_ms;
	if (skew <= max_skew_ms && skew >= -max_skew_ms)
		return MODE_OK;
	timefmt_mode(obs->server_ms, server);
	span_str(skew < 0 ? -skew : skew, apart);
	*cause = xasprintf("%s: the server's clock says %s and this host's says %s: %s apart, "
			   "this host %s; nothing is created or deleted on a clock the server "
			   "disagrees with: set the host clock (NTP); schedule.max_clock_skew "
			   "allows %s",
			   what, server, local, apart, skew > 0 ? "behind" : "ahead", bound);
	return MODE_ERR_CLOCK;
}

/*
 * Sends the clock probe: a GET without credentials that every server
 * answers (401 from Mode) with a Date and that changes nothing.  Returns
 * mode_perform's code; c->clock holds what the answer said.
 */
static int
probe_clock(struct mode_client *c, char **cause)
{
	struct call call = {.method = "GET"};
	struct answer a = {0};
	char *what = xasprintf("read the clock of workspace %s", c->workspace);
	int rc;

	call.what = what;
	call.url = xasprintf("%s/reports?per_page=1", c->base);
	call.auth = NULL;
	rc = mode_perform(c, &call, &a, cause);
	json_decref(a.json);
	free(call.url);
	free(what);
	return rc;
}

int
mode_clock_gate(struct mode_client *c, const struct call *call, int maybe_acted, char **cause)
{
	char *what = NULL, *why = NULL;
	int rc = MODE_OK;

	if (c->clock.state == MODE_CLOCK_NONE)
		rc = probe_clock(c, cause);
	if (rc != MODE_OK)
		goto out;
	what = xasprintf("%s: refused", call->what);
	rc = mode_clock_judge(&c->clock, c->opts.max_skew_ms, what, &why);
	if (rc != MODE_OK)
		*cause = xasprintf("%s%s", why,
				   maybe_acted ? " (an earlier attempt may have reached the server)"
					       : "");
out:
	free(why);
	free(what);
	return rc;
}

int
mode_check_clock(struct mode_client *c, int64_t *skew_ms, char **cause)
{
	char *what = NULL;
	int rc = probe_clock(c, cause);

	if (rc != MODE_OK)
		goto out;
	mode_last_skew(c, skew_ms);
	if (c->opts.max_skew_ms <= 0)
		goto out;
	what = xasprintf("workspace %s", c->workspace);
	rc = mode_clock_judge(&c->clock, c->opts.max_skew_ms, what, cause);
out:
	free(what);
	return rc;
}
