// Containment probes, run as RUN steps by containment_test.ts (built with gcc -static, so it needs nothing
// from the image). Each subcommand tries one way out of a container and prints one line:
//   RESULT <name> <verdict> <detail>
// verdict: "contained" (every attempt was refused), "escaped" (one worked), "absent" (the kernel has no
// such interface), "created" (dev-create only: the test decides by looking at the host's /dev).
// The probe always exits 0, so one finding never hides the others.
//
// These probes also run against sandboxes that do NOT contain them, so every attempt must be harmless when
// it succeeds: files are opened for writing but never written, a cgroup made is removed at once, a mount is
// made only inside the build root and undone, ptrace never stops its target, and whatever a successful
// escape reaches is only read, apart from the marker files the test asked for in its own temp directory.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DETAIL_MAX 1500

struct detail {
  char s[DETAIL_MAX];
  size_t n;
};

static void add(struct detail *d, const char *fmt, ...) {
  if (d->n >= DETAIL_MAX - 1) return;
  if (d->n > 0) d->s[d->n++] = ';', d->s[d->n] = 0;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(d->s + d->n, DETAIL_MAX - d->n, fmt, ap);
  va_end(ap);
  if (w > 0) d->n += (size_t)w;
  if (d->n >= DETAIL_MAX) d->n = DETAIL_MAX - 1;
}

static void report(const char *name, const char *verdict, const struct detail *d) {
  char buf[DETAIL_MAX + 128];
  int n = snprintf(buf, sizeof buf - 1, "RESULT %s %s %s", name, verdict, d->n ? d->s : "-");
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
  // Spaces inside the detail are fine; a newline would break the one-line format.
  for (int i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = ' ';
  buf[n++] = '\n';
  if (write(1, buf, (size_t)n) < 0) _exit(0);
}

static const char *err(int e) { return e == 0 ? "ok" : strerrorname_np(e) ? strerrorname_np(e) : strerror(e); }

// The child's findings come back through a shared page: a child may have changed its root, namespaces or
// tracees, and all of that ends with it.
struct shared {
  int escaped;
  struct detail d;
};

static struct shared *in_child(void (*fn)(struct shared *, void *), void *arg) {
  static struct shared *sh;
  if (!sh) {
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { perror("mmap"); exit(0); }
  }
  memset(sh, 0, sizeof *sh);
  pid_t p = fork();
  if (p < 0) { add(&sh->d, "fork: %s", err(errno)); return sh; }
  if (p == 0) { fn(sh, arg); _exit(0); }
  int st;
  if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st)) add(&sh->d, "child ended abnormally (status %d)", st);
  return sh;
}

// Runs fn in a child, appends its findings to d, and says whether it escaped.
static int child_into(struct detail *d, void (*fn)(struct shared *, void *), void *arg) {
  struct shared *sh = in_child(fn, arg);
  add(d, "%s", sh->d.s);
  return sh->escaped;
}

// The classic double chroot: chroot into a subdirectory while the working directory stays outside it, walk
// up with "..", and chroot to where the walk ended. Under chroot(2) alone that is the host's real root; under
// pivot_root it is the container's own root. Returns 0 or the errno of the step that failed.
static int double_chroot(void) {
  char dir[64];
  snprintf(dir, sizeof dir, "kiln-sec-chroot-%d", (int)getpid());
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return errno;
  if (chroot(dir) != 0) { int e = errno; rmdir(dir); return e; }
  rmdir(dir);
  for (int i = 0; i < 64; i++) if (chdir("..") != 0) break;
  if (chroot(".") != 0) return errno;
  return chdir("/") != 0 ? errno : 0;
}

static int file_contains(const char *path, const char *needle, size_t nlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[4096];
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r < 0) return -EIO;
  return memmem(buf, (size_t)r, needle, nlen) != NULL;
}

static int cmdline_has(const char *pid, const char *marker) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%s/cmdline", pid);
  return file_contains(p, marker, strlen(marker)) == 1;
}

// ---- chroot-escape <name> <planted file> <token> <marker to create>

struct escape_args { const char *planted, *token, *marker; };

static void escape_child(struct shared *sh, void *a) {
  struct escape_args *x = a;
  int e = double_chroot();
  add(&sh->d, "double chroot: %s", err(e));
  int c = file_contains(x->planted, x->token, strlen(x->token));
  if (c == 1) sh->escaped = 1, add(&sh->d, "read the planted host file %s", x->planted);
  else add(&sh->d, "planted host file: %s", c == 0 ? "other content" : err(-c));
  int fd = open(x->marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) sh->escaped = 1, close(fd), add(&sh->d, "created %s", x->marker);
  else add(&sh->d, "creating the marker: %s", err(errno));
}

static void probe_chroot(char **av) {
  struct escape_args x = {av[1], av[2], av[3]};
  struct shared *sh = in_child(escape_child, &x);
  report(av[0], sh->escaped ? "escaped" : "contained", &sh->d);
}

// ---- dev <host device path>...: opening (read-only) the host's disks and kernel log by path, and any
// block device the RUN's /dev holds.

static void try_open_ro(struct detail *d, int *escaped, const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) { *escaped = 1; close(fd); add(d, "opened %s", path); }
  else add(d, "%s: %s", path, err(errno));
}

static void probe_dev(int ac, char **av) {
  struct detail d = {0};
  int escaped = 0;
  for (int i = 1; i < ac; i++) try_open_ro(&d, &escaped, av[i]);
  try_open_ro(&d, &escaped, "/dev/kmsg");
  DIR *dir = opendir("/dev");
  int blocks = 0;
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir))) {
      char p[300];
      struct stat st;
      snprintf(p, sizeof p, "/dev/%s", e->d_name);
      if (lstat(p, &st) == 0 && S_ISBLK(st.st_mode)) { blocks++; try_open_ro(&d, &escaped, p); }
    }
    closedir(dir);
  }
  add(&d, "%d block devices in /dev", blocks);
  report("dev-read", escaped ? "escaped" : "contained", &d);
}

// ---- dev-create <path>: the file is left for the test, which looks for it in the host's /dev and removes it.

static void probe_dev_create(char **av) {
  struct detail d = {0};
  int fd = open(av[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd), add(&d, "created %s in the RUN's /dev", av[1]);
  else add(&d, "%s: %s", av[1], err(errno));
  report("dev-create", fd >= 0 ? "created" : "contained", &d);
}

// ---- mount <dir inside the build root>

static void probe_mount(char **av) {
  struct detail d = {0};
  int escaped = 0;
  if (mkdir(av[1], 0700) != 0 && errno != EEXIST) add(&d, "mkdir %s: %s", av[1], err(errno));
  if (mount("kiln-sec", av[1], "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0) {
    escaped = 1;
    add(&d, "mounted a tmpfs on %s", av[1]);
    if (umount2(av[1], MNT_DETACH) != 0) add(&d, "umount: %s", err(errno));
  } else add(&d, "mount tmpfs: %s", err(errno));
  rmdir(av[1]);
  report("mount", escaped ? "escaped" : "contained", &d);
}

// ---- mknod <path inside the build root> <major> <minor>: a block device node, then reading it.

static void probe_mknod(char **av) {
  struct detail d = {0};
  int escaped = 0;
  unsigned maj = (unsigned)atoi(av[2]), min = (unsigned)atoi(av[3]);
  unlink(av[1]);
  if (mknod(av[1], S_IFBLK | 0600, makedev(maj, min)) != 0) {
    add(&d, "mknod b %u:%u: %s", maj, min, err(errno));
  } else {
    add(&d, "mknod b %u:%u: ok", maj, min);
    int fd = open(av[1], O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[512];
      ssize_t r = read(fd, buf, sizeof buf);
      escaped = 1;
      add(&d, "opened it, read %zd bytes", r);
      close(fd);
    } else add(&d, "open: %s", err(errno));
    unlink(av[1]);
  }
  report("mknod", escaped ? "escaped" : "contained", &d);
}

// ---- open-for-write probes on /proc and /sys: open O_WRONLY, never write.

static int open_wo(struct detail *d, const char *path) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { close(fd); add(d, "opened %s for writing", path); return 1; }
  add(d, "%s: %s", path, err(errno));
  return 0;
}

static const char *first_existing(const char *const *paths) {
  for (; *paths; paths++) if (access(*paths, F_OK) == 0) return *paths;
  return NULL;
}

static void probe_open_wo(const char *name, const char *const *candidates) {
  struct detail d = {0};
  const char *p = first_existing(candidates);
  if (!p) { add(&d, "none of the probed files exist (first: %s)", candidates[0]); report(name, "absent", &d); return; }
  report(name, open_wo(&d, p) ? "escaped" : "contained", &d);
}

static const char *const PROC_SYS[] = {"/proc/sys/vm/swappiness", "/proc/sys/kernel/panic", "/proc/sys/fs/file-max", NULL};
static const char *const SYSRQ[] = {"/proc/sysrq-trigger", NULL};
// Docker's read-only /proc paths besides /proc/sys and sysrq-trigger.
static const char *const PROC_RO[] = {"/proc/irq/default_smp_affinity", "/proc/bus/pci/devices", NULL};
static const char *const SYS_ATTRS[] = {"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/ksm/run", "/sys/kernel/rcu_normal", NULL};

// ---- sys: a sysfs attribute opened for writing, and if /sys is read-only, a remount of it read-write.
// MS_REMOUNT|MS_BIND changes only this mount namespace's view, never the sysfs superblock the host uses.

static void probe_sys(void) {
  struct detail d = {0};
  const char *p = first_existing(SYS_ATTRS);
  if (!p) { add(&d, "no probed sysfs attribute exists"); report("sys", "absent", &d); return; }
  int escaped = open_wo(&d, p);
  if (!escaped) {
    if (mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
      add(&d, "remounted /sys read-write");
      escaped = 1;
      open_wo(&d, p);
    } else add(&d, "remount /sys rw: %s", err(errno));
  }
  report("sys", escaped ? "escaped" : "contained", &d);
}

// ---- cgroup <name>: mkdir <name> (then rmdir at once) in each hierarchy under /sys/fs/cgroup: success there
// is a new cgroup. On cgroup v1 hosts /sys/fs/cgroup itself is a tmpfs (runc makes a private one, mode 555,
// writable with CAP_DAC_OVERRIDE, as under Docker): a directory made there is no cgroup and is left in place
// for the test, which looks for it in the host's /sys/fs/cgroup and removes it.

#define CGROUP1_MAGIC 0x27e0eb
#define CGROUP2_MAGIC 0x63677270

static int is_cgroupfs(const char *dir) {
  struct statfs fs;
  return statfs(dir, &fs) == 0 && (fs.f_type == CGROUP1_MAGIC || fs.f_type == CGROUP2_MAGIC);
}

static int try_cgroup(struct detail *d, const char *dir, const char *name) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (mkdir(p, 0700) != 0) { add(d, "%s: %s", dir, err(errno)); return 0; }
  if (!is_cgroupfs(dir)) { add(d, "created %s (not a cgroup: %s is not a cgroup hierarchy; left for the host check)", p, dir); return 0; }
  int r = rmdir(p);
  add(d, "created the cgroup %s%s", p, r == 0 ? " (removed)" : " (could not remove it)");
  return 1;
}

static void probe_cgroup(char **av) {
  struct detail d = {0};
  const char *top = "/sys/fs/cgroup";
  int escaped = try_cgroup(&d, top, av[1]);
  DIR *dir = opendir(top);
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir))) {
      // Skips the directory made a moment ago in the tmpfs above.
      if (e->d_name[0] == '.' || e->d_type != DT_DIR || !strcmp(e->d_name, av[1])) continue;
      char p[300];
      snprintf(p, sizeof p, "%s/%s", top, e->d_name);
      escaped |= try_cgroup(&d, p, av[1]);
    }
    closedir(dir);
  } else add(&d, "opendir %s: %s", top, err(errno));
  report("cgroup", escaped ? "escaped" : "contained", &d);
}

// ---- pids <marker head> <marker tail>: the test runs a host process whose argv holds head+tail (given in two
// parts so that this probe's own argv does not match); look for it in the RUN's /proc, and in the /proc of
// wherever the double chroot lands (the host's, when chroot is all that contains the RUN).

static void scan_proc(struct shared *sh, const char *where, const char *marker) {
  DIR *dir = opendir("/proc");
  if (!dir) { add(&sh->d, "%s: opendir /proc: %s", where, err(errno)); return; }
  int seen = 0;
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    seen++;
    if (cmdline_has(e->d_name, marker)) { sh->escaped = 1; add(&sh->d, "%s: found the host process as pid %s", where, e->d_name); }
  }
  closedir(dir);
  add(&sh->d, "%s: %d processes visible", where, seen);
}

static void pids_here(struct shared *sh, void *marker) { scan_proc(sh, "own /proc", marker); }

static void pids_escaped(struct shared *sh, void *marker) {
  int e = double_chroot();
  if (e) { add(&sh->d, "double chroot: %s", err(e)); return; }
  scan_proc(sh, "/proc after the double chroot", marker);
}

static char *join2(const char *a, const char *b) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%s%s", a, b);
  return buf;
}

static void probe_pids(char **av) {
  struct detail d = {0};
  int escaped = 0;
  char *marker = join2(av[1], av[2]);
  void (*fns[])(struct shared *, void *) = {pids_here, pids_escaped};
  for (int i = 0; i < 2; i++) escaped |= child_into(&d, fns[i], marker);
  report("pids", escaped ? "escaped" : "contained", &d);
}

// ---- ptrace <host pid> <marker head> <marker tail>: PTRACE_SEIZE (the same permission checks as
// PTRACE_ATTACH, but the target is never stopped; the tracer exits at once, which detaches). Then, via the
// double chroot's /proc, opening the host process's /proc/PID/mem, which needs the same ptrace access.

struct ptrace_args { const char *pid, *marker; };

static void ptrace_direct(struct shared *sh, void *a) {
  struct ptrace_args *x = a;
  pid_t pid = (pid_t)atoi(x->pid);
  if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) != 0) { add(&sh->d, "PTRACE_SEIZE %d: %s", pid, err(errno)); return; }
  if (cmdline_has(x->pid, x->marker)) sh->escaped = 1, add(&sh->d, "PTRACE_SEIZE attached to the host process %d", pid);
  else add(&sh->d, "PTRACE_SEIZE %d: attached, but that pid is a process of the RUN's own", pid);
}

static void ptrace_escaped(struct shared *sh, void *a) {
  struct ptrace_args *x = a;
  int e = double_chroot();
  if (e) { add(&sh->d, "double chroot: %s", err(e)); return; }
  if (!cmdline_has(x->pid, x->marker)) { add(&sh->d, "after the double chroot: host pid %s not visible", x->pid); return; }
  char p[64];
  snprintf(p, sizeof p, "/proc/%s/mem", x->pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) close(fd), sh->escaped = 1, add(&sh->d, "after the double chroot: opened the host process's %s", p);
  else add(&sh->d, "after the double chroot: %s: %s", p, err(errno));
}

static void probe_ptrace(char **av) {
  struct detail d = {0};
  struct ptrace_args x = {av[1], join2(av[2], av[3])};
  int escaped = 0;
  void (*fns[])(struct shared *, void *) = {ptrace_direct, ptrace_escaped};
  for (int i = 0; i < 2; i++) escaped |= child_into(&d, fns[i], &x);
  report("ptrace", escaped ? "escaped" : "contained", &d);
}

// ---- kmod: init_module and finit_module with garbage. EPERM is the refusal; any other answer means the call
// reached the module loader with CAP_SYS_MODULE (garbage is rejected as ENOEXEC/EINVAL/ENOKEY, nothing loads).
// A kernel built without modules answers ENOSYS to everyone: then the effective CAP_SYS_MODULE decides.

static int has_cap(int cap) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int r = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long long v;
    if (sscanf(line, "CapEff: %llx", &v) == 1) { r = (int)((v >> cap) & 1); break; }
  }
  fclose(f);
  return r;
}

static void probe_kmod(void) {
  struct detail d = {0};
  static char garbage[64];
  int escaped = 0, nosys = 0;
  long r = syscall(SYS_init_module, garbage, sizeof garbage, "");
  int e1 = r == 0 ? 0 : errno;
  add(&d, "init_module: %s", err(e1));
  char path[64];
  snprintf(path, sizeof path, "/tmp/kiln-sec-kmod-%d", (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int e2 = EBADF;
  if (fd >= 0) {
    if (write(fd, garbage, sizeof garbage) < 0) add(&d, "write %s: %s", path, err(errno));
    r = syscall(SYS_finit_module, fd, "", 0);
    e2 = r == 0 ? 0 : errno;
    close(fd);
    unlink(path);
  }
  add(&d, "finit_module: %s", err(e2));
  for (int i = 0; i < 2; i++) {
    int e = i ? e2 : e1;
    if (e == ENOSYS) nosys = 1;
    else if (e != EPERM && e != EBADF) escaped = 1;
  }
  if (nosys) {
    int cap = has_cap(16 /* CAP_SYS_MODULE */);
    add(&d, "no module loader in this kernel; CAP_SYS_MODULE %s", cap == 1 ? "held (the call was not filtered)" : cap == 0 ? "not held" : "unknown");
    if (cap != 0) escaped = 1;
  }
  report("kmod", escaped ? "escaped" : "contained", &d);
}

// ---- unshare: new namespaces, each in a child that exits at once.

static void unshare_child(struct shared *sh, void *a) {
  int flags = *(int *)a;
  if (unshare(flags) == 0) sh->escaped = 1, add(&sh->d, "unshare(0x%x): ok", flags);
  else add(&sh->d, "unshare(0x%x): %s", flags, err(errno));
}

static void probe_unshare(void) {
  struct detail d = {0};
  int escaped = 0;
  int sets[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNS | CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP, CLONE_NEWUTS};
  for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) escaped |= child_into(&d, unshare_child, &sets[i]);
  report("unshare", escaped ? "escaped" : "contained", &d);
}

// ---- setns <planted file> <host pid>: join the namespaces behind /proc/self/ns, /proc/1/ns and, when it is
// visible, the host process's. Joining a mount namespace also resets the root to that namespace's root,
// which undoes a chroot; the child then only looks for the planted host file.

struct setns_args { const char *file, *planted; };

static void setns_child(struct shared *sh, void *a) {
  struct setns_args *x = a;
  int fd = open(x->file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { add(&sh->d, "%s: %s", x->file, err(errno)); return; }
  if (setns(fd, 0) != 0) { add(&sh->d, "setns %s: %s", x->file, err(errno)); return; }
  sh->escaped = 1;
  add(&sh->d, "setns %s: ok%s", x->file, strstr(x->file, "/mnt") && access(x->planted, F_OK) == 0 ? " (and the planted host file is visible)" : "");
}

static void probe_setns(char **av) {
  struct detail d = {0};
  int escaped = 0;
  const char *nss[] = {"mnt", "pid", "net", "ipc", "uts", "cgroup"};
  const char *owners[] = {"self", "1", av[2]};
  for (size_t o = 0; o < 3; o++) {
    for (size_t i = 0; i < sizeof nss / sizeof *nss; i++) {
      char p[128];
      snprintf(p, sizeof p, "/proc/%s/ns/%s", owners[o], nss[i]);
      if (o == 2 && access(p, F_OK) != 0) { if (i == 0) add(&d, "/proc/%s/ns: %s", owners[o], err(errno)); break; }
      struct setns_args x = {p, av[1]};
      escaped |= child_into(&d, setns_child, &x);
    }
  }
  report("setns", escaped ? "escaped" : "contained", &d);
}

// ---- proc-masked: what Docker hides behind /dev/null or an empty read-only tmpfs must read as empty.

static void probe_masked(void) {
  static const char *const files[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/timer_stats", "/proc/latency_stats", "/proc/sched_debug", NULL};
  static const char *const dirs[] = {"/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap", NULL};
  struct detail d = {0};
  int escaped = 0;
  for (const char *const *f = files; *f; f++) {
    int fd = open(*f, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { if (errno != ENOENT) add(&d, "%s: %s", *f, err(errno)); continue; }
    char buf[64];
    ssize_t r = read(fd, buf, sizeof buf);
    close(fd);
    if (r > 0) escaped = 1, add(&d, "%s is readable", *f);
    else add(&d, "%s: empty", *f);
  }
  for (const char *const *p = dirs; *p; p++) {
    DIR *dir = opendir(*p);
    if (!dir) { if (errno != ENOENT) add(&d, "%s: %s", *p, err(errno)); continue; }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dir);
    if (n) escaped = 1, add(&d, "%s lists %d entries", *p, n);
    else add(&d, "%s: empty", *p);
  }
  report("proc-masked", escaped ? "escaped" : "contained", &d);
}

static void usage(void) {
  fputs("usage: probe chroot-escape NAME PLANTED TOKEN MARKER | dev PATH... | dev-create PATH | mount DIR |\n"
        "  mknod PATH MAJOR MINOR | proc-sys | sysrq | proc-readonly | proc-masked | sys | cgroup NAME |\n"
        "  pids HEAD TAIL | ptrace PID HEAD TAIL | kmod | unshare | setns PLANTED PID\n", stderr);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *cmd = argv[1];
  int ac = argc - 1;
  char **av = argv + 1;
  // Children must not inherit unwritten output.
  setvbuf(stdout, NULL, _IONBF, 0);
#define NEED(n) if (ac < (n)) usage()
  if (!strcmp(cmd, "chroot-escape")) { NEED(5); probe_chroot(av + 1); }
  else if (!strcmp(cmd, "dev")) probe_dev(ac, av);
  else if (!strcmp(cmd, "dev-create")) { NEED(2); probe_dev_create(av); }
  else if (!strcmp(cmd, "mount")) { NEED(2); probe_mount(av); }
  else if (!strcmp(cmd, "mknod")) { NEED(4); probe_mknod(av); }
  else if (!strcmp(cmd, "proc-sys")) probe_open_wo("proc-sys", PROC_SYS);
  else if (!strcmp(cmd, "sysrq")) probe_open_wo("sysrq", SYSRQ);
  else if (!strcmp(cmd, "proc-readonly")) probe_open_wo("proc-readonly", PROC_RO);
  else if (!strcmp(cmd, "proc-masked")) probe_masked();
  else if (!strcmp(cmd, "sys")) probe_sys();
  else if (!strcmp(cmd, "cgroup")) { NEED(2); probe_cgroup(av); }
  else if (!strcmp(cmd, "pids")) { NEED(3); probe_pids(av); }
  else if (!strcmp(cmd, "ptrace")) { NEED(4); probe_ptrace(av); }
  else if (!strcmp(cmd, "kmod")) probe_kmod();
  else if (!strcmp(cmd, "unshare")) probe_unshare();
  else if (!strcmp(cmd, "setns")) { NEED(3); probe_setns(av); }
  else usage();
  return 0;
}
