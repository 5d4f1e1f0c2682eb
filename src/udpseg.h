/*
 * UDP segmentation offload control messages, shared by the peer and the server: a run of
 * equal-sized datagrams to one address leaves as one send (UDP_SEGMENT, "GSO"), and the kernel
 * may hand us a run from one sender as one buffer (UDP_GRO), which we split again.
 */
#ifndef PUNCHCAT_UDPSEG_H
#define PUNCHCAT_UDPSEG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Room for the one control message udpseg_set_gso writes. */
#define UDPSEG_CTL_LEN CMSG_SPACE(sizeof(uint16_t))

/* Points h at ctl (UDPSEG_CTL_LEN bytes, suitably aligned) holding UDP_SEGMENT = seg. */
void udpseg_set_gso(struct msghdr *h, void *ctl, uint16_t seg);
/* The GRO segment size of a received message, or 0 when it holds a single datagram. */
size_t udpseg_gro_size(struct msghdr *h);

#endif
