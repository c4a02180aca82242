/* What glibc reads from a resolv.conf file.
 *
 * Usage: glibc-resolv-probe FILE HOSTNAME
 *
 * Enters a private mount namespace and a UTS namespace of its own (root only), bind-mounts FILE
 * over /etc/resolv.conf there, sets the host name (glibc's fallback search domain comes from
 * it), and prints what glibc's resolver then holds, twice:
 *
 *   run plain  res_ninit on a fresh state: exactly what getaddrinfo uses;
 *   run ours   res_init with the defaults preset that stubborn uses for what a file leaves out
 *              (timeout 1 s, 5 attempts, EDNS0 on), glibc's own mechanism for presetting them.
 *
 * Each run prints the name servers res_send uses (the first MAXNS, with port and scope id), the
 * full search list getaddrinfo walks (struct resolv_conf, reached through glibc's private
 * resolver context: _res.dnsrch holds only its first 6 entries and 256 bytes), and ndots,
 * timeout, attempts and option flags, each as glibc stores it. Nothing is sent: res_ninit only
 * reads files. The real /etc/resolv.conf is never written.
 *
 * glibc can loop forever or abort on a hostile file. The probe therefore gets 100 ms of CPU
 * (SIGPROF ends it after that: reading a file takes about 1 ms) and 256 MiB of address space.
 *
 * Exit status: 0 printed, 2 cannot set up the namespace (not root, no CAP_SYS_ADMIN), 3 glibc
 * failed or its private layout is not the one this file was written against (glibc 2.36's
 * resolv/resolv_conf.h and resolv/resolv_context.h; checked against the public res_state),
 * 4 res_ninit or res_init failed; killed by SIGPROF or SIGABRT: glibc looped or aborted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* glibc 2.36 resolv/resolv_conf.h */
struct probe_resolv_conf
{
  size_t refcount;
  const struct sockaddr **nameserver_list;
  size_t nameserver_list_size;
  const char *const *search_list;
  size_t search_list_size;
  const void *sort_list;
  size_t sort_list_size;
  unsigned int options;
  unsigned int retrans;
  unsigned int retry;
  unsigned int ndots;
};

/* glibc 2.36 resolv/resolv_context.h */
struct probe_resolv_context
{
  struct __res_state *resp;
  struct probe_resolv_conf *conf;
  size_t refcount;
  bool from_res;
  struct probe_resolv_context *next;
};

typedef struct probe_resolv_context *(*get_override_fn) (struct __res_state *);
typedef void (*put_fn) (struct probe_resolv_context *);

static get_override_fn get_override;
static put_fn put;

static void
fail (int status, const char *what)
{
  printf ("error %s: %s\n", what, errno ? strerror (errno) : "-");
  fflush (stdout);
  exit (status);
}

static void
layout (const char *what)
{
  errno = 0;
  fail (3, what);
}

static const struct sockaddr *
used_server (const struct __res_state *st, int i)
{
  if (st->nsaddr_list[i].sin_family != 0)
    return (const struct sockaddr *) &st->nsaddr_list[i];
  return (const struct sockaddr *) st->_u._ext.nsaddrs[i];
}

static bool
same_server (const struct sockaddr *a, const struct sockaddr *b)
{
  if (a == NULL || b == NULL || a->sa_family != b->sa_family)
    return false;
  if (a->sa_family == AF_INET)
    return memcmp (a, b, sizeof (struct sockaddr_in)) == 0;
  if (a->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
      return memcmp (&x->sin6_addr, &y->sin6_addr, 16) == 0
             && x->sin6_port == y->sin6_port
             && x->sin6_scope_id == y->sin6_scope_id;
    }
  return false;
}

static void
print_server (const struct sockaddr *sa)
{
  char text[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET)
    {
      const struct sockaddr_in *v4 = (const void *) sa;
      inet_ntop (AF_INET, &v4->sin_addr, text, sizeof text);
      printf ("ns inet %s %u 0\n", text, ntohs (v4->sin_port));
    }
  else
    {
      const struct sockaddr_in6 *v6 = (const void *) sa;
      inet_ntop (AF_INET6, &v6->sin6_addr, text, sizeof text);
      printf ("ns inet6 %s %u %u\n", text, ntohs (v6->sin6_port),
              (unsigned) v6->sin6_scope_id);
    }
}

static void
print_run (const char *name, struct __res_state *st)
{
  struct probe_resolv_context *ctx = get_override (st);
  if (ctx == NULL)
    fail (3, "__resolv_context_get_override");
  const struct probe_resolv_conf *conf = ctx->conf;
  if (ctx->resp != st || conf == NULL)
    layout ("resolver context: no configuration attached");

  /* The private view must agree with the public one where they overlap.  */
  size_t used = conf->nameserver_list_size < MAXNS ? conf->nameserver_list_size : MAXNS;
  if (conf->retrans != (unsigned) st->retrans || conf->retry != (unsigned) st->retry
      || conf->options != (unsigned) st->options || (conf->ndots & 15) != st->ndots
      || (size_t) st->nscount != used)
    layout ("resolv_conf fields differ from res_state");
  for (size_t i = 0; i < used; i++)
    if (!same_server (conf->nameserver_list[i], used_server (st, i)))
      layout ("resolv_conf name servers differ from res_state");
  for (size_t i = 0; i < conf->search_list_size && i < MAXDNSRCH; i++)
    if (st->dnsrch[i] != NULL && strcmp (st->dnsrch[i], conf->search_list[i]) != 0)
      layout ("resolv_conf search list differs from res_state");

  printf ("run %s\n", name);
  printf ("ns_total %zu\n", conf->nameserver_list_size);
  for (int i = 0; i < st->nscount; i++)
    print_server (used_server (st, i));
  for (size_t i = 0; i < conf->search_list_size; i++)
    {
      printf ("search ");
      for (const unsigned char *p = (const void *) conf->search_list[i]; *p; p++)
        printf ("%02x", *p);
      printf ("\n");
    }
  printf ("ndots %d %u\n", (int) conf->ndots, (unsigned) st->ndots);
  printf ("retrans %d\n", st->retrans);
  printf ("retry %d\n", st->retry);
  static const struct
  {
    const char *name;
    unsigned long flag;
  } flags[] = {
    { "rotate", RES_ROTATE },
    { "edns0", RES_USE_EDNS0 },
    { "use-vc", RES_USEVC },
    { "single-request", RES_SNGLKUP },
    { "single-request-reopen", RES_SNGLKUPREOP },
    { "no-tld-query", RES_NOTLDQUERY },
    { "no-reload", RES_NORELOAD },
    { "trust-ad", RES_TRUSTAD },
    { "no-aaaa", RES_NOAAAA },
  };
  printf ("flags");
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (st->options & flags[i].flag)
      printf (" %s", flags[i].name);
  printf ("\n");
  printf ("nsort %d\n", st->nsort);
  put (ctx);
}

/* Makes FILE this namespace's /etc/resolv.conf.  */
static void
enter (const char *file, const char *hostname)
{
  if (unshare (CLONE_NEWNS | CLONE_NEWUTS) != 0)
    fail (2, "unshare");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    fail (2, "make / private");
  if (mount (file, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0)
    {
      if (errno != ENOENT)
        fail (2, "bind over /etc/resolv.conf");
      /* No /etc/resolv.conf to bind over (or a dangling link): give this namespace an /etc
         of its own holding only that file.  */
      if (mount ("tmpfs", "/etc", "tmpfs", 0, "mode=0755") != 0)
        fail (2, "tmpfs on /etc");
      int fd = open ("/etc/resolv.conf", O_CREAT | O_WRONLY, 0644);
      if (fd < 0)
        fail (2, "create /etc/resolv.conf");
      close (fd);
      if (mount (file, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0)
        fail (2, "bind over /etc/resolv.conf");
    }
  if (sethostname (hostname, strlen (hostname)) != 0)
    fail (2, "sethostname");
}

int
main (int argc, char **argv)
{
  if (argc != 3)
    {
      fprintf (stderr, "usage: %s FILE HOSTNAME\n", argv[0]);
      return 64;
    }
  setvbuf (stdout, NULL, _IOFBF, 1 << 16);
  get_override = (get_override_fn) dlvsym (RTLD_DEFAULT, "__resolv_context_get_override",
                                           "GLIBC_PRIVATE");
  put = (put_fn) dlvsym (RTLD_DEFAULT, "__resolv_context_put", "GLIBC_PRIVATE");
  if (get_override == NULL || put == NULL)
    layout ("glibc's private resolver context functions not found");
  /* glibc reads these on top of the file; stubborn does not.  */
  unsetenv ("LOCALDOMAIN");
  unsetenv ("RES_OPTIONS");
  unsetenv ("HOSTALIASES");
  enter (argv[1], argv[2]);
  printf ("glibc %s\n", gnu_get_libc_version ());

  struct rlimit memory = { 256 << 20, 256 << 20 };
  struct itimerval cpu = { { 0, 0 }, { 0, 100 * 1000 } };
  if (setrlimit (RLIMIT_AS, &memory) != 0 || setitimer (ITIMER_PROF, &cpu, NULL) != 0)
    fail (3, "limits");

  struct __res_state *plain = calloc (1, sizeof *plain);
  if (plain == NULL)
    fail (3, "calloc");
  if (res_ninit (plain) != 0)
    fail (4, "res_ninit");
  print_run ("plain", plain);

  /* res_init honours values preset in _res (glibc's "preinit" path): our defaults.  */
  _res.retrans = 1;
  _res.retry = 5;
  _res.options = RES_INIT | RES_DEFAULT | RES_USE_EDNS0;
  if (res_init () != 0)
    fail (4, "res_init");
  print_run ("ours", &_res);
  printf ("end\n");
  return 0;
}
