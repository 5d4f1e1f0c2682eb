/*
 * The server's rooms and nameplates, sans-IO.
 *
 * Rooms live in a fixed slab (max_rooms slots, allocated once with calloc so untouched slots
 * cost no resident memory). A room id is (generation << 20 | slot): the slot finds the room in
 * O(1), the generation makes a stale id miss. Each room is on one of two intrusive lists:
 * waiting (one member, ordered by creation) or active (two members, ordered by last activity),
 * so expiry only ever looks at list heads.
 *
 * Nameplates 1..np_max (RV_NAMEPLATE_MAX in the server; tests and fuzzers use a small table so
 * that building a server costs microseconds, not an 8 MB calloc): allocation hands out the smallest free one. A released
 * nameplate is blocked for a cooldown (or longer when burned after a failed PAKE) before it can be
 * allocated again: blocked nameplates wait on a FIFO per duration, then go to a min-heap of free
 * ones below `next_fresh` (the smallest never-allocated candidate).
 */
#ifndef PUNCHCAT_SRV_TABLE_H
#define PUNCHCAT_SRV_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "rv_wire.h"
#include "srv_limit.h"

#define SRV_SLOT_BITS 20
#define SRV_MAX_ROOMS ((1u << SRV_SLOT_BITS) - 1)
#define SRV_NIL UINT32_MAX

struct srv_member {
	struct netaddr addr;		/* bound address: relay and replies go here */
	uint8_t token[RV_TOKEN_LEN];
	uint8_t nonce[RV_NONCE_LEN];
	bool ready;
	bool go_sent;
	/* Admitted without a cookie (server_core.c, join_without_cookie): until a message with
	 * its token comes in, what is sent to addr is paid from the bytes it sent (budget). */
	bool unproved;
	uint16_t budget;
};

enum srv_list { SRV_LIST_NONE, SRV_LIST_WAITING, SRV_LIST_ACTIVE };

struct srv_room {
	uint32_t id;			/* 0 = free slot */
	uint32_t nameplate;
	uint32_t prev, next;		/* list links (slots) */
	uint8_t nmembers;
	uint8_t list;			/* enum srv_list */
	bool relay_over_quota;
	uint8_t sid[RV_SID_LEN];
	struct srv_member m[2];		/* m[0] creator (initiator), m[1] claimer */
	uint64_t created, last_active;
	struct tbucket relay_bucket;
	uint64_t relay_bytes;
};

struct srv_np {
	uint32_t slot1;			/* room slot + 1, 0 = no room */
	uint32_t until_s;		/* blocked until this second (burned or cooling down) */
	bool burned;
	bool in_heap;
};

struct np_fifo_entry {
	uint32_t nameplate, until_s;
};

struct np_fifo {
	struct np_fifo_entry *v;
	size_t cap, head, count;
};

struct srv_table {
	struct srv_room *rooms;
	uint32_t max_rooms;
	uint32_t nrooms;
	uint32_t *free_slots;		/* stack of free slots */
	uint32_t nfree;
	uint16_t *gen;			/* generation per slot */
	uint32_t waiting_head, waiting_tail, active_head, active_tail;
	uint32_t np_max;		/* highest nameplate served */
	struct srv_np *np;		/* [np_max + 1] */
	uint32_t next_fresh;
	uint32_t *heap;			/* min-heap of free nameplates below next_fresh */
	size_t heap_len, heap_cap;
	struct np_fifo cooling, burning;
};

/* max_rooms slots, nameplates 1..np_max (1..RV_NAMEPLATE_MAX); -1 on bad sizes or no memory. */
int srv_table_init(struct srv_table *t, uint32_t max_rooms, uint32_t np_max);
void srv_table_free(struct srv_table *t);

/* The room with this id, or NULL. */
struct srv_room *srv_room_by_id(struct srv_table *t, uint32_t id);
/* The room holding this nameplate, or NULL. */
struct srv_room *srv_room_by_nameplate(struct srv_table *t, uint32_t nameplate);
static inline uint32_t srv_room_slot(const struct srv_table *t, const struct srv_room *r)
{
	return (uint32_t)(r - t->rooms);
}

/* True while nameplate is burned (after a failed PAKE) at second now_s. */
bool srv_np_burned(const struct srv_table *t, uint32_t nameplate, uint32_t now_s);
/* The smallest nameplate free for allocation at now_s, or 0 when none. Does not take it. */
uint32_t srv_np_pick(struct srv_table *t, uint32_t now_s);

/* Creates a room on a free nameplate with its first member; NULL when the table is full. */
struct srv_room *srv_room_create(struct srv_table *t, uint32_t nameplate, uint64_t now);
/* Adds the second member (moves the room to the active list). */
void srv_room_add_member(struct srv_table *t, struct srv_room *r, uint64_t now);
/* Marks activity (moves an active room to the tail of the active list). */
void srv_room_touch(struct srv_table *t, struct srv_room *r, uint64_t now);
/*
 * Frees a room and releases its nameplate: blocked for block_s seconds from now_s (burned when
 * burn is set).
 */
void srv_room_free(struct srv_table *t, struct srv_room *r, uint32_t now_s, uint32_t block_s,
    bool burn);

/* Moves nameplates whose block ended by now_s to the free heap. */
void srv_np_tick(struct srv_table *t, uint32_t now_s);
/* Earliest second at which a blocked nameplate becomes free (UINT32_MAX if none). */
uint32_t srv_np_next_s(const struct srv_table *t);

/* Oldest waiting / least recently active room, or NULL. */
struct srv_room *srv_oldest_waiting(struct srv_table *t);
struct srv_room *srv_oldest_active(struct srv_table *t);

#endif
