/*
 * Whole-file output for reports and metrics: written to a temporary file
 * beside the target, synced and renamed over it, so a reader (an auditor's
 * browser, node_exporter's textfile collector) sees the old file or the new
 * one, never a part.  Standard output when no path is given.
 */
#ifndef TW_OUTFILE_H
#define TW_OUTFILE_H

#include <stdio.h>
#include <sys/types.h>

struct outfile {
	FILE *f;          /* write here */
	const char *path; /* the target; NULL: standard output */
	const char *name; /* its last component */
	int dir;          /* its directory; -1 for standard output */
	char *tmp;        /* the temporary file's name in dir */
};

/*
 * Opens o for path (NULL or "-": standard output), the file to be given
 * mode whatever the umask, once outfile_replaceable allows path.  Returns
 * 0, or -1 with *cause naming path.
 */
int outfile_open(struct outfile *o, const char *path, mode_t mode, char **cause);

/*
 * Whether name in directory dir (AT_FDCWD: name is a path) may be replaced
 * by a file renamed over it: nothing is there, or a regular file is.  A
 * directory, a symbolic link (which the rename would replace, not write
 * through), a device, a FIFO or a socket is refused: the path was given
 * wrong, and as root the rename would replace /dev/null or /dev/stdout.
 * Returns 0, or -1 with *cause naming path (as given) and what is there.
 */
int outfile_replaceable(int dir, const char *name, const char *path, char **cause);

/*
 * Finishes o: every byte written and synced, then renamed over the target
 * (outfile_replaceable asked again) and the directory synced (standard
 * output: flushed).  Returns 0, or -1 with *cause naming the path and the
 * target left as it was.  Frees o either way.
 */
int outfile_commit(struct outfile *o, char **cause);

/* Drops o, leaving the target as it was.  Safe after outfile_commit. */
void outfile_abort(struct outfile *o);

/*
 * Creates a new file in directory dir beside name, called .NAME.tw-XXXXXX
 * (NAME cut to what fits a file name's 255 bytes):
 * 0600, exclusively, not through a link.  Returns its descriptor with *tmp
 * (the caller frees it), or -1 with errno and *tmp NULL.
 */
int outfile_create_beside(int dir, const char *name, char **tmp);

/*
 * Removes from directory dir the files outfile_create_beside made beside
 * name that a writer killed before its rename left behind (a consumer's
 * would hold a secret): regular files named .NAME.tw- and six of its
 * characters, never through a link.  Returns how many it removed, or -1
 * when one is left (a read-only directory): the caller tries again later.
 */
int outfile_sweep_beside(int dir, const char *name);

#endif
