/*
 * sandbox: a seccomp-bpf system call allowlist for each program, loaded once
 * its privileged setup is done (owner: the sandbox module, common/sandbox.c).
 *
 * The sensor parses attacker-chosen packet bytes and the collector parses
 * reports and HTTP requests that anyone on the network may shape. Dropping
 * root (privdrop.h) takes away the privileges; this takes away the kernel's
 * attack surface: after sandbox_apply() the process can only make the calls
 * its steady state needs (read the capture, talk to Redis, write its spool or
 * state, keep time, manage memory). It can never exec, fork, ptrace, open a
 * packet or netlink socket, load BPF, mount, change ids or make memory both
 * writable and executable.
 *
 * Order in main: open the capture / bind the listener, open the spool or
 * state directory, create the event loop, privdrop_apply(), then
 * sandbox_apply() last, before the first packet or request is parsed. A
 * filter cannot be removed once loaded; it is inherited by every thread.
 * sandbox_apply() sets PR_SET_NO_NEW_PRIVS itself (needed to load a filter
 * without CAP_SYS_ADMIN), so it also works when the program is not root.
 *
 * Unlisted calls are answered per mode: the sensor kills the whole process
 * (SIGSYS, logged by the kernel's audit as type=SECCOMP): on the packet path
 * an unexpected system call means the process is doing something its code
 * never does, i.e. it is exploited or badly broken, and continuing with a
 * quiet EPERM would hide exactly that. The collector's default is EPERM until
 * its call set has been measured under strace (see SECURITY.md); switch it
 * to SANDBOX_KILL then.
 */
#ifndef EW_SANDBOX_H
#define EW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum sandbox_profile {
	SANDBOX_SENSOR,         /* pcap read / live ring, libevent, hiredis, spool files */
	SANDBOX_COLLECTOR,      /* the sensor's set (no capture) + accept/listen/bind, threads */
};

enum sandbox_mode {
	SANDBOX_DEFAULT,        /* the profile's own: KILL for the sensor, ERRNO for the collector */
	SANDBOX_KILL,           /* unlisted call: SIGSYS kills the whole process */
	SANDBOX_ERRNO,          /* unlisted call fails with EPERM */
	SANDBOX_LOG,            /* unlisted call is allowed and logged (audit); for building lists */
};

/*
 * Loads p's filter into the calling process in p's default mode. Returns 0,
 * or -1 with err (libseccomp missing support, kernel without seccomp). On
 * failure no filter is loaded.
 */
int sandbox_apply(enum sandbox_profile p, char *err, size_t errlen);

/* As sandbox_apply(), with an explicit mode for unlisted calls. */
int sandbox_apply_mode(enum sandbox_profile p, enum sandbox_mode m, char *err, size_t errlen);

/* Parses a config value: "off", "on" (the default mode), "kill", "errno", "log".
 * Sets *enabled and *m. Returns 0, or -1 when s is none of them. */
int sandbox_parse_mode(const char *s, bool *enabled, enum sandbox_mode *m);

/* The profile's name for messages ("sensor", "collector"). Static string. */
const char *sandbox_profile_name(enum sandbox_profile p);

#endif
