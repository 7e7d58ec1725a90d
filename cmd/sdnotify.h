/*
 * Telling systemd how the service is doing (sd_notify(3), without
 * libsystemd): a datagram to $NOTIFY_SOCKET, a path or an abstract "@name".
 */
#ifndef TW_SDNOTIFY_H
#define TW_SDNOTIFY_H

/* Sends state ("READY=1", ...).  Returns 1 sent, 0 when $NOTIFY_SOCKET is unset, -1 failed. */
int sdnotify(const char *state);

#endif
