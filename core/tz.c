/*
 * Time zones from TZif files (RFC 8536) and their POSIX TZ footers.  A zone
 * is read once into an immutable struct; lookups are then pure arithmetic,
 * so the planner can work in named zones without localtime() or $TZ.
 */
#include "core/tz.h"

#include "core/timefmt.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_FILE_MAX (1024 * 1024)
#define TZ_TRANS_MAX 10000
#define TZ_TYPES_MAX 256
#define TZ_FOOTER_MAX 255
#define TZ_HEADER_LEN 44
/* RFC 8536: a UT offset lies within -25:59:59..+25:59:59. */
#define TZ_UTOFF_MAX 93599
/* The Gregorian calendar, weekdays included, repeats every 400 years. */
#define CYCLE_SECS (146097LL * 86400)
#define YEAR_SECS 31556952LL

enum date_kind { DATE_JULIAN, DATE_ZERO, DATE_MONTH };

/* A transition date of a POSIX TZ rule: Jn, n or Mm.w.d, and /time. */
struct tz_date {
	enum date_kind kind;
	int n, m, w, d;
	int32_t secs; /* local time of day, -167h..167h */
};

/* A POSIX TZ string such as CET-1CEST,M3.5.0,M10.5.0/3; offsets east positive. */
struct tz_rule {
	int32_t std_off, dst_off;
	int has_dst;
	struct tz_date start, end; /* start in standard time, end in daylight time */
};

struct tz {
	char *name;
	int64_t *trans;     /* ascending transition instants */
	unsigned char *idx; /* the type each transition switches to */
	size_t ntrans;
	int32_t *offs; /* each type's UT offset */
	size_t ntypes;
	int has_rule; /* rule applies from the last transition on */
	struct tz_rule rule;
	int32_t min_off, max_off; /* bounds of every offset the zone can have */
	size_t extra_refs;        /* holders besides the first (tz_ref) */
};

struct rd {
	const unsigned char *p;
	size_t left;
};

struct hdr {
	int version; /* 1, or the digit of later versions */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

/* Never written: tz_utc() hands it out and tz_free ignores it. */
static char utc_name[] = "UTC";
static int32_t utc_offs[1];
static struct tz utc_zone = {
    .name = utc_name, .offs = utc_offs, .ntypes = 1, .min_off = 0, .max_off = 0};

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);

	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Returns the next n bytes of r and advances past them, or NULL when fewer remain. */
static const unsigned char *
take(struct rd *r, uint64_t n)
{
	const unsigned char *p = r->p;

	if (n > r->left)
		return NULL;
	r->p += n;
	r->left -= (size_t)n;
	return p;
}

static int64_t
sat_sub(int64_t a, int32_t b)
{
	if (b < 0 && a > INT64_MAX + b)
		return INT64_MAX;
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	return a - b;
}

static int64_t
days_from_civil(int year, int month, int day)
{
	return timefmt_from_civil(year, month, day, 0, 0, 0) / 86400;
}

/* ---- POSIX TZ strings (RFC 8536 section 3.3, with the version 3 extensions) ---- */

/* Reads a number of at most 3 digits in min..max. */
static int
parse_num(const char **pp, int min, int max, int *out)
{
	const char *p = *pp;
	int v = 0;

	if (!is_digit(*p))
		return -1;
	while (is_digit(*p) && p - *pp < 3)
		v = v * 10 + (*p++ - '0');
	if (is_digit(*p) || v < min || v > max)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* Reads [+-]hh[:mm[:ss]] with hh at most max_h into seconds. */
static int
parse_hms(const char **pp, int max_h, int32_t *secs)
{
	static const int scale[3] = {3600, 60, 1};
	const char *p = *pp;
	int sign = 1, v, sum = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (int i = 0; i < 3 && (i == 0 || *p == ':'); i++) {
		p += i > 0;
		if (parse_num(&p, 0, i == 0 ? max_h : 59, &v) < 0)
			return -1;
		sum += v * scale[i];
	}
	*pp = p;
	*secs = sign * sum;
	return 0;
}

/* Skips a zone abbreviation: three or more letters, or <[A-Za-z0-9+-]{3,}>. */
static int
parse_abbr(const char **pp)
{
	const char *p = *pp;
	int quoted = *p == '<', n = 0;

	if (quoted)
		p++;
	while (is_alpha(*p) || (quoted && (is_digit(*p) || *p == '+' || *p == '-'))) {
		p++;
		n++;
	}
	if (quoted && *p++ != '>')
		return -1;
	if (n < 3)
		return -1;
	*pp = p;
	return 0;
}

/* Reads Jn, n or Mm.w.d, then an optional /time (default 02:00). */
static int
parse_date(const char **pp, struct tz_date *d)
{
	const char *p = *pp;

	memset(d, 0, sizeof *d);
	if (*p == 'J') {
		p++;
		d->kind = DATE_JULIAN;
		if (parse_num(&p, 1, 365, &d->n) < 0)
			return -1;
	} else if (*p == 'M') {
		p++;
		d->kind = DATE_MONTH;
		if (parse_num(&p, 1, 12, &d->m) < 0 || *p++ != '.' ||
		    parse_num(&p, 1, 5, &d->w) < 0 || *p++ != '.' || parse_num(&p, 0, 6, &d->d) < 0)
			return -1;
	} else {
		d->kind = DATE_ZERO;
		if (parse_num(&p, 0, 365, &d->n) < 0)
			return -1;
	}
	d->secs = 2 * 3600;
	if (*p == '/') {
		p++;
		if (parse_hms(&p, 167, &d->secs) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

/* Parses a whole TZ string.  DST without a rule gets the US rule, as in tzcode. */
static int
parse_posix(const char *s, struct tz_rule *r)
{
	const char *p = s;
	int32_t off;

	memset(r, 0, sizeof *r);
	if (parse_abbr(&p) < 0 || parse_hms(&p, 24, &off) < 0)
		return -1;
	r->std_off = -off;
	if (*p == '\0')
		return 0;
	if (parse_abbr(&p) < 0)
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (parse_hms(&p, 24, &off) < 0)
			return -1;
		r->dst_off = -off;
	}
	if (*p == '\0')
		p = ",M3.2.0,M11.1.0";
	if (*p++ != ',' || parse_date(&p, &r->start) < 0 || *p++ != ',' ||
	    parse_date(&p, &r->end) < 0)
		return -1;
	return *p == '\0' ? 0 : -1;
}

/* Returns the day (since the epoch) on which d falls in year. */
static int64_t
rule_day(const struct tz_date *d, int year)
{
	int64_t first, next, wday, day;
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (d->kind == DATE_JULIAN)
		return days_from_civil(year, 1, 1) + d->n - 1 + (leap && d->n >= 60);
	if (d->kind == DATE_ZERO)
		return days_from_civil(year, 1, 1) + d->n;
	first = days_from_civil(year, d->m, 1);
	next = d->m == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, d->m + 1, 1);
	/* 1970-01-01 was a Thursday (weekday 4). */
	wday = ((first + 4) % 7 + 7) % 7;
	day = first + (d->d - wday + 7) % 7 + (d->w - 1) * 7;
	while (day >= next)
		day -= 7;
	return day;
}

/*
 * The offset the rule gives at t.  The state is that of the latest start or
 * end at or before t among the years around t; on a tie the later year's
 * start wins, so DST all year (0/0,J365/25) stays DST.
 */
static int32_t
rule_offset(const struct tz_rule *r, int64_t t)
{
	int64_t best = INT64_MIN;
	int dst = 0, year;

	if (!r->has_dst)
		return r->std_off;
	t %= CYCLE_SECS;
	if (t < 0)
		t += CYCLE_SECS;
	year = 1970 + (int)(t / YEAR_SECS);
	for (int y = year - 2; y <= year + 2; y++) {
		int64_t s = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
		int64_t e = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;

		if (s <= t && s >= best) {
			best = s;
			dst = 1;
		}
		if (e <= t && e >= best) {
			best = e;
			dst = 0;
		}
	}
	return dst ? r->dst_off : r->std_off;
}

/* ---- TZif data ---- */

static const char *
read_header(struct rd *r, struct hdr *h)
{
	const unsigned char *p;

	if (r->left < 4 || memcmp(r->p, "TZif", 4) != 0)
		return "not a TZif file";
	p = take(r, TZ_HEADER_LEN);
	if (p == NULL)
		return "truncated TZif header";
	if (p[4] != 0 && (p[4] < '2' || p[4] > '9'))
		return "unknown TZif version";
	h->version = p[4] == 0 ? 1 : p[4] - '0';
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	return NULL;
}

/* Bytes of the data block after h, with times of tsize bytes; cannot overflow. */
static uint64_t
block_len(const struct hdr *h, unsigned tsize)
{
	return (uint64_t)h->timecnt * (tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
	       (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static const char *
check_counts(const struct hdr *h, const struct rd *r, unsigned tsize)
{
	if (h->typecnt == 0 || h->typecnt > TZ_TYPES_MAX)
		return "bad count of local time types";
	if (h->timecnt > TZ_TRANS_MAX)
		return "too many transitions";
	if (h->charcnt == 0 || (h->isstdcnt != 0 && h->isstdcnt != h->typecnt) ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt))
		return "inconsistent TZif counts";
	if (h->leapcnt != 0)
		return "leap-second zones (right/...) are not supported";
	if (block_len(h, tsize) > r->left)
		return "truncated TZif data";
	return NULL;
}

/* Reads the transitions and types of a data block whose counts were checked. */
static const char *
read_block(struct rd *r, const struct hdr *h, unsigned tsize, struct tz *z)
{
	const unsigned char *times = take(r, (uint64_t)h->timecnt * tsize);
	const unsigned char *idx = take(r, h->timecnt);
	const unsigned char *types = take(r, (uint64_t)h->typecnt * 6);

	z->ntrans = h->timecnt;
	z->ntypes = h->typecnt;
	z->trans = xcalloc(z->ntrans + 1, sizeof *z->trans);
	z->idx = xcalloc(z->ntrans + 1, 1);
	z->offs = xcalloc(z->ntypes, sizeof *z->offs);
	for (size_t i = 0; i < z->ntrans; i++) {
		const unsigned char *t = times + i * tsize;

		z->trans[i] = tsize == 8 ? be64(t) : (int32_t)be32(t);
		z->idx[i] = idx[i];
		if (idx[i] >= z->ntypes)
			return "transition to a nonexistent type";
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			return "transitions out of order";
	}
	for (size_t i = 0; i < z->ntypes; i++) {
		const unsigned char *t = types + i * 6;
		int32_t off = (int32_t)be32(t);

		if (off < -TZ_UTOFF_MAX || off > TZ_UTOFF_MAX || t[4] > 1 || t[5] >= h->charcnt)
			return "bad local time type";
		z->offs[i] = off;
	}
	take(r, block_len(h, tsize) - (uint64_t)h->timecnt * (tsize + 1) - h->typecnt * 6);
	return NULL;
}

/* Reads the footer: a newline, a TZ string (possibly empty), a newline. */
static const char *
read_footer(struct rd *r, struct tz *z)
{
	const unsigned char *c = take(r, 1), *nl;
	char s[TZ_FOOTER_MAX + 1];
	size_t n;

	if (c == NULL || *c != '\n')
		return "missing TZ string footer";
	nl = memchr(r->p, '\n', r->left);
	if (nl == NULL)
		return "truncated TZ string footer";
	n = (size_t)(nl - r->p);
	if (n > TZ_FOOTER_MAX)
		return "TZ string footer too long";
	memcpy(s, r->p, n);
	s[n] = '\0';
	if (n == 0)
		return NULL;
	if (strlen(s) != n || parse_posix(s, &z->rule) < 0)
		return "bad TZ string footer";
	z->has_rule = 1;
	return NULL;
}

/* Widens the zone's offset bounds (which tz_local_to_utc relies on) to o. */
static void
widen(struct tz *z, int32_t o)
{
	z->min_off = o < z->min_off ? o : z->min_off;
	z->max_off = o > z->max_off ? o : z->max_off;
}

/* Fills z from TZif bytes; returns NULL or what is wrong. */
static const char *
parse_tzif(struct rd *r, struct tz *z)
{
	struct hdr h;
	const char *why = read_header(r, &h);
	unsigned tsize;

	if (why == NULL && h.version >= 2) {
		/* Version 2+ repeats everything with 64-bit times; the v1 block is skipped. */
		if (take(r, block_len(&h, 4)) == NULL)
			return "truncated TZif data";
		why = read_header(r, &h);
	}
	if (why != NULL)
		return why;
	tsize = h.version >= 2 ? 8 : 4;
	why = check_counts(&h, r, tsize);
	if (why == NULL)
		why = read_block(r, &h, tsize, z);
	if (why == NULL && h.version >= 2)
		why = read_footer(r, z);
	if (why != NULL)
		return why;
	z->min_off = z->max_off = z->offs[0];
	for (size_t i = 1; i < z->ntypes; i++)
		widen(z, z->offs[i]);
	if (z->has_rule) {
		widen(z, z->rule.std_off);
		widen(z, z->rule.dst_off);
	}
	return NULL;
}

int
tz_parse(const unsigned char *buf, size_t len, const char *name, struct tz **out, char **cause)
{
	struct tz *z = xcalloc(1, sizeof *z);
	struct rd r = {buf, len};
	const char *why;
	int rc = -1;

	z->name = xstrdup(name);
	why = parse_tzif(&r, z);
	if (why != NULL) {
		*cause = xasprintf("time zone '%s': %s", name, why);
		goto out;
	}
	*out = z;
	z = NULL;
	rc = 0;
out:
	tz_free(z);
	return rc;
}

/* ---- Loading ---- */

/* Returns what is wrong with name as a zone name, or NULL. */
static const char *
check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "empty";
	if (n > TZ_NAME_MAX)
		return "too long";
	if (name[0] == '/')
		return "a path, not a name such as Europe/Berlin";
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/") != n)
		return "only letters, digits, '_', '+', '-' and '/' are allowed";
	if (strstr(name, "//") != NULL || name[n - 1] == '/')
		return "empty component";
	return NULL;
}

/* Reads the whole regular file fd (at most TZ_FILE_MAX bytes). */
static int
read_all(int fd, const char *name, unsigned char **buf, size_t *len, char **cause)
{
	struct stat st;
	size_t n = 0, cap;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*cause = xasprintf("unknown time zone '%s' (not a zone file)", name);
		return -1;
	}
	if (st.st_size > TZ_FILE_MAX) {
		*cause = xasprintf("time zone '%s': file larger than %d bytes", name, TZ_FILE_MAX);
		return -1;
	}
	cap = (size_t)st.st_size + 1;
	*buf = xmalloc(cap);
	while (n < cap) {
		ssize_t r = read(fd, *buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*cause =
			    xasprintf("time zone '%s': cannot read: %s", name, strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return 0;
}

int
tz_load(const char *dir, const char *name, struct tz **out, char **cause)
{
	const char *why = check_name(name);
	unsigned char *buf = NULL;
	char *path = NULL;
	size_t len = 0;
	int fd = -1, rc = -1;

	if (why != NULL) {
		*cause = xasprintf("invalid time zone name '%.*s': %s", TZ_NAME_MAX, name, why);
		goto out;
	}
	path = xasprintf("%s/%s", dir != NULL ? dir : TZ_DIR_DEFAULT, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		/* UTC needs no data: containers often lack the tz database. */
		if (strcmp(name, "UTC") == 0) {
			*out = tz_utc();
			rc = 0;
		} else
			*cause = xasprintf("unknown time zone '%s'", name);
		goto out;
	}
	if (fd < 0) {
		*cause =
		    xasprintf("time zone '%s': cannot open %s: %s", name, path, strerror(errno));
		goto out;
	}
	if (read_all(fd, name, &buf, &len, cause) < 0)
		goto out;
	rc = tz_parse(buf, len, name, out, cause);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

/* ---- Lookups ---- */

struct tz *
tz_utc(void)
{
	return &utc_zone;
}

const char *
tz_name(const struct tz *z)
{
	return z->name;
}

int32_t
tz_offset(const struct tz *z, int64_t utc_secs)
{
	size_t lo = 0, hi = z->ntrans;

	if (z->ntrans > 0 && utc_secs < z->trans[0])
		return z->offs[0];
	if (z->ntrans == 0 || utc_secs >= z->trans[z->ntrans - 1]) {
		if (z->has_rule)
			return rule_offset(&z->rule, utc_secs);
		return z->offs[z->ntrans == 0 ? 0 : z->idx[z->ntrans - 1]];
	}
	/* trans[lo] <= utc_secs < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= utc_secs)
			lo = mid;
		else
			hi = mid;
	}
	return z->offs[z->idx[lo]];
}

/*
 * Any instant whose local time is local_secs lies in [local - max_off,
 * local - min_off].  Probing both ends gives the offsets before and after
 * the one transition such a window can hold in practice; each yields a
 * candidate, valid when the offset at the candidate is the one that made it.
 */
int64_t
tz_local_to_utc(const struct tz *z, int64_t local_secs)
{
	int32_t oa = tz_offset(z, sat_sub(local_secs, z->max_off));
	int32_t ob = tz_offset(z, sat_sub(local_secs, z->min_off));
	int64_t ta = sat_sub(local_secs, oa), tb = sat_sub(local_secs, ob);
	int va = tz_offset(z, ta) == oa, vb = tz_offset(z, tb) == ob;

	if (va && vb)
		return ta < tb ? ta : tb;
	if (vb)
		return tb;
	/* valid, or in a gap: read with the offset before it */
	return ta;
}

struct tz *
tz_ref(struct tz *z)
{
	if (z != NULL && z != &utc_zone)
		z->extra_refs++;
	return z;
}

void
tz_free(struct tz *z)
{
	if (z == NULL || z == &utc_zone)
		return;
	if (z->extra_refs > 0) {
		z->extra_refs--;
		return;
	}
	free(z->name);
	free(z->trans);
	free(z->idx);
	free(z->offs);
	free(z);
}
