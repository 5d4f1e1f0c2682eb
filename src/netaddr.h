/*
 * A compact UDP endpoint (IPv4 or IPv6 address and port) for the sans-IO cores, which must not
 * depend on sockets. The shells convert to and from struct sockaddr at the edge.
 * Wire form: family (1 byte: 4 or 6), address (4 or 16 bytes), port (2 bytes, big-endian).
 */
#ifndef PUNCHCAT_NETADDR_H
#define PUNCHCAT_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire.h"

struct netaddr {
	uint8_t family;		/* 4 or 6; 0 = none */
	uint8_t ip[16];		/* IPv4 uses ip[0..3], the rest is zero */
	uint16_t port;
};

/* "203.0.113.7:7430" or "[2001:db8::1]:7430": at most this many bytes with the NUL. */
#define NETADDR_STRLEN 56

bool netaddr_eq(const struct netaddr *a, const struct netaddr *b);
bool netaddr_same_ip(const struct netaddr *a, const struct netaddr *b);
/* Hash for tables; keyed so that remote parties cannot aim for collisions. */
uint64_t netaddr_hash(const struct netaddr *a, uint64_t key);

/* IPv4-mapped IPv6 addresses become plain IPv4. Returns false for other families. */
bool netaddr_from_sa(struct netaddr *a, const struct sockaddr *sa, socklen_t len);
socklen_t netaddr_to_sa(const struct netaddr *a, struct sockaddr_storage *ss);

/* Formats into buf (NETADDR_STRLEN bytes) and returns buf. */
char *netaddr_fmt(const struct netaddr *a, char *buf);
/* Parses a literal "IPv4:PORT", "[IPv6]:PORT", or, with default_port != 0, an address alone. */
bool netaddr_parse(struct netaddr *a, const char *s, uint16_t default_port);

/* Loopback, link-local, private, unspecified or multicast (not a useful public candidate). */
bool netaddr_is_loopback(const struct netaddr *a);

size_t netaddr_wire_len(const struct netaddr *a);
bool wr_netaddr(struct wr *w, const struct netaddr *a);
/* Rejects unknown families; the result has family 4 or 6. */
bool rd_netaddr(struct rd *r, struct netaddr *a);

/*
 * Splits "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" into host and port (default_port when
 * absent). Returns NULL on success, else a static message saying what is wrong.
 */
const char *hostport_split(const char *s, char *host, size_t hostcap, uint16_t *port,
    uint16_t default_port);

#endif
