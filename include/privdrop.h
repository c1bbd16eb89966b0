/*
 * privdrop: give up root once the capture is open (OpenBSD tcpdump's way).
 *
 * The sensor parses attacker-controlled bytes; it does so as an unprivileged
 * user. privdrop_apply() optionally chroots, then setgroups/setresgid/
 * setresuid to the user, and verifies that every id took and that root
 * cannot be regained. Not running as root, it does nothing.
 */
#ifndef EW_PRIVDROP_H
#define EW_PRIVDROP_H

#include <stddef.h>

/*
 * Hands path (a directory the process keeps writing, e.g. the spool) and the
 * files directly in it to user before the drop. Returns 0 or -1 with err.
 */
int privdrop_prepare_dir(const char *user, const char *path, char *err, size_t errlen);

/* Drops to user (empty: stay), chrooting to dir first if dir is not empty. Returns 0 or -1 with err. */
int privdrop_apply(const char *user, const char *chroot_dir, char *err, size_t errlen);

#endif
