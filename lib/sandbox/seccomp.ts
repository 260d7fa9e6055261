// Docker's default seccomp profile for a container without CAP_SYS_ADMIN, in the OCI runtime spec's form.
// Syscalls not named here fail with EPERM. What Docker lets only privileged containers do stays out: mount
// and the new mount API, unshare/setns and clone with namespace flags, pivot_root, the kernel keyring, module
// loading, reboot, syslog, clock setting, bpf, perf_event_open. One rule is stricter than Docker: mknod of a
// block device fails (Docker lets the node be made and then forbids opening it through the device cgroup; here
// the device cgroup is not reliable on hybrid cgroup hosts, so the node is never made).

/** Allowed for every argument. */
const ALLOWED = `
  _llseek _newselect accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
  clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
  epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat
  exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
  fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
  fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futimesat get_robust_list
  get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
  getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
  getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32
  getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents
  io_setup io_submit ioctl ioprio_get ioprio_set ipc kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek
  lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mlock mlock2
  mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
  mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
  nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
  pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease process_vm_readv
  process_vm_writev pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead readdir readlink
  readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
  renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
  rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max
  sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
  seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg
  sendto set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
  setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
  setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget
  shutdown sigaction sigaltstack signal signalfd signalfd4 sigpending sigprocmask sigreturn sigsuspend socketcall
  socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs syscall
  sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 timerfd timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
  times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes
  vfork wait4 waitid waitpid write writev
`.trim().split(/\s+/);

/** Namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const S_IFMT = 0o170000;
/** File types mknod may create: regular, FIFO, character device, socket (0 means regular). */
const MKNOD_TYPES = [0, 0o100000, 0o010000, 0o020000, 0o140000];
/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
export interface SeccompRule { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }
export interface SeccompProfile { defaultAction: string; defaultErrnoRet: number; architectures: string[]; syscalls: SeccompRule[] }

const ARCHES: Record<string, string[]> = {
  x64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  arm64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
};

export function defaultSeccomp(arch: string = process.arch): SeccompProfile {
  const allow = (names: string[], args?: SeccompArg[]): SeccompRule => ({ names, action: "SCMP_ACT_ALLOW", ...(args ? { args } : {}) });
  const archOnly = arch === "x64" ? ["arch_prctl", "modify_ldt"] : arch === "arm64" ? ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"] : [];
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1, // EPERM
    architectures: ARCHES[arch] ?? [],
    syscalls: [
      // chroot: Docker grants CAP_SYS_CHROOT by default; socket: and CAP_AUDIT_WRITE; the NUMA calls are harmless
      allow([...ALLOWED, ...archOnly, "chroot", "socket", "get_mempolicy", "mbind", "set_mempolicy"]),
      ...PERSONALITIES.map((p) => allow(["personality"], [{ index: 0, value: p, op: "SCMP_CMP_EQ" }])),
      allow(["clone"], [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }]),
      // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes libc fall back to clone.
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      ...MKNOD_TYPES.map((t) => allow(["mknod"], [{ index: 1, value: S_IFMT, valueTwo: t, op: "SCMP_CMP_MASKED_EQ" }])),
      ...MKNOD_TYPES.map((t) => allow(["mknodat"], [{ index: 2, value: S_IFMT, valueTwo: t, op: "SCMP_CMP_MASKED_EQ" }])),
    ],
  };
}
