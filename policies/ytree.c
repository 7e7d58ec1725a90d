/* A bounded YAML tree from libyaml's event API; see ytree.h. */
#include "policies/ytree.h"

#include "core/xalloc.h"

#include <stddef.h>
#include <string.h>
#include <yaml.h>

/*
 * A tree's nodes, strings and item lists live in a few large blocks freed
 * together: a policy of thousands of slots has tens of thousands of values,
 * and one allocation each cost more than parsing them.
 */
#define YBLOCK_SIZE (64 * 1024)

struct yblock {
	struct yblock *next;
	size_t used, size;
	_Alignas(max_align_t) unsigned char data[];
};

struct yparse {
	yaml_parser_t parser;
	const char *buf;
	size_t len;
	size_t nodes;
	int line, col;
	char *cause;
	struct yblock *blocks; /* the newest first */
	/* The children of the open collections, innermost last, until each closes. */
	struct ynode **stack;
	size_t nstack, capstack;
};

static void
blocks_free(struct yblock *b)
{
	while (b != NULL) {
		struct yblock *next = b->next;

		free(b);
		b = next;
	}
}

/* Returns n bytes for the tree, aligned to align (a power of two; 1 for text). */
static void *
tree_alloc(struct yparse *y, size_t n, size_t align)
{
	struct yblock *b = y->blocks;
	size_t at = b != NULL ? (b->used + align - 1) & ~(align - 1) : 0;

	if (n > YBLOCK_SIZE / 4) {
		/* A long list gets a block of its own, behind the one being filled. */
		b = xmalloc(sizeof *b + n);
		b->used = b->size = n;
		b->next = y->blocks != NULL ? y->blocks->next : NULL;
		if (y->blocks != NULL)
			y->blocks->next = b;
		else
			y->blocks = b;
		return b->data;
	}
	if (b == NULL || at > b->size || b->size - at < n) {
		b = xmalloc(sizeof *b + YBLOCK_SIZE);
		xprefault(b->data, YBLOCK_SIZE);
		b->size = YBLOCK_SIZE;
		b->next = y->blocks;
		y->blocks = b;
		at = 0;
	}
	b->used = at + n;
	return b->data + at;
}

/* Records the first problem at mark; later ones are consequences. */
static int
fail(struct yparse *y, yaml_mark_t mark, char *cause)
{
	if (y->cause == NULL) {
		y->line = (int)mark.line + 1;
		y->col = (int)mark.column + 1;
		y->cause = cause;
	} else
		free(cause);
	return -1;
}

/*
 * Where byte at of the text is, as a mark: libyaml gives a reader's errors
 * (bad UTF-8, a control character) as an offset only.  Lines and columns
 * from 0, a column counting characters.
 */
static yaml_mark_t
mark_at(const struct yparse *y, size_t at)
{
	yaml_mark_t m = {.index = at};

	for (size_t i = 0; i < at && i < y->len; i++) {
		if (y->buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)y->buf[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int
next(struct yparse *y, yaml_event_t *ev)
{
	const yaml_parser_t *p = &y->parser;
	const char *problem;
	size_t at;

	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	memset(ev, 0, sizeof *ev);
	problem = p->problem != NULL ? p->problem : "unreadable";
	if (p->error == YAML_READER_ERROR)
		return fail(y, mark_at(y, p->problem_offset),
			    xasprintf("YAML syntax: %s; a policy is UTF-8 text without control "
				      "characters",
				      problem));
	at = p->problem_mark.index;
	/* libyaml's words for a tab are obscure; a tab in indentation is the usual cause. */
	if (at < y->len && y->buf[at] == '\t' && strstr(problem, "cannot start any token") != NULL)
		return fail(y, p->problem_mark,
			    xasprintf("YAML syntax: a tab indents this line; YAML allows only "
				      "spaces for indentation"));
	if (p->context != NULL)
		return fail(y, p->problem_mark,
			    xasprintf("YAML syntax: %s %s that starts at line %zu, column %zu",
				      problem, p->context, p->context_mark.line + 1,
				      p->context_mark.column + 1));
	return fail(y, p->problem_mark, xasprintf("YAML syntax: %s", problem));
}

static struct ynode *
node_new(struct yparse *y, enum ynode_type type, yaml_mark_t mark)
{
	struct ynode *n;

	if (++y->nodes > YTREE_MAX_NODES) {
		fail(y, mark,
		     xasprintf("more than %d values; this is no policy file", YTREE_MAX_NODES));
		return NULL;
	}
	n = tree_alloc(y, sizeof *n, _Alignof(struct ynode));
	memset(n, 0, sizeof *n);
	n->type = type;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	return n;
}

static void
push(struct yparse *y, struct ynode *child)
{
	if (y->nstack == y->capstack) {
		y->capstack = y->capstack == 0 ? 64 : y->capstack * 2;
		y->stack = xrealloc(y->stack, y->capstack * sizeof *y->stack);
	}
	y->stack[y->nstack++] = child;
}

static int parse_node(struct yparse *y, yaml_event_t *ev, int depth, struct ynode **out);

static struct ynode *
scalar(struct yparse *y, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct ynode *n;

	if (len > YTREE_MAX_SCALAR) {
		fail(y, ev->start_mark,
		     xasprintf("a value longer than %d characters", YTREE_MAX_SCALAR));
		return NULL;
	}
	if (memchr(v, '\0', len) != NULL) {
		fail(y, ev->start_mark, xasprintf("a value holds a NUL character"));
		return NULL;
	}
	n = node_new(y, YNODE_SCALAR, ev->start_mark);
	if (n == NULL)
		return NULL;
	n->value = tree_alloc(y, len + 1, 1);
	memcpy(n->value, v, len);
	n->value[len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return n;
}

/*
 * Parses the items of a sequence or mapping until its end event, gathering
 * them on y's stack and then giving n a list of exactly their number.
 */
static int
collection(struct yparse *y, struct ynode *n, yaml_event_type_t end, int depth)
{
	size_t base = y->nstack;
	yaml_event_t ev;

	for (;;) {
		struct ynode *child = NULL;

		if (next(y, &ev) < 0)
			return -1;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			break;
		}
		if (parse_node(y, &ev, depth + 1, &child) < 0)
			return -1;
		push(y, child);
	}
	n->n = y->nstack - base;
	if (n->n > 0) {
		n->items = tree_alloc(y, n->n * sizeof *n->items, _Alignof(struct ynode *));
		memcpy(n->items, y->stack + base, n->n * sizeof *n->items);
	}
	y->nstack = base;
	return 0;
}

/*
 * Builds the node that ev starts; takes ownership of ev.  On an error the
 * nodes made so far stay in y's blocks, which ytree_parse frees.
 */
static int
parse_node(struct yparse *y, yaml_event_t *ev, int depth, struct ynode **out)
{
	struct ynode *n = NULL;
	int rc = -1;

	*out = NULL;
	if (depth > YTREE_MAX_DEPTH) {
		fail(y, ev->start_mark, xasprintf("nested deeper than %d levels", YTREE_MAX_DEPTH));
		goto out;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		fail(y, ev->start_mark,
		     xasprintf("aliases (*%s) are not supported; put shared values under "
			       "'defaults'",
			       (const char *)ev->data.alias.anchor));
		goto out;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.tag != NULL && !ev->data.scalar.plain_implicit &&
		    !ev->data.scalar.quoted_implicit) {
			fail(y, ev->start_mark, xasprintf("YAML tags (!!...) are not supported"));
			goto out;
		}
		n = scalar(y, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(y, YNODE_SEQ, ev->start_mark);
		if (n != NULL && collection(y, n, YAML_SEQUENCE_END_EVENT, depth) < 0)
			goto out;
		break;
	case YAML_MAPPING_START_EVENT:
		n = node_new(y, YNODE_MAP, ev->start_mark);
		if (n != NULL && collection(y, n, YAML_MAPPING_END_EVENT, depth) < 0)
			goto out;
		break;
	default:
		fail(y, ev->start_mark, xasprintf("unexpected YAML event"));
		goto out;
	}
	if (n == NULL)
		goto out;
	*out = n;
	rc = 0;
out:
	yaml_event_delete(ev);
	return rc;
}

/* Expects an event of type t next. */
static int
expect(struct yparse *y, yaml_event_type_t t, const char *what)
{
	yaml_event_t ev;
	int rc = 0;

	if (next(y, &ev) < 0)
		return -1;
	if (ev.type != t)
		rc = fail(y, ev.start_mark, xasprintf("%s", what));
	yaml_event_delete(&ev);
	return rc;
}

static int
document(struct yparse *y, struct ynode **root)
{
	yaml_event_t ev;

	if (expect(y, YAML_STREAM_START_EVENT, "not a YAML stream") < 0)
		return -1;
	if (next(y, &ev) < 0)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_mark_t mark = ev.start_mark;

		yaml_event_delete(&ev);
		return fail(y, mark, xasprintf("not a YAML document"));
	}
	yaml_event_delete(&ev);
	if (next(y, &ev) < 0)
		return -1;
	if (parse_node(y, &ev, 1, root) < 0)
		return -1;
	if (expect(y, YAML_DOCUMENT_END_EVENT, "expected the end of the document") < 0)
		return -1;
	return expect(y, YAML_STREAM_END_EVENT,
		      "more than one YAML document; a policy is one document");
}

int
ytree_parse(const char *buf, size_t len, struct ytree *t, int *line, int *col, char **cause)
{
	struct yparse y;
	int rc;

	/* A byte-order mark, as some editors begin UTF-8 with: YAML allows it, and the
	 * encoding set below would keep libyaml from skipping it. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	memset(&y, 0, sizeof y);
	y.buf = buf;
	y.len = len;
	memset(t, 0, sizeof *t);
	if (!yaml_parser_initialize(&y.parser)) {
		*line = *col = 1;
		*cause = xstrdup("out of memory starting the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&y.parser, YAML_UTF8_ENCODING);
	rc = document(&y, &t->root);
	yaml_parser_delete(&y.parser);
	free(y.stack);
	t->blocks = y.blocks;
	if (rc < 0) {
		ytree_free(t);
		*line = y.line;
		*col = y.col;
		*cause = y.cause;
		return -1;
	}
	free(y.cause);
	return 0;
}

void
ytree_free(struct ytree *t)
{
	blocks_free(t->blocks);
	memset(t, 0, sizeof *t);
}

const struct ynode *
ytree_key(const struct ynode *m, const char *key)
{
	if (m == NULL || m->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->items[i]->type == YNODE_SCALAR && strcmp(m->items[i]->value, key) == 0)
			return m->items[i];
	return NULL;
}

const struct ynode *
ytree_get(const struct ynode *m, const char *key)
{
	if (m == NULL || m->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->items[i]->type == YNODE_SCALAR && strcmp(m->items[i]->value, key) == 0)
			return m->items[i + 1];
	return NULL;
}

const char *
ytree_type_name(const struct ynode *n)
{
	switch (n->type) {
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SEQ:
		return "a list";
	case YNODE_SCALAR:
		break;
	}
	return "a text value";
}
