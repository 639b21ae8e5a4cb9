/*
 * stacker-nsrun: a run step's sandbox for a build working outside the build namespaces
 * (src/runtime/ns-sandbox.ts drives it). It does what `unshare --map-root-user --map-auto` + a
 * shell + `mount` would, in one small process: enter a new user + mount namespace (only a mount
 * namespace for root) and have its ids mapped (newuidmap and newgidmap, run at once by two
 * children left outside), make mounts private, mount the build's overlay, let the parent
 * prepare the rootfs, make the mount points the parent asks for, then become bubblewrap. The
 * parent may start it before it knows what it will run (a build starts one while it gets to
 * its first step, so the namespace is ready when the step is).
 *
 *   stacker-nsrun ["UID_MAP" "GID_MAP"]     maps as newuidmap/newgidmap arguments after the pid,
 *                                           e.g. "0 1001 1 1 100000 65535"; none for root
 *
 * Fd 3 is a socket to the parent. It writes lines; the parent writes NUL-terminated fields:
 *   <- "mount" ROOTS_DIR OPTIONS TARGET    (OPTIONS relative to ROOTS_DIR)
 *   -> "ready"                             (mounted: the parent reads the rootfs via /proc/PID/root)
 *   <- "d" PATH | "f" PATH ...             (a directory with its parents, 0755 / an empty file, 0644)
 *   <- "arg" ARG ...                       (bubblewrap's arguments)
 *   <- "go"
 *   -> "running"                           (about to become bubblewrap: what follows on stderr is the run's)
 * Exit status before bubblewrap runs: 125 namespace or mount, 124 a mount point, 126 protocol
 * (the parent went away: an unused sandbox just ends). The reason is written to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONTROL 3

static void fail(int code, const char *what, const char *arg) {
  fprintf(stderr, "stacker-nsrun: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  _exit(code);
}

static char field[8192];
static char buf[65536];
static size_t buf_len, buf_pos;

/* Reads the next NUL-terminated field from the control socket into `field`. */
static int read_field(void) {
  size_t n = 0;
  for (;;) {
    if (buf_pos == buf_len) {
      ssize_t r = read(CONTROL, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
      buf_len = (size_t)r;
      buf_pos = 0;
    }
    char c = buf[buf_pos++];
    if (c == 0) break;
    if (n + 1 >= sizeof field) return -1;
    field[n++] = c;
  }
  field[n] = 0;
  return 0;
}

static void expect_field(void) {
  if (read_field() != 0) {
    fprintf(stderr, "stacker-nsrun: the parent went away\n");
    _exit(126);
  }
}

static void say(const char *msg) {
  size_t len = strlen(msg);
  if (write(CONTROL, msg, len) != (ssize_t)len) fail(126, "writing to the parent", NULL);
}

/* mkdir -p, 0755 (umask 022). */
static void make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(path, 0755) != 0 && errno != EEXIST) fail(124, "mkdir", path);
    *p = '/';
  }
  if (mkdir(path, 0755) != 0 && errno != EEXIST) fail(124, "mkdir", path);
}

static void make_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail(124, "creating", path);
  close(fd);
}

/* Splits a map argument ("0 1001 1 ...") into argv for `tool PID ...`. */
static char **map_argv(const char *tool, const char *pid, char *map) {
  static char *out[2][64];
  static int which;
  char **a = out[which++];
  int n = 0;
  a[n++] = (char *)tool;
  a[n++] = (char *)pid;
  for (char *tok = strtok(map, " "); tok != NULL && n < 62; tok = strtok(NULL, " ")) a[n++] = tok;
  a[n] = NULL;
  return a;
}

/*
 * Enters the new namespaces. An unprivileged caller's ids are mapped by newuidmap and newgidmap
 * (set-uid, so they must run outside the new user namespace): two children forked before it is
 * entered, released through a pipe once it is, run them at once, as unshare(1) runs them in turn.
 */
static void enter(int argc, char **argv) {
  if (argc < 3) {
    if (unshare(CLONE_NEWNS) != 0) fail(125, "unshare", NULL);
    return;
  }
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  char **maps[2] = {map_argv("newuidmap", pid, argv[1]), map_argv("newgidmap", pid, argv[2])};
  int release[2];
  if (pipe2(release, O_CLOEXEC) != 0) fail(125, "pipe", NULL);
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    if (kids[i] < 0) fail(125, "fork", NULL);
    if (kids[i] == 0) {
      close(release[1]);
      close(CONTROL);
      char c;
      if (read(release[0], &c, 1) != 1) _exit(0); /* the parent could not unshare */
      execvp(maps[i][0], maps[i]);
      fprintf(stderr, "stacker-nsrun: running %s: %s\n", maps[i][0], strerror(errno));
      _exit(127);
    }
  }
  close(release[0]);
  int err = unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ? errno : 0;
  if (err == 0 && write(release[1], "gg", 2) != 2) err = errno;
  close(release[1]);
  int ok = 1;
  for (int i = 0; i < 2; i++) {
    int st;
    while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ok = 0;
  }
  if (err != 0) {
    errno = err;
    fail(125, "unshare", NULL);
  }
  if (!ok) {
    fprintf(stderr, "stacker-nsrun: mapping the ids of the build namespace failed (newuidmap/newgidmap)\n");
    _exit(125);
  }
}

int main(int argc, char **argv) {
  umask(022);
  enter(argc, argv);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(125, "making mounts private", NULL);
  expect_field();
  if (strcmp(field, "mount") != 0) _exit(126);
  expect_field();
  if (chdir(field) != 0) fail(125, "chdir", field);
  expect_field();
  char *options = strdup(field);
  expect_field();
  if (options == NULL || mount("overlay", field, "overlay", 0, options) != 0) fail(125, "mounting the overlay at", field);
  say("ready\n");
  size_t nargs = 1, cap = 64;
  char **args = malloc(cap * sizeof *args);
  if (args == NULL) fail(125, "malloc", NULL);
  args[0] = "bwrap";
  for (;;) {
    expect_field();
    if (strcmp(field, "go") == 0) break;
    if (strcmp(field, "d") == 0) {
      expect_field();
      if (field[0] != '/') _exit(126);
      make_dirs(field);
    } else if (strcmp(field, "f") == 0) {
      expect_field();
      if (field[0] != '/') _exit(126);
      make_file(field);
    } else if (strcmp(field, "arg") == 0) {
      expect_field();
      if (nargs + 2 > cap) {
        cap *= 2;
        args = realloc(args, cap * sizeof *args);
        if (args == NULL) fail(125, "realloc", NULL);
      }
      args[nargs] = strdup(field);
      if (args[nargs++] == NULL) fail(125, "strdup", NULL);
    } else {
      fprintf(stderr, "stacker-nsrun: unknown request %s\n", field);
      _exit(126);
    }
  }
  args[nargs] = NULL;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0) fail(125, "opening /dev/null", NULL);
  if (chdir("/") != 0) fail(125, "chdir", "/");
  /* From here on, stderr is the run's (bwrap's and the script's). */
  say("running\n");
  close(CONTROL);
  execvp("bwrap", args);
  fprintf(stderr, "stacker-nsrun: running bwrap: %s\n", strerror(errno));
  return 127;
}
