/*
 * stacker-nsrun: a run step's sandbox for a build working outside the build namespaces
 * (src/runtime/ns-sandbox.ts drives it). It does what `unshare --map-root-user --map-auto` + a
 * shell + `mount` would, in one small process: enter a new user + mount namespace (only a mount
 * namespace for root) and have its ids mapped (newuidmap and newgidmap, run at once by two
 * children left outside), make mounts private, mount the build's overlay, make the mount points
 * the run needs (chrooted into the rootfs), then become bubblewrap with umask 022. The
 * parent may start it before it knows what it will run (a build starts one while it gets to
 * its first step, so the namespace is ready when the step is).
 *
 *   stacker-nsrun ["UID_MAP" "GID_MAP"]     maps as newuidmap/newgidmap arguments after the pid,
 *                                           e.g. "0 1001 1 1 100000 65535"; none for root
 *
 * Fd 3 is a socket to the parent. It writes lines; the parent writes NUL-terminated fields (all
 * at once, or waiting for "ready" between the mount and the rest: it is read in order):
 *   <- "mount" ROOTS_DIR OPTIONS TARGET    (OPTIONS relative to ROOTS_DIR)
 *   -> "ready"                             (mounted)
 *   <- "d" PATH | "f" PATH ...             (mount points the run needs: a directory / a file)
 *   <- "bwrap" PATH, "arg" ARG ...         (bubblewrap and its arguments)
 *   <- "go"
 *   -> "created" PATH ...                  (lines: the mount points' top-most components it made)
 *   -> "running"                           (about to become bubblewrap: what follows on stderr is the run's)
 * Exit status before bubblewrap runs: 125 namespace or mount, 124 a mount point, 127 no
 * bubblewrap, 126 protocol (the parent went away before sending its request: an unused sandbox
 * just ends). The reason is written to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* The last field read (grown as needed: an environment value may be long). */
static char *field;
static size_t field_cap;
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
    if (n + 1 >= field_cap) {
      field_cap = field_cap == 0 ? 4096 : field_cap * 2;
      field = realloc(field, field_cap);
      if (field == NULL) fail(125, "realloc", NULL);
    }
    if (c == 0) break;
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

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
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

/* An empty file, 0644, unless something is there (a symlink is followed: inside the chroot). */
static void make_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(124, "creating", path);
  close(fd);
}

/*
 * Makes a mount point the rootfs lacks, as src/engine/run-step.ts does inside the namespace: the
 * first missing component of PATH is made (a file if it is PATH itself and KIND is 'f') and
 * reported to the parent ("created /rel"), then whatever of PATH is still missing. Runs chrooted
 * into the rootfs, so the image's symlinks resolve inside it, never to the host's files.
 */
static void mount_point(char kind, char *path) {
  size_t len = strlen(path);
  for (size_t i = 1; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    char save = path[i];
    path[i] = 0;
    int missing = !exists(path);
    if (missing) {
      if (i == len && kind == 'f') make_file(path);
      else if (mkdir(path, 0755) != 0 && errno != EEXIST) fail(124, "mkdir", path);
      if (dprintf(CONTROL, "created %s\n", path) < 0) fail(124, "writing to the parent", NULL);
    }
    path[i] = save;
    if (missing) break;
  }
  if (exists(path)) return;
  if (kind == 'd') {
    make_dirs(path);
    return;
  }
  char *slash = strrchr(path, '/');
  if (slash != NULL && slash != path) {
    *slash = 0;
    make_dirs(path);
    *slash = '/';
  }
  make_file(path);
}

/* Makes the mount points (kinds[i], paths[i]) in a child chrooted into `rootfs`. */
static void mount_points(const char *rootfs, char *kinds, char **paths, size_t n) {
  if (n == 0) return;
  pid_t pid = fork();
  if (pid < 0) fail(124, "fork", NULL);
  if (pid == 0) {
    if (chroot(rootfs) != 0) fail(124, "chroot", rootfs);
    if (chdir("/") != 0) fail(124, "chdir", "/");
    for (size_t i = 0; i < n; i++) mount_point(kinds[i], paths[i]);
    _exit(0);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) fail(124, "waitpid", NULL);
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(124);
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

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return p;
  *cap = need * 2;
  p = realloc(p, *cap * size);
  if (p == NULL) fail(125, "realloc", NULL);
  return p;
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
  char *target = strdup(field);
  if (options == NULL || target == NULL) fail(125, "strdup", NULL);
  if (mount("overlay", target, "overlay", 0, options) != 0) fail(125, "mounting the overlay at", target);
  say("ready\n");
  size_t nargs = 0, args_cap = 0, npoints = 0, points_cap = 0, kinds_cap = 0;
  char **args = NULL, **points = NULL, *kinds = NULL, *bwrap = NULL;
  for (;;) {
    expect_field();
    if (strcmp(field, "go") == 0) break;
    if (strcmp(field, "d") == 0 || strcmp(field, "f") == 0) {
      char kind = field[0];
      expect_field();
      if (field[0] != '/') _exit(126);
      points = grow(points, &points_cap, npoints + 1, sizeof *points);
      kinds = grow(kinds, &kinds_cap, npoints + 1, 1);
      kinds[npoints] = kind;
      if ((points[npoints++] = strdup(field)) == NULL) fail(125, "strdup", NULL);
    } else if (strcmp(field, "bwrap") == 0) {
      expect_field();
      if ((bwrap = strdup(field)) == NULL) fail(125, "strdup", NULL);
    } else if (strcmp(field, "arg") == 0) {
      expect_field();
      args = grow(args, &args_cap, nargs + 3, sizeof *args);
      if ((args[1 + nargs++] = strdup(field)) == NULL) fail(125, "strdup", NULL);
    } else {
      fprintf(stderr, "stacker-nsrun: unknown request %s\n", field);
      _exit(126);
    }
  }
  if (bwrap == NULL) _exit(126);
  args = grow(args, &args_cap, nargs + 2, sizeof *args);
  args[0] = "bwrap";
  args[1 + nargs] = NULL;
  mount_points(target, kinds, points, npoints);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0) fail(125, "opening /dev/null", NULL);
  if (chdir("/") != 0) fail(125, "chdir", "/");
  if (access(bwrap, X_OK) != 0) fail(127, "running", bwrap);
  /* From here on, stderr is the run's (bwrap's and the script's). */
  say("running\n");
  close(CONTROL);
  execv(bwrap, args);
  fprintf(stderr, "stacker-nsrun: running %s: %s\n", bwrap, strerror(errno));
  return 127;
}
