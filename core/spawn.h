/*
 * Running a program as a child and talking to it: the fork/exec plumbing
 * that delivery (an exec consumer fed a token on its standard input, with a
 * time limit) and doctor (systemctl's answers) share.  The caller forks;
 * the child calls spawn_exec and nothing else.
 */
#ifndef TW_SPAWN_H
#define TW_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* spawn_exec flags. */
#define SPAWN_GROUP 1 /* a process group of its own, so spawn_reap can kill all of it */
#define SPAWN_PATH 2  /* argv[0] looked up in PATH, the environment kept (envp unused) */

/* Milliseconds on the monotonic clock: what deadlines are measured in. */
int64_t spawn_now_ms(void);

/*
 * In the child after fork: standard input from in, standard output to out,
 * standard error to err, nothing else open, no signal blocked, and the
 * signals tokenwarden blocks or ignores back to their defaults (exec keeps
 * both a mask and an ignored signal).  Then execs argv with envp (argv[0] a
 * path), or as flags say.  Never returns: exit 126 when the set-up fails,
 * 127 when the exec does.  Only async-signal-safe calls (execvp aside, with
 * SPAWN_PATH): the parent may have threads.
 */
_Noreturn void spawn_exec(int in, int out, int err, char *const argv[], char *const envp[],
			  int flags);

/* Takes n bytes of the child's output (a buffer spawn_converse wipes afterwards). */
typedef void (*spawn_sink)(const char *buf, size_t n, void *arg);

/*
 * Feeds data (len bytes) to child pid on `in`, a non-blocking descriptor
 * it closes (-1: nothing to feed), and passes its output from `out` to
 * sink until the child closes it, the child exits (what it wrote by then
 * is passed on: a program it started may hold `out` open for as long as it
 * runs) or the deadline (spawn_now_ms) passes; the caller closes `out` and
 * reaps pid (-1: wait for `out` alone).  A child that stops reading is not
 * an error here: its exit status decides.  Returns 0, or -1 on timeout or
 * a poll error.
 */
int spawn_converse(pid_t pid, int in, int out, const char *data, size_t len, int64_t deadline,
		   spawn_sink sink, void *arg);

/*
 * Waits for pid until the deadline; then sets *timed_out and kills it and
 * its process group.  Returns its wait status, or -1 when it cannot be
 * waited for.
 */
int spawn_reap(pid_t pid, int64_t deadline, int *timed_out);

#endif
