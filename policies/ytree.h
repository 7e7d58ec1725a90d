/*
 * A YAML document as a small tree of scalars, sequences and mappings, each
 * node with its 1-based line and column for messages.  Built from libyaml's
 * event API so that aliases, tags and several documents can be refused and
 * the size of what an attacker-written file can make us build is bounded.
 */
#ifndef TW_YTREE_H
#define TW_YTREE_H

#include <stddef.h>

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct yblock;

/* Ordered so that a node takes 40 bytes: a large policy has tens of thousands. */
struct ynode {
	char *value;          /* scalars: the text, NUL-terminated */
	struct ynode **items; /* sequences: the items; mappings: key, value, key, value... */
	size_t n;             /* the number of items (twice the pairs for a mapping) */
	int line, col;
	enum ynode_type type;
	/* scalars: 1 when written without quotes (so `true` can be a boolean) */
	unsigned char plain;
};

/* A parsed document: its root, and the memory of the whole tree. */
struct ytree {
	struct ynode *root; /* NULL for an empty stream */
	struct yblock *blocks;
};

/* Limits on what one file may build. */
#define YTREE_MAX_DEPTH 32
#define YTREE_MAX_NODES 100000
#define YTREE_MAX_SCALAR 4096

/*
 * Parses one YAML document from buf (len bytes).  Returns 0 with *t (free
 * with ytree_free), or -1 with *t empty, *line and *col and an allocated
 * *cause naming the problem.
 */
int ytree_parse(const char *buf, size_t len, struct ytree *t, int *line, int *col, char **cause);

/* Frees the nodes of a tree that ytree_parse made, and empties t. */
void ytree_free(struct ytree *t);

/* Returns the value of key in mapping m, or NULL. */
const struct ynode *ytree_get(const struct ynode *m, const char *key);

/* Returns the key node named key in mapping m (for messages about the key itself), or NULL. */
const struct ynode *ytree_key(const struct ynode *m, const char *key);

/* Returns "a mapping", "a list" or "a text value", for messages. */
const char *ytree_type_name(const struct ynode *n);

#endif
