/*
 * The exit statuses of tokenwarden, one list used by every verb and
 * documented in README.md.
 */
#ifndef TW_EXITCODES_H
#define TW_EXITCODES_H

enum tw_exit {
	TW_EXIT_OK = 0,       /* everything asked for was done */
	TW_EXIT_FAILURE = 1,  /* an action was refused or failed for good */
	TW_EXIT_USAGE = 2,    /* bad arguments, configuration or credential */
	TW_EXIT_PENDING = 3,  /* work is left (plan: actions due; rotate: out of time) */
	TW_EXIT_FINDINGS = 4, /* an audit found violations */
	TW_EXIT_LOCKED = 5,   /* another run holds the lock */
	TW_EXIT_UNKNOWN = 6,  /* the server may have acted but the answer was lost */
	TW_EXIT_TEMPFAIL = 7, /* the API was unavailable or throttling; try again later */
};

#endif
