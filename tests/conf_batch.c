/*
 * The kernel's scripts/kconfig/conf, parsing Kconfig once for many configs.
 *
 * Linked from the very objects `make` built conf from, with conf_read wrapped
 * (-Wl,--wrap=conf_read). conf's main() parses Kconfig (running every
 * $(shell,...) compiler probe), then calls conf_read(NULL) once to load
 * KCONFIG_CONFIG. With TALOSNB_CONF_BATCH set to config paths (one a line),
 * that call forks once per path: each child sets KCONFIG_CONFIG to its path and
 * goes on exactly as conf does (read, then --olddefconfig's write), from the
 * state the parse left; the parent waits for each and exits. So every config
 * gets what a fresh `conf --olddefconfig` run gives it, and the probes run once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int __real_conf_read(const char *name);

int __wrap_conf_read(const char *name)
{
	const char *list = getenv("TALOSNB_CONF_BATCH");
	char *paths, *path, *save = NULL;
	int failed = 0;

	if (!list)
		return __real_conf_read(name);
	paths = strdup(list);
	if (!paths) {
		perror("conf_batch");
		exit(1);
	}
	for (path = strtok_r(paths, "\n", &save); path; path = strtok_r(NULL, "\n", &save)) {
		pid_t pid;
		int status;

		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			perror("conf_batch: fork");
			exit(1);
		}
		if (pid == 0) {
			setenv("KCONFIG_CONFIG", path, 1);
			unsetenv("TALOSNB_CONF_BATCH");
			return __real_conf_read(name);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "conf_batch: conf failed on %s\n", path);
			failed = 1;
		}
	}
	free(paths);
	exit(failed);
}
