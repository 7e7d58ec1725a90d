/* tokenwarden(1) from the verb and option tables; see manpage.c. */
#ifndef TW_MANPAGE_H
#define TW_MANPAGE_H

#include <stdio.h>

/* Writes the man page, in scdoc, to f. */
void manpage_scdoc(FILE *f);

#endif
