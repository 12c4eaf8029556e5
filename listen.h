/*
 * listen.h: where the conversation is.  stdin/stdout (inetd, xinetd,
 * tcpserver, systemd with StandardInput=socket), or fd 3 when systemd passes
 * the connection by the LISTEN_FDS protocol (sd_listen_fds(3)).
 */
#ifndef LISTEN_H
#define LISTEN_H

/* Set *in and *out; removes the LISTEN_* variables from the environment.
 * Returns -1 when systemd passed a listening socket (Accept=no). */
int listen_conversation(int *in, int *out);

#endif
