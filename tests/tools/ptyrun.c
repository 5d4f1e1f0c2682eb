/*
 * ptyrun CMD [ARGS...]: runs CMD with a new pseudo-terminal as its controlling terminal and as
 * stdin (stdout and stderr too, unless the command line redirects them). Nothing is ever typed
 * into the terminal, so CMD sees a terminal that never reaches EOF: the situation of a user who
 * runs `punchcat CODE > file` in a shell. What CMD writes to the terminal is copied to our
 * stderr. Exits with CMD's status (128+N when killed by signal N).
 */
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char buf[4096];
	int master, status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: ptyrun CMD [ARGS...]\n");
		return 2;
	}
	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0) {
		perror("ptyrun: forkpty");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("ptyrun: exec");
		_exit(127);
	}
	for (;;) {
		ssize_t n = read(master, buf, sizeof buf);

		if (n > 0) {
			if (write(2, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;		/* EIO: the child closed its side of the terminal */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	close(master);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
