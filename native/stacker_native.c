/*
 * stacker_native: the few Linux syscalls Node lacks and that layer packing/unpacking needs:
 * extended attributes on paths without following symlinks (l*xattr) and mknod (for overlay
 * whiteouts, char 0/0, and FIFOs), and mount/umount2 (an overlay mount without starting a
 * process, inside the build's namespaces), and memfd + execvpe (the planner hands its plan to
 * the builder and becomes it, without a fork of Node and a parent left waiting). Plain C over N-API so it builds against any Node >= 20 ABI
 * with no npm dependency.
 *
 * Paths may be passed as strings (UTF-8) or Buffers (raw bytes, for names that are not UTF-8).
 * Errors are thrown as Error objects with `.code` set to the errno name (e.g. "ENOTSUP"),
 * `.errno` to the number and `.syscall` to the call name, like Node's own fs errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "stacker_native: N-API call failed");    \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static const char *errno_name(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

/* Throws an fs-style error; returns NULL so callers can `return throw_errno(...)`. */
static napi_value throw_errno(napi_env env, int e, const char *syscall, const char *path) {
  char msg[512];
  napi_value err, code, message, num, sc;
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(e), strerror(e), syscall, path ? path : "");
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &err) != napi_ok) return NULL;
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "syscall", sc);
  napi_set_named_property(env, err, "code", code);
  napi_throw(env, err);
  return NULL;
}

/* Copies a string or Buffer argument into a fresh NUL-terminated heap string (caller frees). */
static char *get_path(napi_env env, napi_value v, const char *what) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (is_buf) {
    void *data;
    size_t len;
    if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return NULL;
    if (memchr(data, 0, len) != NULL) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain NUL bytes");
      return NULL;
    }
    char *s = malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, data, len);
    s[len] = 0;
    return s;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string or a Buffer", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain NUL bytes");
    return NULL;
  }
  return s;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "stacker_native: missing arguments");
    return false;
  }
  return true;
}

/* A Buffer argument's bytes (false with a TypeError pending when it is not a Buffer). */
static bool get_buffer(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a Buffer", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  return true;
}

/* llistxattr(path): string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = get_path(env, argv[0], "path");
  if (!path) return NULL;
  char *buf = NULL;
  ssize_t n;
  for (;;) {
    n = llistxattr(path, NULL, 0);
    if (n < 0) break;
    if (n == 0) break;
    char *nb = realloc(buf, (size_t)n);
    if (!nb) { n = -1; errno = ENOMEM; break; }
    buf = nb;
    ssize_t m = llistxattr(path, buf, (size_t)n);
    if (m >= 0) { n = m; break; }
    if (errno != ERANGE) { n = -1; break; } /* the list grew between the two calls: retry */
  }
  if (n < 0) {
    int e = errno;
    free(buf);
    napi_value r = throw_errno(env, e, "llistxattr", path);
    free(path);
    return r;
  }
  free(path);
  napi_create_array(env, &result);
  uint32_t idx = 0;
  for (ssize_t off = 0; off < n;) {
    size_t len = strnlen(buf + off, (size_t)(n - off));
    napi_value s;
    napi_create_string_utf8(env, buf + off, len, &s);
    napi_set_element(env, result, idx++, s);
    off += (ssize_t)len + 1;
  }
  free(buf);
  return result;
}

/* lgetxattr(path, name): Buffer | null (null when the attribute does not exist) */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = get_path(env, argv[0], "path");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name");
  if (!name) { free(path); return NULL; }
  char *buf = NULL;
  ssize_t n;
  for (;;) {
    n = lgetxattr(path, name, NULL, 0);
    if (n <= 0) break;
    char *nb = realloc(buf, (size_t)n);
    if (!nb) { n = -1; errno = ENOMEM; break; }
    buf = nb;
    ssize_t m = lgetxattr(path, name, buf, (size_t)n);
    if (m >= 0) { n = m; break; }
    if (errno != ERANGE) { n = -1; break; }
  }
  if (n < 0) {
    int e = errno;
    free(buf);
    free(name);
    if (e == ENODATA) { free(path); napi_get_null(env, &result); return result; }
    napi_value r = throw_errno(env, e, "lgetxattr", path);
    free(path);
    return r;
  }
  free(name);
  free(path);
  void *data;
  napi_status st = napi_create_buffer_copy(env, (size_t)n, n > 0 ? buf : "", &data, &result);
  free(buf);
  CHECK(st);
  return result;
}

/* lsetxattr(path, name, value: Buffer): void */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  void *data;
  size_t len;
  if (!get_buffer(env, argv[2], "value", &data, &len)) return NULL;
  char *path = get_path(env, argv[0], "path");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name");
  if (!name) { free(path); return NULL; }
  int rc = lsetxattr(path, name, data, len, 0);
  int e = errno;
  free(name);
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, e, "lsetxattr", path);
  free(path);
  return r;
}

/* lremovexattr(path, name): void */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = get_path(env, argv[0], "path");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name");
  if (!name) { free(path); return NULL; }
  int rc = lremovexattr(path, name);
  int e = errno;
  free(name);
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, e, "lremovexattr", path);
  free(path);
  return r;
}

/* mknod(path, mode, major, minor): void. `mode` includes the file type bits (S_IFCHR...). */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  uint32_t mode, major_n, minor_n;
  if (napi_get_value_uint32(env, argv[1], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &major_n) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &minor_n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mode, major and minor must be numbers");
    return NULL;
  }
  char *path = get_path(env, argv[0], "path");
  if (!path) return NULL;
  int rc = mknod(path, (mode_t)mode, makedev(major_n, minor_n));
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, errno, "mknod", path);
  free(path);
  return r;
}

/* mount(source, target, fstype, flags, data): void. `flags` are MS_* bits (MS_RDONLY = 1). */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  uint32_t flags;
  if (napi_get_value_uint32(env, argv[3], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    return NULL;
  }
  char *src = get_path(env, argv[0], "source");
  if (!src) return NULL;
  char *target = get_path(env, argv[1], "target");
  if (!target) { free(src); return NULL; }
  char *fstype = get_path(env, argv[2], "fstype");
  if (!fstype) { free(src); free(target); return NULL; }
  char *data = get_path(env, argv[4], "data");
  if (!data) { free(src); free(target); free(fstype); return NULL; }
  int rc = mount(src, target, fstype, (unsigned long)flags, data);
  int e = errno;
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, e, "mount", target);
  free(src);
  free(target);
  free(fstype);
  free(data);
  return r;
}

/* umount2(target, flags): void. `flags` are MNT_* bits (MNT_DETACH = 2). */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  uint32_t flags;
  if (napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    return NULL;
  }
  char *target = get_path(env, argv[0], "target");
  if (!target) return NULL;
  int rc = umount2(target, (int)flags);
  napi_value r = NULL;
  if (rc != 0) r = throw_errno(env, errno, "umount2", target);
  free(target);
  return r;
}

/* memfdWith(data): fd. An anonymous memory file holding `data`, positioned at its start, that
 * stays open across execve (no close-on-exec): how the planner hands the builder its plan. */
static napi_value js_memfd_with(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (!get_buffer(env, argv[0], "data", &data, &len)) return NULL;
  int fd = memfd_create("stacker-plan", 0);
  if (fd < 0) return throw_errno(env, errno, "memfd_create", NULL);
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, (const char *)data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "write", NULL);
    }
    done += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "lseek", NULL);
  }
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* Frees a NULL-terminated array of strings made by get_strings. */
static void free_strings(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* A JS array of strings as a NULL-terminated C array (NULL with an exception pending on error). */
static char **get_strings(napi_env env, napi_value arr, const char *what) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an array of strings", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) {
    napi_throw_error(env, "ENOMEM", "stacker_native: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    if (napi_get_element(env, arr, i, &el) != napi_ok || !(v[i] = get_path(env, el, what))) {
      free_strings(v);
      return NULL;
    }
  }
  return v;
}

/* The (file, argv, env) arguments of execvpe and spawnPiped; 0 with an exception pending on error. */
static int get_exec_args(napi_env env, napi_callback_info info, char **file, char ***args, char ***envp) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return 0;
  *file = get_path(env, argv[0], "file");
  if (!*file) return 0;
  *args = get_strings(env, argv[1], "argv");
  *envp = *args ? get_strings(env, argv[2], "env") : NULL;
  if (!*args || !*envp) {
    free(*file);
    free_strings(*args);
    return 0;
  }
  return 1;
}

/* execvpe(file, argv, env): replaces this process (searching PATH for `file`); returns only by
 * throwing. As for a process Node spawns: SIGPIPE and SIGXFSZ, which Node ignores, go back to
 * their defaults, stdio is open across the exec and blocking, and no SIGPROF is pending (all
 * restored if the exec fails). */
static napi_value js_execvpe(napi_env env, napi_callback_info info) {
  char *file, **args, **envp;
  if (!get_exec_args(env, info, &file, &args, &envp)) return NULL;
  /* SIGPIPE and SIGXFSZ back to their defaults. SIGPROF ignored: pending signals survive
   * execve, and V8's CPU profiler (--cpu-prof) sends SIGPROF to this thread from its sampling
   * thread, one of which, pending at the exec, would kill the next program; ignoring discards
   * them (the builder's own profiler sets its handler again). */
  static const struct { int sig; void (*handler)(int); } sigs[] = {{SIGPIPE, SIG_DFL}, {SIGXFSZ, SIG_DFL}, {SIGPROF, SIG_IGN}};
  struct sigaction old_sigs[3];
  for (int i = 0; i < 3; i++) {
    struct sigaction sa = {0};
    sa.sa_handler = sigs[i].handler;
    sigaction(sigs[i].sig, &sa, &old_sigs[i]);
  }
  /* Node marks its stdio close-on-exec and may make it non-blocking: hand it on as a spawned
   * child gets it (open, blocking). */
  int fd_flags[3], fl_flags[3];
  for (int fd = 0; fd < 3; fd++) {
    fd_flags[fd] = fcntl(fd, F_GETFD);
    fl_flags[fd] = fcntl(fd, F_GETFL);
    if (fd_flags[fd] >= 0) fcntl(fd, F_SETFD, fd_flags[fd] & ~FD_CLOEXEC);
    if (fl_flags[fd] >= 0) fcntl(fd, F_SETFL, fl_flags[fd] & ~O_NONBLOCK);
  }
  execvpe(file, args, envp);
  int e = errno;
  for (int fd = 0; fd < 3; fd++) {
    if (fd_flags[fd] >= 0) fcntl(fd, F_SETFD, fd_flags[fd]);
    if (fl_flags[fd] >= 0) fcntl(fd, F_SETFL, fl_flags[fd]);
  }
  for (int i = 0; i < 3; i++) sigaction(sigs[i].sig, &old_sigs[i], NULL);
  napi_value r = throw_errno(env, e, "execvpe", file);
  free(file);
  free_strings(args);
  free_strings(envp);
  return r;
}

/* A JS array of `n` numbers (NULL with an exception pending on error). */
static napi_value int_array(napi_env env, const int *vals, uint32_t n) {
  napi_value result;
  CHECK(napi_create_array_with_length(env, n, &result));
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    CHECK(napi_create_int32(env, vals[i], &v));
    CHECK(napi_set_element(env, result, i, v));
  }
  return result;
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* spawnPiped(file, argv, env): starts `file` (PATH searched) with stdin /dev/null, stdout and
 * stderr on pipes and fd 3 on a socket pair; returns [pid, stdout, stderr, control] (this
 * process's ends, close-on-exec). posix_spawn, i.e. vfork: Node's spawn forks this process,
 * whose page tables make that ~10 ms here. All signals default and unblocked in the child, as
 * Node spawns. The child is this process's to reap (waitpid below): libuv reaps only its own. */
static napi_value js_spawn_piped(napi_env env, napi_callback_info info) {
  char *file, **args, **envp;
  if (!get_exec_args(env, info, &file, &args, &envp)) return NULL;
  int out[2] = {-1, -1}, err[2] = {-1, -1}, ctl[2] = {-1, -1};
  int e = 0;
  const char *call = "pipe2";
  pid_t pid = -1;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    e = errno;
    goto done;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) != 0) {
    e = errno;
    call = "socketpair";
    goto done;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_adddup2(&fa, ctl[1], 3);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  e = posix_spawnp(&pid, file, &fa, &attr, args, envp);
  call = "posix_spawnp";
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
done:;
  int *ends[3] = {out, err, ctl};
  for (int j = 0; j < 3; j++) {
    if (ends[j][1] >= 0) close(ends[j][1]);
    if (e != 0 && ends[j][0] >= 0) close(ends[j][0]);
  }
  napi_value result = NULL;
  if (e != 0) {
    result = throw_errno(env, e, call, file);
  } else {
    int vals[4] = {(int)pid, out[0], err[0], ctl[0]};
    result = int_array(env, vals, 4);
  }
  free(file);
  free_strings(args);
  free_strings(envp);
  return result;
}

/* waitpid(pid): null while the child runs, else [exit code, signal number] (one of them -1). */
static napi_value js_waitpid(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t pid;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok) return type_error(env, "pid must be a number");
  int st;
  pid_t r;
  do r = waitpid(pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "waitpid", NULL);
  napi_value result;
  if (r == 0) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  int vals[2] = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : -1};
  return int_array(env, vals, 2);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdWith", NULL, js_memfd_with, NULL, NULL, NULL, napi_enumerable, NULL},
      {"execvpe", NULL, js_execvpe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawnPiped", NULL, js_spawn_piped, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitpid", NULL, js_waitpid, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
