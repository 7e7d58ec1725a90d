/* Running a child program: see spawn.h. */
#define _GNU_SOURCE /* syscall(SYS_close_range), usleep */
#include "core/spawn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t
spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
spawn_exec(int in, int out, int err, char *const argv[], char *const envp[], int flags)
{
	static const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	sigemptyset(&dfl.sa_mask);
	for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
		if (sigaction(reset[i], &dfl, NULL) < 0)
			_exit(126);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(126);
	if ((flags & SPAWN_GROUP) != 0)
		setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
#endif
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	if ((flags & SPAWN_PATH) != 0)
		execvp(argv[0], argv);
	else
		execve(argv[0], argv, envp);
	_exit(127);
}

/* Whether child pid has exited, left to be reaped (-1: never asked). */
static int
exited(pid_t pid)
{
	siginfo_t info = {0};

	return pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

/*
 * Passes on what out (non-blocking) holds now, up to 16 chunks: a program
 * the child started may go on writing there.
 */
static void
drain(int out, char *chunk, size_t size, spawn_sink sink, void *arg)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(out, chunk, size);

		if (n <= 0)
			break;
		sink(chunk, (size_t)n, arg);
	}
}

int
spawn_converse(pid_t pid, int in, int out, const char *data, size_t len, int64_t deadline,
	       spawn_sink sink, void *arg)
{
	size_t sent = 0;
	char chunk[512];
	int rc = 0;

	while (out >= 0) {
		struct pollfd pf[2] = {{out, POLLIN, 0}, {in, POLLOUT, 0}};
		int64_t left = deadline - spawn_now_ms();
		int r;

		if (left <= 0) {
			rc = -1;
			break;
		}
		if (exited(pid)) {
			drain(out, chunk, sizeof chunk, sink, arg);
			break;
		}
		/* Naps of a tenth of a second while a child runs: its exit ends the talk. */
		if (pid > 0 && left > 100)
			left = 100;
		r = poll(pf, in >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -1;
			break;
		}
		if (in >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
			ssize_t n = len > sent ? write(in, data + sent, len - sent) : 0;

			if (n > 0)
				sent += (size_t)n;
			/* Done, or the child stopped reading (EPIPE): its exit status decides. */
			if (sent == len || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				close(in);
				in = -1;
			}
		}
		if ((pf[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
			ssize_t n = read(out, chunk, sizeof chunk);

			if (n > 0)
				sink(chunk, (size_t)n, arg);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				out = -1; /* at its end; the caller closes the descriptor */
		}
	}
	if (in >= 0)
		close(in);
	sodium_memzero(chunk, sizeof chunk);
	return rc;
}

int
spawn_reap(pid_t pid, int64_t deadline, int *timed_out)
{
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (spawn_now_ms() >= deadline) {
			*timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		usleep(5000);
	}
}
