#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static size_t
ip_len(const struct netaddr *a)
{
	return a->family == 4 ? 4 : 16;
}

bool
netaddr_eq(const struct netaddr *a, const struct netaddr *b)
{
	return a->port == b->port && netaddr_same_ip(a, b);
}

bool
netaddr_same_ip(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, ip_len(a)) == 0;
}

uint64_t
netaddr_hash(const struct netaddr *a, uint64_t key)
{
	uint8_t k[crypto_shorthash_KEYBYTES] = { 0 }, in[19], out[8];
	uint64_t h;

	memcpy(k, &key, sizeof key);
	in[0] = a->family;
	memcpy(in + 1, a->ip, 16);
	in[17] = (uint8_t)(a->port >> 8);
	in[18] = (uint8_t)a->port;
	crypto_shorthash(out, in, sizeof in, k);
	memcpy(&h, out, sizeof h);
	return h;
}

bool
netaddr_from_sa(struct netaddr *a, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		a->family = 4;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		a->port = ntohs(s6->sin6_port);
		if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
			a->family = 4;
			memcpy(a->ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

socklen_t
netaddr_to_sa(const struct netaddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
		s4->sin_port = htons(a->port);
		return sizeof *s4;
	}
	if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
		s6->sin6_port = htons(a->port);
		return sizeof *s6;
	}
	return 0;
}

char *
netaddr_fmt(const struct netaddr *a, char *buf)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == 4) {
		inet_ntop(AF_INET, a->ip, ip, sizeof ip);
		snprintf(buf, NETADDR_STRLEN, "%s:%u", ip, (unsigned)a->port);
	} else if (a->family == 6) {
		inet_ntop(AF_INET6, a->ip, ip, sizeof ip);
		snprintf(buf, NETADDR_STRLEN, "[%s]:%u", ip, (unsigned)a->port);
	} else {
		snprintf(buf, NETADDR_STRLEN, "(none)");
	}
	return buf;
}

static bool
parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

const char *
hostport_split(const char *s, char *host, size_t hostcap, uint16_t *port, uint16_t default_port)
{
	const char *h = s, *colon, *rest;
	size_t hl;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return "missing ']' after IPv6 address";
		h = s + 1;
		hl = (size_t)(close - h);
		rest = close + 1;
		if (*rest != '\0' && *rest != ':')
			return "unexpected text after ']'";
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return "IPv6 addresses must be written in brackets, like [::1]:7430";
		hl = colon ? (size_t)(colon - s) : strlen(s);
		rest = s + hl;
	}
	if (hl == 0)
		return "empty host";
	if (hl >= hostcap)
		return "host name too long";
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*rest == ':') {
		if (!parse_port(rest + 1, port))
			return "port must be a number from 1 to 65535";
	} else {
		if (default_port == 0)
			return "missing port";
		*port = default_port;
	}
	return NULL;
}

bool
netaddr_parse(struct netaddr *a, const char *s, uint16_t default_port)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;

	memset(a, 0, sizeof *a);
	if (hostport_split(s, host, sizeof host, &port, default_port) != NULL)
		return false;
	a->port = port;
	if (*s != '[' && inet_pton(AF_INET, host, a->ip) == 1) {
		a->family = 4;
		return true;
	}
	if (*s == '[' && inet_pton(AF_INET6, host, a->ip) == 1) {
		a->family = 6;
		return true;
	}
	return false;
}

bool
netaddr_is_loopback(const struct netaddr *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (a->family == 4)
		return a->ip[0] == 127;
	return a->family == 6 && memcmp(a->ip, lo6, 16) == 0;
}

size_t
netaddr_wire_len(const struct netaddr *a)
{
	return 1 + ip_len(a) + 2;
}

bool
wr_netaddr(struct wr *w, const struct netaddr *a)
{
	if (a->family != 4 && a->family != 6) {
		w->bad = true;
		return false;
	}
	wr_u8(w, a->family);
	wr_bytes(w, a->ip, ip_len(a));
	return wr_u16(w, a->port);
}

bool
rd_netaddr(struct rd *r, struct netaddr *a)
{
	memset(a, 0, sizeof *a);
	a->family = rd_u8(r);
	if (a->family != 4 && a->family != 6) {
		r->bad = true;
		a->family = 0;
		return false;
	}
	rd_copy(r, a->ip, ip_len(a));
	a->port = rd_u16(r);
	return rd_ok(r);
}
