/* UDP GSO/GRO control messages (see udpseg.h). */
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#include "udpseg.h"

void
udpseg_set_gso(struct msghdr *h, void *ctl, uint16_t seg)
{
	struct cmsghdr *c;

	memset(ctl, 0, UDPSEG_CTL_LEN);
	h->msg_control = ctl;
	h->msg_controllen = UDPSEG_CTL_LEN;
	c = CMSG_FIRSTHDR(h);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(c), &seg, sizeof seg);
}

size_t
udpseg_gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
		int seg;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof seg)) {
			memcpy(&seg, CMSG_DATA(c), sizeof seg);
			return seg > 0 ? (size_t)seg : 0;
		}
	}
	return 0;
}
