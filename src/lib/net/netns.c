/* SPDX-License-Identifier: ISC */
/*
 * Network namespaces the daemon owns (include/twofold/net.h).
 *
 * setns(2) and unshare(2) with CLONE_NEWNET change only the calling
 * thread's namespace; twofoldd has job threads, so every function here
 * enters on its own thread and always returns before it does anything
 * else, on the error paths too.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "twofold/net.h"

/* The calling thread's own namespace, not the thread group leader's
 * (/proc/self would name that one). */
#define THREAD_NETNS "/proc/thread-self/ns/net"

int tf_netns_enter(int nsfd, int *oldfd)
{
	_cleanup_close_ int old = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
	if (old < 0)
		return tf_negerrno();
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return tf_negerrno();
	*oldfd = steal_fd(&old);
	return 0;
}

int tf_netns_leave(int oldfd)
{
	int r = 0;
	if (oldfd < 0)
		return -EBADF;
	if (setns(oldfd, CLONE_NEWNET) < 0) {
		/* The thread would go on in the wrong namespace: a veth, a
		 * route or a socket meant for the uplink would land in a
		 * persona's. Nothing a caller can do about it is safe. */
		abort();
	}
	close(oldfd);
	return r;
}

int tf_net_enter_opt(int nsfd, int *oldfd)
{
	if (nsfd < 0) {
		*oldfd = -1;
		return 0;
	}
	return tf_netns_enter(nsfd, oldfd);
}

void tf_net_leave_opt(int *oldfd)
{
	if (*oldfd >= 0) {
		int saved = errno;
		tf_netns_leave(*oldfd);
		errno = saved;
	}
	*oldfd = -1;
}

int tf_netns_create(int *nsfd)
{
	_cleanup_close_ int old = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	int r;
	if (old < 0)
		return tf_negerrno();
	/* unshare on this thread only: the new namespace is owned by the
	 * caller's user namespace (the daemon's, the initial one), so no
	 * persona's root, whose user namespace is a child, has
	 * CAP_NET_ADMIN over it. */
	if (unshare(CLONE_NEWNET) < 0)
		return tf_negerrno();
	fd = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? tf_negerrno() : tf_net_link_up(-1, "lo", 0);
	tf_netns_leave(steal_fd(&old));
	if (r < 0)
		return r;
	*nsfd = steal_fd(&fd);
	return 0;
}

int tf_netns_socket(int nsfd, int domain, int type, int proto)
{
	int old = -1, fd, r;
	r = tf_net_enter_opt(nsfd, &old);
	if (r < 0)
		return r;
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	r = fd < 0 ? tf_negerrno() : fd;
	tf_net_leave_opt(&old);
	return r;
}

int tf_net_sysctl(int nsfd, const char *path, const char *value)
{
	char full[256];
	int old = -1, fd, r;
	size_t n = strlen(value);
	/* a relative path under /proc/sys only */
	if (path[0] == '/' || strstr(path, ".."))
		return -EINVAL;
	if ((size_t)snprintf(full, sizeof(full), "/proc/sys/%s", path) >=
	    sizeof(full))
		return -ENAMETOOLONG;
	r = tf_net_enter_opt(nsfd, &old);
	if (r < 0)
		return r;
	/* write while inside too: the net entries of /proc/sys resolve
	 * against the caller's namespace */
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		r = tf_negerrno();
	else
		r = write(fd, value, n) == (ssize_t)n ? 0 : tf_negerrno();
	tf_net_leave_opt(&old);
	if (fd >= 0)
		close(fd);
	return r;
}
