/* resolv_override.c: point the calling thread's glibc resolver state (`_res`) at one server.
 *
 * glibc keeps the resolver configuration per thread in `_res` (a macro for `*__res_state()`).
 * After `res_init()` has filled it from /etc/resolv.conf, a program may change it, and glibc's
 * getaddrinfo then uses the changed state for lookups made on that thread. dnsload uses this to
 * run the real glibc code against an in-process or lab server, without root and without touching
 * /etc/resolv.conf.
 *
 * Why C rather than Rust FFI: `struct __res_state` has bitfields (`ndots:4`), a union (`_u._ext`)
 * and option macros (RES_NORELOAD exists only on newer glibc) whose layout is only promised to C
 * code compiled against the system's <resolv.h>. Reading back through the same header checks
 * that the change took.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <string.h>

/* What to change; negative numbers keep glibc's value. Mirrored in src/backend/glibc.rs. */
struct dnsload_res_conf {
    int set_server;       /* 1: replace the nameserver list with `addr_be:port` */
    uint32_t addr_be;     /* IPv4 address, network byte order */
    uint16_t port;        /* host byte order */
    int retrans;          /* per-attempt timeout in seconds (options timeout:) */
    int retry;            /* attempts (options attempts:) */
    int ndots;            /* options ndots:, 0..=15 */
    int set_search;       /* 1: replace the search list with `search` */
    const char *search;   /* domains separated by single spaces, no trailing dot */
};

/* What the thread's state is now. */
struct dnsload_res_state {
    int nscount;
    int family;           /* of nameserver 0 */
    uint32_t addr_be;
    uint16_t port;
    int retrans;
    int retry;
    int ndots;
    int nsearch;
    char search[256];     /* the search list, separated by single spaces */
};

/* Error codes returned by dnsload_res_apply. */
#define DNSLOAD_RES_OK 0
#define DNSLOAD_RES_INIT_FAILED -1
#define DNSLOAD_RES_SEARCH_TOO_LONG -2
#define DNSLOAD_RES_TOO_MANY_DOMAINS -3
#define DNSLOAD_RES_BAD_VALUE -4

int dnsload_res_apply(const struct dnsload_res_conf *c)
{
    if (res_init() != 0)
        return DNSLOAD_RES_INIT_FAILED;

    if (c->set_server) {
        memset(&_res.nsaddr_list[0], 0, sizeof(_res.nsaddr_list[0]));
        _res.nsaddr_list[0].sin_family = AF_INET;
        _res.nsaddr_list[0].sin_addr.s_addr = c->addr_be;
        _res.nsaddr_list[0].sin_port = htons(c->port);
        _res.nscount = 1;
    }
    if (c->retrans >= 0) {
        if (c->retrans < 1)
            return DNSLOAD_RES_BAD_VALUE;
        _res.retrans = c->retrans;
    }
    if (c->retry >= 0) {
        if (c->retry < 1)
            return DNSLOAD_RES_BAD_VALUE;
        _res.retry = c->retry;
    }
    if (c->ndots >= 0) {
        if (c->ndots > 15) /* a 4-bit field */
            return DNSLOAD_RES_BAD_VALUE;
        _res.ndots = (unsigned) c->ndots;
    }
    if (c->set_search) {
        const char *s = c->search ? c->search : "";
        size_t len = strlen(s);
        if (len + 1 > sizeof(_res.defdname))
            return DNSLOAD_RES_SEARCH_TOO_LONG;
        memset(_res.defdname, 0, sizeof(_res.defdname));
        memcpy(_res.defdname, s, len);
        /* Split in place: dnsrch[] points into defdname, as res_init does. */
        int n = 0;
        char *p = _res.defdname;
        while (*p != '\0') {
            if (n >= MAXDNSRCH)
                return DNSLOAD_RES_TOO_MANY_DOMAINS;
            _res.dnsrch[n++] = p;
            char *space = strchr(p, ' ');
            if (space == NULL)
                break;
            *space = '\0';
            p = space + 1;
        }
        _res.dnsrch[n] = NULL;
        _res.options |= RES_DEFNAMES | RES_DNSRCH;
    }
#ifdef RES_NORELOAD
    /* Never reload /etc/resolv.conf over the change (glibc >= 2.26). */
    _res.options |= RES_NORELOAD;
#endif
    return DNSLOAD_RES_OK;
}

void dnsload_res_read(struct dnsload_res_state *out)
{
    memset(out, 0, sizeof(*out));
    /* Without an override nothing has initialised this thread's state yet: read the system's
       configuration as getaddrinfo will (res_init reads /etc/resolv.conf, sends nothing). */
    if (!(_res.options & RES_INIT) && res_init() != 0)
        return;
    if (!(_res.options & RES_INIT))
        return;
    out->nscount = _res.nscount;
    if (_res.nscount > 0) {
        out->family = _res.nsaddr_list[0].sin_family;
        out->addr_be = _res.nsaddr_list[0].sin_addr.s_addr;
        out->port = ntohs(_res.nsaddr_list[0].sin_port);
    }
    out->retrans = _res.retrans;
    out->retry = _res.retry;
    out->ndots = (int) _res.ndots;
    size_t used = 0;
    for (int i = 0; i < MAXDNSRCH && _res.dnsrch[i] != NULL; i++) {
        size_t len = strlen(_res.dnsrch[i]);
        if (used + len + 2 > sizeof(out->search))
            break;
        if (used > 0)
            out->search[used++] = ' ';
        memcpy(out->search + used, _res.dnsrch[i], len);
        used += len;
        out->nsearch++;
    }
    out->search[used] = '\0';
}
