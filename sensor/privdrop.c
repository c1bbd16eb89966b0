/*
 * privdrop: chroot and drop to an unprivileged user, verified (privdrop.h).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privdrop.h"
#include "banned.h"

static int lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user \"%s\" does not exist (set [sensor] user)", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int privdrop_prepare_dir(const char *user, const char *path, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;
	if (geteuid() != 0 || !user[0])
		return 0;
	if (lookup(user, &uid, &gid, err, errlen))
		return -1;
	if (chown(path, uid, gid)) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (lchown(p, uid, gid)) {
			snprintf(err, errlen, "chown %s: %s", p, strerror(errno));
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int privdrop_apply(const char *user, const char *chroot_dir, char *err, size_t errlen)
{
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;
	if (geteuid() != 0 || !user[0])
		return 0;
	if (lookup(user, &uid, &gid, err, errlen))
		return -1;
	if (uid == 0) {
		snprintf(err, errlen, "refusing to run as root: set [sensor] user to an unprivileged user");
		return -1;
	}
	if (chroot_dir[0]) {
		if (chroot(chroot_dir) || chdir("/")) {
			snprintf(err, errlen, "chroot %s: %s", chroot_dir, strerror(errno));
			return -1;
		}
	}
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
		snprintf(err, errlen, "dropping to %s: %s", user, strerror(errno));
		return -1;
	}
	/* Verify, as OpenBSD does: every id took and root cannot come back. */
	if (getresgid(&rgid, &egid, &sgid) || getresuid(&ruid, &euid, &suid) || rgid != gid ||
	    egid != gid || sgid != gid || ruid != uid || euid != uid || suid != uid ||
	    setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "privileges were not dropped to %s", user);
		return -1;
	}
	/* No setuid helper may ever give privileges back to this process. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}
