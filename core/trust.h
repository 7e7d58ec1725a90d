/*
 * Trust in what a consumer depends on: a program run with each new token on
 * its standard input must be one that nobody but root and the user
 * tokenwarden runs as can change, and so must every directory on the way to
 * it, since whoever can replace a directory can replace what is in it.  The
 * same rule as for the policy file that names the program
 * (policies/load.c): owned by root or the running user, not writable by
 * group or others.  One exception: a directory with the sticky bit that
 * root owns (/tmp), where only an entry's owner may rename or remove it; the
 * entries on the way through it are checked like any other.  A file
 * consumer's directory is held to the same rule, found without following a
 * link, and written through its descriptor.
 */
#ifndef TW_TRUST_H
#define TW_TRUST_H

#include <sys/types.h>

/* No user but root and the running one (trust_open_dir's `also`). */
#define TRUST_NOBODY ((uid_t)-1)

/* Something on the way does not exist, in directories nobody else can change. */
#define TRUST_MISSING (-2)
/* Something on the way could not be looked at (a directory we may not search). */
#define TRUST_UNCHECKED (-3)

/* Returns user uid's name, or "uid N"; the caller frees it. */
char *trust_user_name(uid_t uid);

/*
 * Returns "PATH: owned by OWNER, not by ME or root" ("not by root" when
 * running as root): how a store or key file refused for its owner (uid
 * owner) begins; the caller adds what that owner could do and the fix.
 * The caller frees it.
 */
char *trust_owned_by_other(const char *path, uid_t owner);

/*
 * The login that says it asked for this run, when it is not the effective
 * user: SUDO_USER (sudo sets it) or else getlogin(3) (the audit login uid,
 * then utmp; runuser and su keep it).  Neither is authenticated by
 * tokenwarden (anyone can set SUDO_USER), so it is a claim, recorded beside
 * the effective user and never instead of it.  Returns an allocated name
 * (the caller frees it) with *from set to "SUDO_USER" or "getlogin", or NULL
 * when there is no such login, it is the effective user, or it is not a
 * plausible user name (1 to 64 of [A-Za-z0-9._@$-]).
 */
char *trust_claimed_login(const char **from);

/*
 * Checks the program at the absolute path `program`, as execve(2) would
 * reach it: every directory from / down, each symbolic link on the way
 * (followed, as execve follows it, up to 40), and the program, a regular
 * file; for a script, the interpreter its #! line names, the same way (an
 * absolute path; a script in turn, up to 5 in a row, as execve runs them).
 * Returns 0 when nobody but root and the running user can change any
 * of them; else -1 (someone else could), TRUST_MISSING or TRUST_UNCHECKED,
 * each with *cause naming the path at fault and, for -1, the command that
 * fixes it.
 */
int trust_program(const char *program, char **cause);

/*
 * Opens the directory at the absolute path dir without following any
 * symbolic link (each component with O_NOFOLLOW, from /), checking each
 * directory as it is opened: owned by root, the running user or `also` (the
 * user a delivered file is given to, who may read it anyway; TRUST_NOBODY:
 * none), and not writable by group or others unless sticky and owned by
 * root.  A link on the way is refused.  Returns a descriptor of
 * dir, open for reading (the caller closes it); else -1 (refused),
 * TRUST_MISSING or TRUST_UNCHECKED, each with *cause naming the path at
 * fault (and, for -1, what to do).
 */
int trust_open_dir(const char *dir, uid_t also, char **cause);

#endif
