/*
 * audit report's formats: the terminal table, JSON, CSV (one table per
 * file) and a self-contained HTML page.  Each writes core/audit.h's
 * document to f, reading the history from s as it goes.
 */
#ifndef TW_AUDIT_RENDER_H
#define TW_AUDIT_RENDER_H

#include "core/audit.h"
#include "core/outbuf.h"
#include "core/timefmt.h"

#include <jansson.h>
#include <stdio.h>

/* An inventory line's columns, as JSON keys and CSV heads. */
enum audit_col {
	AC_WORKSPACE,
	AC_SLOT,
	AC_TOKEN,
	AC_NAME,
	AC_STATE,
	AC_ORIGIN,
	AC_CREATED,
	AC_EXPIRES,
	AC_AGE,
	AC_LEFT,
	AC_VERIFIED,
	AC_CREATOR,
	AC_DUE,
	AC_NCOLS
};

extern const char *const audit_col_names[AC_NCOLS];

/* One inventory line as text: v[c] is NULL for an absent value. */
struct audit_cells {
	const char *v[AC_NCOLS];
	char created[TIMEFMT_MAX], expires[TIMEFMT_MAX], verified[TIMEFMT_MAX], due[TIMEFMT_MAX];
	char age[24], left[24];
	int64_t age_days, left_days; /* left_days may be negative: expired that long ago */
};

void audit_cells(const struct audit_doc *d, const struct audit_token *t, struct audit_cells *c);

/* An event as JSON (allocated; the caller releases it). */
json_t *audit_event_json(const struct event *e);
/*
 * Writes the line audit log --json prints of an event: jansson's compact
 * dump of audit_event_json(e) and a newline, byte for byte, written
 * straight out (a history holds hundreds of thousands of events).
 */
void audit_event_put_json(struct outbuf *o, const struct event *e);

/* The CSV tables, for --table. */
extern const char *const audit_csv_tables[];

/* Each returns 0, or -1 with *cause (a history that cannot be read). */
int audit_render_text(struct store *s, const struct audit_doc *d, FILE *f, int width, int colour,
		      char **cause);
int audit_render_json(struct store *s, const struct audit_doc *d, FILE *f, char **cause);
int audit_render_csv(struct store *s, const struct audit_doc *d, const char *table, FILE *f,
		     char **cause);
int audit_render_html(struct store *s, const struct audit_doc *d, FILE *f, char **cause);

#endif
