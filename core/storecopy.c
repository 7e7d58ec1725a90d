/* A store as one file: written and checked (core/storecopy.h). */
#include "core/storecopy.h"

#include "core/outfile.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
storecopy_check(struct store *copy, struct storecopy_facts *f, char **cause)
{
	int64_t bad = 0;
	int got;

	if (store_integrity_check(copy, cause) < 0)
		return -1;
	got = events_verify(copy, &f->events, f->head, &bad, cause);
	if (got < 0)
		return -1;
	if (got == 1) {
		f->broken = *cause;
		*cause = NULL;
	}
	return 0;
}

/* Opens the copy at path as a store and checks it. */
static int
check_at(const char *path, struct storecopy_facts *f, char **cause)
{
	struct store *copy = NULL;
	int rc = -1;

	if (store_open(path, STORE_INSPECT, &copy, cause) == 0)
		rc = storecopy_check(copy, f, cause);
	store_close(copy);
	return rc;
}

enum storecopy_result
storecopy_write(struct store *s, const char *path, struct storecopy_facts *f, size_t *size,
		char **cause)
{
	struct outfile out = {.dir = -1};
	unsigned char *image = NULL;
	char *tmp = NULL;
	const char *own;
	enum storecopy_result rc = STORECOPY_FAILED;

	if (outfile_open(&out, path, 0600, cause) < 0)
		goto out;
	own = store_file_at(s, out.dir, out.name);
	if (own != NULL) {
		*cause = xasprintf("%s is %s; name a file elsewhere", path, own);
		rc = STORECOPY_OWN;
		goto out;
	}
	if (store_image(s, &image, size, cause) < 0)
		goto out;
	if (fwrite(image, 1, *size, out.f) != *size || fflush(out.f) != 0) {
		*cause = xasprintf("%s: cannot write the copy: %s", path, strerror(errno));
		goto out;
	}
	/* The copy as written, checked under its temporary name beside the target. */
	tmp = xasprintf("%.*s%s", (int)(out.name - out.path), out.path, out.tmp);
	if (f != NULL && check_at(tmp, f, cause) < 0) {
		rc = STORECOPY_DAMAGED;
		goto out;
	}
	if (outfile_commit(&out, cause) < 0)
		goto out;
	rc = STORECOPY_WRITTEN;
out:
	outfile_abort(&out);
	free(tmp);
	store_image_free(image);
	return rc;
}
