/*
 * maxrss FILE CMD [ARGS...]: runs CMD, then writes its peak resident set size in KiB (from
 * wait4's rusage) to FILE. Exits with CMD's status (128+N when killed by signal N).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: maxrss FILE CMD [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("maxrss: exec");
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 1;
	f = fopen(argv[1], "w");
	if (f == NULL) {
		perror("maxrss: output file");
		return 1;
	}
	fprintf(f, "%ld\n", ru.ru_maxrss);
	fclose(f);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
