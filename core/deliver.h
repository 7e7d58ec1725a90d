/*
 * Delivery: handing a fresh token to its consumers while its plaintext is
 * still in memory (the rotating host cannot read a sealed secret back).
 * A file consumer gets the credentials as JSON written atomically with mode
 * 0600; an exec consumer gets the same JSON on its standard input, run
 * without a shell, with a scrubbed environment and a time limit.  A
 * rehearsal (rotate --dry-run --run-hooks) exercises consumers with a test
 * payload and replaces no file.
 */
#ifndef TW_DELIVER_H
#define TW_DELIVER_H

#include "policies/policy.h"

#include <stddef.h>
#include <stdint.h>

/* What consumers receive.  access_secret is in sodium memory and stays the caller's. */
struct deliver_payload {
	const char *workspace;
	const char *slot;
	const char *token; /* Mode's id */
	const char *name;
	const char *access_key;
	const char *access_secret;
	int64_t expires_at; /* ms */
	int test;           /* a rehearsal: the JSON says "test": true */
};

/* How much of an exec consumer's output (standard output and error) a failure keeps. */
#define DELIVER_STDERR_TAIL 2048
/* The shortest piece of a credential deliver_mask blots out wherever it is. */
#define DELIVER_MASK_MIN 6

/*
 * Renders the JSON consumers receive (workspace, slot, token, name,
 * access_key, access_secret, expires_at, bearer, and "test": true when
 * p->test is set) into sodium memory.
 * Returns it (free with xsecret_free) and sets *len.
 */
char *deliver_json(const struct deliver_payload *p, size_t *len);

/*
 * Blots out with '*' every run of buf (len bytes) of DELIVER_MASK_MIN bytes
 * or more that p's access key, access secret or bearer value also holds
 * (a whole credential, when it is shorter), wherever the run begins and
 * ends: what a consumer prints may begin or end inside a credential.  (When
 * deliver_one keeps the tail of longer output, the piece of a credential
 * it begins with goes too, however short.)
 */
void deliver_mask(char *buf, size_t len, const struct deliver_payload *p);

/*
 * Names consumer d for the history, without a secret: the hex of a 128-bit
 * BLAKE2b of its kind and its path or program and arguments, as the policy
 * writes them ({workspace} and {slot} unfilled: within one slot they name
 * one place).  Its owner, group and time limit are left out: a change of
 * them is still the same consumer.  What a kept replacement records of
 * the consumers that took it (core/rotate.c).
 */
#define DELIVER_FINGERPRINT_MAX 33
void deliver_fingerprint(const struct policy_deliver *d, char out[DELIVER_FINGERPRINT_MAX]);

/*
 * Names consumer d of slot s as the store records the token it holds
 * (store/slots.h): the hex of a 128-bit BLAKE2b of a file's path with
 * {workspace} and {slot} filled and spelled as the delivery reaches it
 * (policy_path_lexical), so that a file moved from one slot to another is
 * one consumer; of a program's workspace, slot and arguments, since a
 * program is handed each slot's token apart (moved to another slot, it is
 * a new consumer there).  Owner, group and time limit are left out, as
 * deliver_fingerprint leaves them.
 */
void deliver_holder(const struct policy_slot *s, const struct policy_deliver *d,
		    char out[DELIVER_FINGERPRINT_MAX]);

/*
 * What file consumer d's file is given with each token, as the store
 * records it (slot_handed's given): "OWNER:GROUP" as the policy spells
 * them, either empty when unset (the file is then tokenwarden's own user's
 * and group's); NULL for a program.  A name cannot hold a colon, so the
 * text reads one way.  Allocated.
 */
char *deliver_given(const struct policy_deliver *d);

/* Whether given (deliver_given's, NULL: none recorded) is what d is given now. */
int deliver_given_is(const struct policy_deliver *d, const char *given);

/*
 * Whether fingerprints, deliver_fingerprint's each followed by a comma (as
 * schema 14 recorded the consumers a slot's token reached), names consumer d.
 */
int deliver_among(const char *fingerprints, const struct policy_deliver *d);

/*
 * deliver_one's failure after the consumer took p: a file consumer's file
 * was replaced, but its directory did not sync, so the consumer holds p now
 * and a crash may give it back the file it had.  p must not be deleted.
 */
#define DELIVER_HELD 1

/*
 * Delivers p to consumer d of slot s ({workspace} and {slot} filled in).
 * Returns 0; DELIVER_HELD with *cause; or -1 with *cause: what failed, and
 * for an exec consumer its exit status; never anything it printed.  When an exec consumer fails
 * having printed something, and output is not NULL, *output is the last
 * DELIVER_STDERR_TAIL bytes of it on one line, passed through deliver_mask:
 * for the log only, never the store or an alert, since pieces of a
 * credential shorter than DELIVER_MASK_MIN stay in it (the caller frees it;
 * else *output is NULL).  The caller must ignore SIGPIPE (a hook may exit
 * unread).  A test payload is refused: it must never replace real
 * credentials.  An exec consumer's program is checked first
 * (core/trust.h): one that someone other than root or the running user
 * could change is not run.
 */
int deliver_one(const struct policy_slot *s, const struct policy_deliver *d,
		const struct deliver_payload *p, char **cause, char **output);

/*
 * Rehearses delivering p (which must have test set; otherwise -1 with
 * *cause) to consumer d of slot s, leaving real credentials alone.  An exec
 * consumer is run exactly as deliver_one runs it, with p.  A file consumer's
 * file is not touched: a temporary file is created beside it as deliver_one
 * would (0600, exclusive, owner and group), written, synced and removed.
 * Returns 0, or -1 with *cause and *output as deliver_one's.  SIGPIPE as for
 * deliver_one.
 */
int deliver_rehearse(const struct policy_slot *s, const struct policy_deliver *d,
		     const struct deliver_payload *p, char **cause, char **output);

/*
 * Checks, changing nothing, what deliver_one checks before it delivers to
 * consumer d of slot s: an exec consumer's program exists and nobody but
 * root and the running user can change it (core/trust.h); a file
 * consumer's directory is found as deliver_one finds it and the running
 * user may create a file in it.  Returns 0, or -1 with *cause naming the
 * path at fault and the fix.
 */
int deliver_check(const struct policy_slot *s, const struct policy_deliver *d, char **cause);

/*
 * Removes what a delivery to file consumer d of slot s that was killed
 * between writing and renaming left beside the file: its temporary file,
 * which holds a token's secret (outfile_sweep_beside), from the directory
 * deliver_one would write in.  Nothing for an exec consumer.  Returns how
 * many files it removed, or -1 when it could not reach the directory
 * (missing, or one deliver_one would refuse to write in: a file left there
 * may come back with it) or could not remove such a file (read-only).
 */
int deliver_sweep(const struct policy_slot *s, const struct policy_deliver *d);

/*
 * Checks every exec consumer's program, for each slot that has it, as
 * deliver_one will before running it (core/trust.h): one error in d at the
 * consumer's line for each that someone other than root or the running user
 * could change, a warning for one that could not be looked at.  A program
 * that does not exist (where nobody else could put it) is not reported: the
 * policy may be checked on another host.
 */
void deliver_check_programs(const struct policy *p, struct diag_list *d);

#endif
