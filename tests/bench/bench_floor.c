/*
 * The engine benchmark's floor: the kernel work that any rotation must do
 * under the design's rules, done alone, with no SQLite, libcurl, libsodium or
 * JSON, so that the engine's CPU per rotation can be read against what the
 * machine itself charges for it.  Per rotation, as `rotate` orders it:
 *
 *   the intent, a commit synced before the create goes out: one WAL frame
 *     (a 24-byte header and a 4 KiB page) written, then fdatasync;
 *   the create, on a connection of its own: connect, a request, its answer
 *     (the size of Mode's), close;
 *   the answer and the proof, a synced commit: one frame, fdatasync;
 *   the verify, on the connection kept alive: a request and its answer;
 *   the delivery: a new file written and fsynced, renamed over the
 *     consumer's, and its directory fsynced;
 *   the activation, a commit left unsynced: one frame;
 *   the old token's delete, on the kept connection.
 *
 * One page a commit is the least a commit writes (the engine writes about
 * nine), and the server is a child process whose CPU is not counted, so the
 * figure is a floor.  The log is in DIR and the consumer's file in --out
 * (default DIR): the engine benchmark puts them where it puts the store and
 * the consumers' files.  Prints the CPU ms per rotation of this process
 * (user, system) of each run and their median; exits 2 on a usage or setup
 * error.  bench_api.py runs it for the engine benchmark; ctest, briefly.
 *
 * usage: bench_floor --dir DIR [--out DIR] [--rotations N] [--runs R]
 */
#include "measure.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REQUEST_BYTES 320  /* a create's request line, headers and body, about */
#define ANSWER_BYTES 480   /* its answer: headers and Mode's 347-byte token */
#define DELIVERY_BYTES 420 /* the file a consumer gets */
#define FRAME_BYTES (24 + 4096)
#define WAL_WRAP (4 << 20) /* the log is rewritten from its start, as after a checkpoint */
#define SERVER_FDS 8

/* The server's pid in the process that forked it, which stops it on its way out. */
static pid_t server;

static void
die(const char *what)
{
	fprintf(stderr, "bench_floor: %s: %s\n", what, strerror(errno));
	if (server > 0)
		kill(server, SIGTERM);
	exit(2);
}

/* The server: answers every REQUEST_BYTES it reads on a connection with ANSWER_BYTES. */
static void
serve(int ls)
{
	struct pollfd p[SERVER_FDS];
	size_t got[SERVER_FDS] = {0};
	char buf[4096], answer[ANSWER_BYTES];
	int n = 1;

	memset(answer, 'a', sizeof answer);
	p[0] = (struct pollfd){.fd = ls, .events = POLLIN};
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			_exit(1);
		for (int i = n - 1; i >= 1; i--) {
			ssize_t r;

			if (p[i].revents == 0)
				continue;
			r = read(p[i].fd, buf, sizeof buf);
			if (r <= 0) {
				close(p[i].fd);
				p[i] = p[--n];
				got[i] = got[n];
				continue;
			}
			for (got[i] += (size_t)r; got[i] >= REQUEST_BYTES; got[i] -= REQUEST_BYTES)
				if (write(p[i].fd, answer, sizeof answer) != (ssize_t)sizeof answer)
					_exit(1);
		}
		if ((p[0].revents & POLLIN) && n < SERVER_FDS) {
			int c = accept(ls, NULL, NULL);

			if (c >= 0) {
				p[n] = (struct pollfd){.fd = c, .events = POLLIN};
				got[n++] = 0;
			}
		}
	}
}

static int
dial(const struct sockaddr_in *at)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	/* As libcurl sets it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)at, sizeof *at) < 0)
		die("connect");
	return fd;
}

/* One request and its whole answer, waited for with poll as libcurl waits. */
static void
exchange(int fd)
{
	char req[REQUEST_BYTES], buf[ANSWER_BYTES];
	size_t have = 0;

	memset(req, 'r', sizeof req);
	if (send(fd, req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req)
		die("send");
	while (have < sizeof buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, -1) < 0)
			die("poll");
		r = recv(fd, buf + have, sizeof buf - have, 0);
		if (r <= 0)
			die("recv");
		have += (size_t)r;
	}
}

struct log {
	int fd;
	off_t at;
};

/* A commit of one frame, synced or not. */
static void
commit(struct log *l, const char *frame, int synced)
{
	if (pwrite(l->fd, frame, FRAME_BYTES, l->at) != FRAME_BYTES)
		die("pwrite");
	l->at = l->at + FRAME_BYTES > WAL_WRAP ? 0 : l->at + FRAME_BYTES;
	if (synced && fdatasync(l->fd) < 0)
		die("fdatasync");
}

/* The consumer's file replaced as deliver does it: a new file, fsync, rename, directory fsync. */
static void
deliver(const char *dir, const char *tmp, const char *dest)
{
	char body[DELIVERY_BYTES];
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	memset(body, 'd', sizeof body);
	if (fd < 0)
		die(tmp);
	if (write(fd, body, sizeof body) != (ssize_t)sizeof body || fsync(fd) < 0)
		die("writing the delivery");
	close(fd);
	if (rename(tmp, dest) < 0)
		die("rename");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		die(dir);
	close(fd);
}

static double
ms_of(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_usec - a->tv_usec) / 1e3;
}

/*
 * One run of n rotations, the log in dir and the consumer's file in out;
 * sets the CPU ms per rotation.
 */
static void
run(const char *dir, const char *out, const struct sockaddr_in *at, int n, double *user,
    double *sys)
{
	char wal[4096], tmp[4096], dest[4096], frame[FRAME_BYTES];
	struct rusage r0, r1;
	struct log l = {0};
	int keep;

	snprintf(wal, sizeof wal, "%s/floor.db-wal", dir);
	snprintf(tmp, sizeof tmp, "%s/consumer.json.tmp", out);
	snprintf(dest, sizeof dest, "%s/consumer.json", out);
	memset(frame, 'f', sizeof frame);
	l.fd = open(wal, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (l.fd < 0)
		die(wal);
	keep = dial(at);
	getrusage(RUSAGE_SELF, &r0);
	for (int i = 0; i < n; i++) {
		int c;

		commit(&l, frame, 1);
		c = dial(at);
		exchange(c);
		close(c);
		commit(&l, frame, 1);
		exchange(keep);
		deliver(out, tmp, dest);
		commit(&l, frame, 0);
		exchange(keep);
	}
	getrusage(RUSAGE_SELF, &r1);
	close(keep);
	close(l.fd);
	unlink(wal);
	unlink(dest);
	*user = ms_of(&r0.ru_utime, &r1.ru_utime) / n;
	*sys = ms_of(&r0.ru_stime, &r1.ru_stime) / n;
}

int
main(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"out", required_argument, NULL, 'o'},
	    {"rotations", required_argument, NULL, 'n'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	struct sockaddr_in at = {.sin_family = AF_INET};
	socklen_t len = sizeof at;
	double total[MEASURE_MAX_RUNS];
	const char *dir = NULL, *out = NULL;
	int runs = 3, n = 1000, c, ls;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'n':
			if (measure_parse_count(optarg, 100000000, &n) < 0)
				n = 0;
			break;
		case 'r':
			if (measure_parse_runs(optarg, &runs) < 0)
				n = 0;
			break;
		default:
			n = 0;
		}
	}
	if (dir == NULL || n < 1 || optind != argc) {
		fprintf(stderr,
			"usage: bench_floor --dir DIR [--out DIR] [--rotations N] [--runs R]\n");
		return 2;
	}
	at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&at, sizeof at) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&at, &len) < 0)
		die("listening on loopback");
	server = fork();
	if (server < 0)
		die("fork");
	if (server == 0)
		serve(ls);
	close(ls);
	for (int i = 0; i < runs; i++) {
		double user, sys;

		run(dir, out != NULL ? out : dir, &at, n, &user, &sys);
		total[i] = user + sys;
		printf("floor run %d: %.3f ms CPU per rotation (user %.3f, system %.3f)\n", i + 1,
		       total[i], user, sys);
	}
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	printf("floor: %.3f ms CPU per rotation, median of %d runs of %d rotations\n",
	       measure_median(total, runs), runs, n);
	return 0;
}
