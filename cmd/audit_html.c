/*
 * audit report as one self-contained HTML page: inline CSS and script, the
 * expiry timeline as inline SVG, no request to anywhere.  Its
 * Content-Security-Policy allows only the page's own style and script, by
 * their hashes, so a token name that slipped through escaping still could
 * not run or load anything.
 */
#include "cmd/audit_render.h"

#include "cmd/print.h"
#include "core/xalloc.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111;background:#fff}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top;"
    "max-width:36em;overflow-wrap:anywhere}"
    "th{background:#eee;cursor:pointer}th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "td.n{text-align:right}.bad{color:#a00;font-weight:bold}.ok{color:#060}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:bold}"
    "dd{margin:0;font-family:monospace;overflow-wrap:anywhere}"
    "svg text{font:11px sans-serif}.axis{stroke:#ccc}.now{stroke:#c00;stroke-width:2;"
    "stroke-dasharray:4 3}.due{fill:#000}"
    ".s-active{fill:url(#p-active)}.s-retiring{fill:url(#p-retiring)}"
    ".s-created,.s-verified{fill:url(#p-new)}.s-pending,.s-unknown{fill:url(#p-unknown)}"
    ".s-expired{fill:url(#p-expired)}.s-other{fill:#999}"
    "@media print{th{cursor:auto}body{margin:0}}";

static const char script[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows),"
    "up=th.getAttribute('aria-sort')!=='ascending';"
    "r.sort(function(p,q){var x=p.cells[i].textContent,y=q.cells[i].textContent,"
    "m=parseFloat(x),n=parseFloat(y),c=(!isNaN(m)&&!isNaN(n))?m-n:x.localeCompare(y);"
    "return up?c:-c});t.querySelectorAll('th').forEach(function(h){"
    "h.removeAttribute('aria-sort')});th.setAttribute('aria-sort',up?'ascending':"
    "'descending');r.forEach(function(x){b.appendChild(x)})})})});";

/* The CSP source of text: 'sha256-BASE64'. */
static void
csp_hash(const char *text, char out[64])
{
	unsigned char md[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	crypto_hash_sha256(md, (const unsigned char *)text, strlen(text));
	sodium_bin2base64(b64, sizeof b64, md, sizeof md, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, 64, "'sha256-%s'", b64);
}

/* Writes s escaped for HTML text and attribute values, in runs of plain bytes. */
static void
esc_plain(FILE *f, const char *s)
{
	while (*s != '\0') {
		size_t run = strcspn(s, "&<>\"'");

		fwrite(s, 1, run, f);
		s += run;
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			return;
		}
		s++;
	}
}

/* Writes stored text for HTML: control characters and invalid UTF-8 as '?', markup escaped. */
static void
esc(FILE *f, const char *s)
{
	char *clean;

	if (s == NULL) {
		fputs("-", f);
		return;
	}
	if (print_plain(s)) {
		esc_plain(f, s);
		return;
	}
	clean = print_clean(s, NULL);
	esc_plain(f, clean);
	free(clean);
}

static void
cell(FILE *f, const char *s, int numeric)
{
	fputs(numeric ? "<td class=\"n\">" : "<td>", f);
	esc(f, s);
	fputs("</td>", f);
}

static void
heads(FILE *f, const char *const *names, size_t n, const char *cls)
{
	fprintf(f, "<table class=\"%s\"><thead><tr>", cls);
	for (size_t i = 0; i < n; i++) {
		fputs("<th scope=\"col\">", f);
		esc(f, names[i]);
		fputs("</th>", f);
	}
	fputs("</tr></thead><tbody>\n", f);
}

static const char *
time_or_null(int64_t ms, char buf[TIMEFMT_MAX])
{
	if (ms == 0 || ms == INT64_MAX)
		return NULL;
	timefmt_minute(ms, buf);
	return buf;
}

static void
html_header(const struct audit_doc *d, FILE *f)
{
	const struct audit_integrity *v = &d->integrity;
	char when[TIMEFMT_MAX], css[64], js[64];

	csp_hash(style, css);
	csp_hash(script, js);
	timefmt_minute(d->at, when);
	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src %s; script-src %s\">\n"
		"<title>tokenwarden audit report %s</title>\n<style>%s</style></head><body>\n"
		"<h1>tokenwarden audit report</h1>\n<dl>",
		css, js, when, style);
	fprintf(f, "<dt>Generated at</dt><dd>%s</dd><dt>Tool</dt><dd>tokenwarden %s</dd>", when,
		TW_VERSION);
	fputs("<dt>Policy</dt><dd>", f);
	esc(f, d->policy_path);
	fputs("</dd><dt>Policy SHA-256</dt><dd>", f);
	esc(f, d->policy_sha256[0] != '\0' ? d->policy_sha256 : "unreadable");
	fputs("</dd><dt>Store</dt><dd>", f);
	esc(f, d->store_path);
	fprintf(f, "</dd><dt>History</dt><dd>%" PRId64 " events, head ", v->events);
	esc(f, v->head[0] != '\0' ? v->head : "-");
	fputs("</dd><dt>Verification</dt><dd id=\"verify\" class=\"", f);
	if (v->broken != NULL) {
		fputs("bad\">NOT intact: ", f);
		esc(f, v->broken);
	} else {
		char *text = audit_tables_text(v);

		fputs(v->intact ? "ok\">intact: " : "bad\">NOT intact: ", f);
		esc(f, text);
		free(text);
	}
	fputs("</dd></dl>\n", f);
}

static void
html_findings(const struct audit_doc *d, FILE *f)
{
	static const char *const names[] = {"Finding", "Workspace", "Slot", "Token", "What"};
	static const char *const rules[] = {"Finding", "Count", "Rule it breaks", "Fix"};
	size_t count[FIND_NKINDS] = {0};

	fprintf(f, "<h2 id=\"findings\">%zu finding%s</h2>\n", d->nfindings,
		d->nfindings == 1 ? "" : "s");
	for (size_t i = 0; i < d->nfindings; i++)
		count[d->findings[i]->kind]++;
	/* The rule and fix once per kind: the same words on thousands of lines help nobody. */
	heads(f, rules, 4, "rules");
	for (int k = 0; k < FIND_NKINDS; k++) {
		if (count[k] == 0)
			continue;
		fprintf(f, "<tr id=\"rule-%s\">", plan_finding_name((enum finding_kind)k));
		cell(f, plan_finding_name((enum finding_kind)k), 0);
		fprintf(f, "<td class=\"n\">%zu</td>", count[k]);
		cell(f, audit_rule((enum finding_kind)k), 0);
		cell(f, audit_fix((enum finding_kind)k), 0);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	heads(f, names, 5, "sortable findings");
	for (size_t i = 0; i < d->nfindings; i++) {
		const struct plan_finding *x = d->findings[i];
		const char *kind = plan_finding_name(x->kind);
		char *text;

		fprintf(f, "<tr><td><a href=\"#rule-%s\">%s</a></td>", kind, kind);
		cell(f, x->workspace, 0);
		cell(f, x->slot, 0);
		cell(f, x->token, 0);
		text = plan_finding_text(x);
		cell(f, text, 0);
		free(text);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

/* The timeline's span: every bar, and now, within a year before and after now. */
struct axis {
	int64_t lo, hi;
	int left, width;
};

/* t's x in whole pixels: a finer grain only makes the page bigger and slower to write. */
static int
x_of(const struct axis *a, int64_t t)
{
	if (t < a->lo)
		t = a->lo;
	if (t > a->hi)
		t = a->hi;
	return a->left + (int)((t - a->lo) * a->width / (a->hi - a->lo));
}

static int64_t
born(const struct token_row *r)
{
	return r->created_at != 0 ? r->created_at : r->requested_at;
}

static struct axis
axis_of(const struct audit_doc *d)
{
	struct axis a = {d->at, d->at + DAY_MS, 260, 700};

	for (size_t i = 0; i < d->ntokens; i++) {
		const struct token_row *r = d->tokens[i].row;

		if (born(r) < a.lo)
			a.lo = born(r);
		if (r->expires_at > a.hi)
			a.hi = r->expires_at;
	}
	if (a.lo < d->at - 365 * DAY_MS)
		a.lo = d->at - 365 * DAY_MS;
	if (a.hi > d->at + 400 * DAY_MS)
		a.hi = d->at + 400 * DAY_MS;
	a.lo -= a.lo % DAY_MS;
	a.hi += DAY_MS - a.hi % DAY_MS;
	return a;
}

static const char *
state_class(enum token_state st)
{
	switch (st) {
	case TOKEN_ACTIVE:
		return "s-active";
	case TOKEN_RETIRING:
		return "s-retiring";
	case TOKEN_CREATED:
		return "s-created";
	case TOKEN_VERIFIED:
		return "s-verified";
	case TOKEN_PENDING:
		return "s-pending";
	case TOKEN_UNKNOWN:
		return "s-unknown";
	case TOKEN_EXPIRED:
		return "s-expired";
	default:
		return "s-other";
	}
}

/* Patterns, so that the states read without colour, in print and for colour-blind readers. */
static const char patterns[] =
    "<defs>"
    "<pattern id=\"p-active\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"6\" height=\"6\" fill=\"#2b7a3d\"/></pattern>"
    "<pattern id=\"p-retiring\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f2c14e\"/>"
    "<rect width=\"2\" height=\"6\" fill=\"#6b4f00\"/></pattern>"
    "<pattern id=\"p-new\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"6\" height=\"6\" fill=\"#7fb3e6\"/><rect width=\"6\" height=\"2\" "
    "fill=\"#1d4f80\"/></pattern>"
    "<pattern id=\"p-unknown\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"6\" height=\"6\" fill=\"#ddd\"/><circle cx=\"3\" cy=\"3\" r=\"1.5\" "
    "fill=\"#333\"/></pattern>"
    "<pattern id=\"p-expired\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"6\" height=\"6\" fill=\"#d9534f\"/><path d=\"M0 0L6 6M6 0L0 6\" "
    "stroke=\"#400\" stroke-width=\"1\"/></pattern></defs>";

static void
legend(FILE *f, int y)
{
	static const char *const names[] = {"active", "retiring", "created", "unknown", "expired"};
	static const char *const cls[] = {"s-active", "s-retiring", "s-created", "s-unknown",
					  "s-expired"};

	for (int i = 0; i < 5; i++) {
		fprintf(f, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"24\" height=\"10\"/>",
			cls[i], 10 + i * 120, y);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>", 40 + i * 120, y + 9, names[i]);
	}
	fprintf(f,
		"<path class=\"due\" d=\"M610 %dl5 10h-10z\"/><text x=\"620\" y=\"%d\">planned "
		"rotation</text><line class=\"now\" x1=\"740\" y1=\"%d\" x2=\"740\" y2=\"%d\"/>"
		"<text x=\"748\" y=\"%d\">now</text>",
		y, y + 9, y - 2, y + 12, y + 9);
}

static void
ticks(FILE *f, const struct axis *a, int top, int bottom)
{
	int64_t span = (a->hi - a->lo) / DAY_MS, step = span / 8 + 1;

	for (int64_t t = a->lo; t <= a->hi; t += step * DAY_MS) {
		char when[TIMEFMT_MAX];
		int x = x_of(a, t);

		timefmt_minute(t, when);
		when[10] = '\0';
		fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", x, top,
			x, bottom);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>", x, top - 4,
			when);
	}
}

/* The bar's label, WORKSPACE/SLOT (or the name), cut to fit left of the bars. */
#define LABEL_CHARS 38

static void
label(FILE *f, const struct token_row *r)
{
	const char *second = r->slot != NULL ? r->slot : r->name;
	char *text, *clean;
	size_t i = 0, chars = 0;

	if (print_plain(r->workspace) && print_plain(second) &&
	    strlen(r->workspace) + 1 + strlen(second) <= LABEL_CHARS) {
		esc_plain(f, r->workspace);
		fputc('/', f);
		esc_plain(f, second);
		return;
	}
	text = xasprintf("%s/%s", r->workspace, second);
	clean = print_clean(text, NULL);

	/* print_clean leaves whole UTF-8 characters: cut after the last that fits. */
	while (clean[i] != '\0' && chars < LABEL_CHARS) {
		i++;
		while (((unsigned char)clean[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	free(text);
	text = clean[i] != '\0' ? xasprintf("%.*s\xe2\x80\xa6", (int)i, clean) : NULL;
	esc(f, text != NULL ? text : clean);
	free(clean);
	free(text);
}

static void
bar(FILE *f, const struct audit_doc *d, const struct axis *a, const struct audit_token *t, int y)
{
	const struct token_row *r = t->row;
	char from[TIMEFMT_MAX], to[TIMEFMT_MAX];
	int x0 = x_of(a, born(r)), x1 = x_of(a, r->expires_at);

	if (x1 - x0 < 2)
		x1 = x0 + 2;
	timefmt_minute(born(r), from);
	timefmt_minute(r->expires_at, to);
	fprintf(f, "<g class=\"bar\" data-row=\"%" PRId64 "\" data-state=\"%s\"><title>", r->row,
		tokens_state_name(r->state));
	esc(f, r->workspace);
	fputc('/', f);
	esc(f, r->slot != NULL ? r->slot : "(unmanaged)");
	fputc(' ', f);
	esc(f, r->name);
	fprintf(f, " %s, %s to %s</title>", tokens_state_name(r->state), from, to);
	fprintf(f, "<text x=\"4\" y=\"%d\">", y + 9);
	label(f, r);
	fprintf(f, "</text><rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"10\"/>",
		state_class(r->state), x0, y, x1 - x0);
	if (r->expires_at > a->hi) /* expires past the edge: say so */
		fprintf(f, "<text x=\"%d\" y=\"%d\">\xe2\x80\xa6</text>", x1 + 4, y + 9);
	if (t->due != 0 && t->due < r->expires_at)
		fprintf(f, "<path class=\"due\" d=\"M%d %dl4 8h-8z\"/>", x_of(a, t->due), y + 1);
	fputs("</g>\n", f);
	(void)d;
}

static void
html_timeline(const struct audit_doc *d, FILE *f)
{
	struct axis a = axis_of(d);
	int top = 50, h = top + 14 * (int)d->ntokens + 10;
	int now = x_of(&a, d->at);

	fprintf(f, "<h2 id=\"timeline\">Expiry timeline</h2>\n"
		   "<p>A bar per token from its creation to its expiry; a triangle marks its "
		   "planned rotation.  Times outside a year of now are drawn at the edge.</p>\n");
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"expiry "
		"timeline\" width=\"1040\" height=\"%d\" viewBox=\"0 0 1040 %d\">%s",
		h, h, patterns);
	legend(f, 4);
	ticks(f, &a, top - 10, h);
	for (size_t i = 0; i < d->ntokens; i++)
		bar(f, d, &a, &d->tokens[i], top + 14 * (int)i);
	fprintf(f, "<line class=\"now\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", now, top - 12,
		now, h);
	fputs("</svg>\n", f);
}

static void
html_slots(const struct audit_doc *d, FILE *f)
{
	static const char *const names[] = {"Workspace",    "Slot",    "Status",
					    "Active token", "Expires", "Last rotation",
					    "Next rotation"};

	fprintf(f, "<h2 id=\"slots\">%zu slot%s</h2>\n", d->nslots, d->nslots == 1 ? "" : "s");
	heads(f, names, 7, "sortable slots");
	for (size_t i = 0; i < d->nslots; i++) {
		const struct slotview_slot *s = d->slots[i];
		char exp[TIMEFMT_MAX], last[TIMEFMT_MAX], next[TIMEFMT_MAX];

		fputs("<tr>", f);
		cell(f, s->slot->ws->name, 0);
		cell(f, s->slot->name, 0);
		cell(f, slotview_word_name(s->word), 0);
		cell(f, s->active != NULL ? s->active->token : NULL, 0);
		cell(f, time_or_null(s->expires_at, exp), 0);
		cell(f, time_or_null(s->last_success, last), 0);
		cell(f, s->slot->eff.paused ? "paused" : time_or_null(s->next_rotation, next), 0);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

static void
html_tokens(const struct audit_doc *d, FILE *f)
{
	static const char *const names[AC_NCOLS] = {
	    "Workspace",     "Slot",       "Token",        "Name",       "State",
	    "Origin",        "Created",    "Expires",      "Age (days)", "Days left",
	    "Last verified", "Created by", "Next rotation"};

	fprintf(f, "<h2 id=\"inventory\">%zu token%s</h2>\n", d->ntokens,
		d->ntokens == 1 ? "" : "s");
	heads(f, names, AC_NCOLS, "sortable inventory");
	for (size_t i = 0; i < d->ntokens; i++) {
		struct audit_cells c;

		audit_cells(d, &d->tokens[i], &c);
		fputs("<tr>", f);
		for (int k = 0; k < AC_NCOLS; k++)
			cell(f, c.v[k], k == AC_AGE || k == AC_LEFT);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

static int
html_event(const struct event *e, void *arg)
{
	FILE *f = arg;
	char at[TIMEFMT_MAX];

	timefmt_minute(e->at, at);
	fputs("<tr>", f);
	cell(f, at, 0);
	cell(f, e->actor, 0);
	cell(f, e->kind, 0);
	cell(f, e->workspace, 0);
	cell(f, e->slot, 0);
	cell(f, e->token, 0);
	cell(f, e->details, 0);
	fputs("</tr>\n", f);
	return 0;
}

int
audit_render_html(struct store *s, const struct audit_doc *d, FILE *f, char **cause)
{
	static const char *const names[] = {"At",   "Actor", "Kind",   "Workspace",
					    "Slot", "Token", "Details"};
	char since[TIMEFMT_MAX];

	html_header(d, f);
	html_findings(d, f);
	html_timeline(d, f);
	html_slots(d, f);
	html_tokens(d, f);
	fprintf(f, "<h2 id=\"history\">History since %s</h2>\n",
		d->filter.since != 0 ? (timefmt_minute(d->filter.since, since), since)
				     : "the start");
	heads(f, names, 7, "sortable history");
	if (audit_history(s, d, html_event, f, cause) < 0)
		return -1;
	fprintf(f, "</tbody></table>\n<script>%s</script>\n</body></html>\n", script);
	return 0;
}
