/*
 * stdin and stdout. Bytes go straight between the pipes and the stream's own buffers
 * (stream_write_reserve / stream_read_peek), so memory stays what the stream allocated:
 * a full send buffer stops reading stdin, a stalled stdout stops consuming, which closes the
 * receive window and so stops the sender.
 *
 * Regular files and /dev/null cannot be watched by epoll: they are "always ready" and read or
 * written from the pump, a slice at a time. Pipes and sockets are made non-blocking (and their
 * flags restored at exit); terminals are left alone.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "peer_int.h"

static bool
pollable(int fd, bool *regular, uint64_t *size)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return false;
	if (S_ISREG(sb.st_mode)) {
		off_t pos = lseek(fd, 0, SEEK_CUR);

		*regular = true;
		if (size != NULL && pos >= 0 && sb.st_size >= pos)
			*size = (uint64_t)(sb.st_size - pos);
		return false;
	}
	if (S_ISCHR(sb.st_mode) && !isatty(fd))
		return false;	/* /dev/null, /dev/zero: always ready */
	return true;
}

/*
 * With 64 KiB a pipe is drained in small pieces and the writer woken for each one. 1 MiB
 * (the default fs.pipe-max-size) lets both sides move big pieces: the sender's reads from
 * `tar` or `head` got cheaper and a loopback transfer about 6 % faster. It only grows a pipe;
 * a refusal (an unprivileged user over the limit) leaves it as it was.
 */
static void
grow_pipe(int fd)
{
	struct stat sb;
	int cur;

	if (fstat(fd, &sb) != 0 || !S_ISFIFO(sb.st_mode))
		return;
	cur = fcntl(fd, F_GETPIPE_SZ);
	if (cur >= 0 && cur < PEER_PIPE_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, PEER_PIPE_SIZE);
}

static void
make_nonblocking(int fd, int *saved, bool *set)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || isatty(fd) || (fl & O_NONBLOCK))
		return;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
		*saved = fl;
		*set = true;
	}
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	if (what & EV_WRITE)
		p->io.out_blocked = false;
	if (what & EV_READ)
		p->io.in_ready = true;
	peer_kick(p);
}

int
io_init(struct peer *p)
{
	struct peer_io *io = &p->io;
	bool reg = false, oreg = false;

	io->in_tty = isatty(0);
	io->in_pollable = pollable(0, &reg, &io->in_size);
	io->in_regular = reg;
	io->out_pollable = pollable(1, &oreg, NULL);
	grow_pipe(0);
	grow_pipe(1);
	if (io->in_pollable)
		make_nonblocking(0, &io->in_flags, &io->in_flags_set);
	if (io->out_pollable)
		make_nonblocking(1, &io->out_flags, &io->out_flags_set);
	if (io->in_pollable) {
		io->in_ev = event_new(p->base, 0, EV_READ | EV_PERSIST, on_io, p);
		if (io->in_ev == NULL)
			return -1;
	}
	if (io->out_pollable) {
		io->out_ev = event_new(p->base, 1, EV_WRITE, on_io, p);
		if (io->out_ev == NULL)
			return -1;
	}
	return 0;
}

void
io_restore(struct peer *p)
{
	struct peer_io *io = &p->io;

	if (io->in_ev != NULL)
		event_free(io->in_ev);
	if (io->out_ev != NULL)
		event_free(io->out_ev);
	io->in_ev = io->out_ev = NULL;
	if (io->in_flags_set)
		(void)fcntl(0, F_SETFL, io->in_flags);
	if (io->out_flags_set)
		(void)fcntl(1, F_SETFL, io->out_flags);
}

void
io_start(struct peer *p)
{
	(void)p;
}

static void
in_watch(struct peer *p, bool on)
{
	struct peer_io *io = &p->io;

	if (io->in_ev == NULL || io->in_ev_on == on)
		return;
	if (on)
		(void)event_add(io->in_ev, NULL);
	else
		(void)event_del(io->in_ev);
	io->in_ev_on = on;
}

static void
in_finish(struct peer *p)
{
	p->io.in_eof = true;
	in_watch(p, false);
	stream_shutdown_write(p->st);
}

/* stdin -> stream. Returns true when it stopped with more to do (slice used up). A pollable
 * stdin is read only after the loop said it is readable: a terminal stays blocking. */
static bool
read_input(struct peer *p)
{
	struct peer_io *io = &p->io;
	size_t moved = 0;

	while (!io->in_eof && moved < PEER_IO_SLICE) {
		size_t len;
		uint8_t *b;
		ssize_t n;

		if (io->in_pollable && !io->in_ready) {
			in_watch(p, true);
			return false;
		}
		b = stream_write_reserve(p->st, &len);
		if (b == NULL || len == 0) {
			in_watch(p, false);	/* send buffer full: wait for acknowledgments */
			return false;
		}
		if (len > PEER_IO_SLICE - moved)
			len = PEER_IO_SLICE - moved;
		n = read(0, b, len);
		if (n > 0) {
			stream_write_commit(p->st, (size_t)n);
			io->bytes_in += (uint64_t)n;
			moved += (size_t)n;
			if (io->in_pollable && ((size_t)n < len || io->in_tty))
				io->in_ready = false;	/* drained for now */
			continue;
		}
		if (n == 0) {
			in_finish(p);
			return false;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io->in_ready = false;
			continue;
		}
		log_err("cannot read stdin: %s", strerror(errno));
		in_finish(p);
		return false;
	}
	return !io->in_eof && moved >= PEER_IO_SLICE;
}

/* stream -> stdout. Returns true when it stopped with more to do. */
static bool
write_output(struct peer *p)
{
	struct peer_io *io = &p->io;
	size_t moved = 0;

	while (!io->out_blocked && !io->out_failed && moved < PEER_IO_SLICE) {
		const uint8_t *d;
		size_t len;
		ssize_t n;

		stream_read_peek(p->st, &d, &len);
		if (len == 0)
			return false;
		n = write(1, d, len);
		if (n > 0) {
			stream_read_consume(p->st, (size_t)n);
			io->bytes_out += (uint64_t)n;
			moved += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && io->out_ev != NULL) {
			io->out_blocked = true;
			(void)event_add(io->out_ev, NULL);
			return false;
		}
		io->out_failed = true;
		log_err("cannot write to stdout: %s", n < 0 ? strerror(errno) : "short write");
		return false;
	}
	return moved >= PEER_IO_SLICE;
}

void
io_pump(struct peer *p, uint64_t now)
{
	struct peer_io *io = &p->io;
	bool more = false;

	(void)now;
	if (p->st == NULL || p->closing)
		return;
	more |= write_output(p);
	/* A terminal on stdin cannot say EOF by itself when nobody types: the peer finishing
	 * its direction ends ours too. */
	if (io->in_tty && !io->in_eof && stream_read_eof(p->st))
		in_finish(p);
	if (!io->in_eof && p->have_path)
		more |= read_input(p);
	else if (!io->in_eof)
		in_watch(p, false);
	if (more)
		peer_kick(p);
}

bool
io_all_written(const struct peer *p)
{
	return p->st == NULL || stream_readable(p->st) == 0;
}
