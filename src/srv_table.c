#include "srv_table.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int
srv_table_init(struct srv_table *t, uint32_t max_rooms, uint32_t np_max)
{
	memset(t, 0, sizeof *t);
	if (max_rooms == 0 || max_rooms > SRV_MAX_ROOMS || np_max == 0 || np_max > RV_NAMEPLATE_MAX)
		return -1;
	t->max_rooms = max_rooms;
	t->np_max = np_max;
	/* calloc'd: pages never touched stay out of the resident set */
	t->rooms = calloc(max_rooms, sizeof *t->rooms);
	t->free_slots = calloc(max_rooms, sizeof *t->free_slots);
	t->gen = calloc(max_rooms, sizeof *t->gen);
	t->np = calloc((size_t)np_max + 1, sizeof *t->np);
	/*
	 * Released nameplates waiting or free: a few times the rooms. Should a FIFO fill up, a
	 * nameplate skips its cooldown; should the heap, it is not allocated again (users may
	 * still pick it by number).
	 */
	t->heap_cap = (size_t)max_rooms * 4 + 1024 < (size_t)np_max + 1 ?
	    (size_t)max_rooms * 4 + 1024 : (size_t)np_max + 1;
	t->heap = calloc(t->heap_cap, sizeof *t->heap);
	t->cooling.cap = t->burning.cap = t->heap_cap;
	t->cooling.v = calloc(t->heap_cap, sizeof *t->cooling.v);
	t->burning.v = calloc(t->heap_cap, sizeof *t->burning.v);
	if (t->rooms == NULL || t->free_slots == NULL || t->gen == NULL || t->np == NULL ||
	    t->heap == NULL || t->cooling.v == NULL || t->burning.v == NULL) {
		srv_table_free(t);
		return -1;
	}
	/* slots handed out lowest first, so a small server touches few pages */
	for (uint32_t i = 0; i < max_rooms; i++)
		t->free_slots[i] = max_rooms - 1 - i;
	t->nfree = max_rooms;
	t->waiting_head = t->waiting_tail = t->active_head = t->active_tail = SRV_NIL;
	t->next_fresh = 1;
	return 0;
}

void
srv_table_free(struct srv_table *t)
{
	free(t->rooms);
	free(t->free_slots);
	free(t->gen);
	free(t->np);
	free(t->heap);
	free(t->cooling.v);
	free(t->burning.v);
	memset(t, 0, sizeof *t);
}

struct srv_room *
srv_room_by_id(struct srv_table *t, uint32_t id)
{
	uint32_t slot = id & SRV_MAX_ROOMS;

	if (id == 0 || slot >= t->max_rooms || t->rooms[slot].id != id)
		return NULL;
	return &t->rooms[slot];
}

struct srv_room *
srv_room_by_nameplate(struct srv_table *t, uint32_t nameplate)
{
	if (nameplate == 0 || nameplate > t->np_max || t->np[nameplate].slot1 == 0)
		return NULL;
	return &t->rooms[t->np[nameplate].slot1 - 1];
}

bool
srv_np_burned(const struct srv_table *t, uint32_t nameplate, uint32_t now_s)
{
	return nameplate <= t->np_max && t->np[nameplate].burned &&
	    t->np[nameplate].until_s > now_s;
}

/* ---- min-heap of free nameplates ---- */

static void
heap_push(struct srv_table *t, uint32_t v)
{
	size_t i;

	if (t->heap_len == t->heap_cap)
		return;
	i = t->heap_len++;
	while (i > 0 && t->heap[(i - 1) / 2] > v) {
		t->heap[i] = t->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	t->heap[i] = v;
	t->np[v].in_heap = true;
}

static void
heap_pop(struct srv_table *t)
{
	uint32_t v = t->heap[--t->heap_len];
	size_t i = 0;

	t->np[t->heap[0]].in_heap = false;
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->heap_len)
			break;
		if (c + 1 < t->heap_len && t->heap[c + 1] < t->heap[c])
			c++;
		if (t->heap[c] >= v)
			break;
		t->heap[i] = t->heap[c];
		i = c;
	}
	if (t->heap_len > 0)
		t->heap[i] = v;
}

static bool
np_free_at(const struct srv_table *t, uint32_t nameplate, uint32_t now_s)
{
	return t->np[nameplate].slot1 == 0 && t->np[nameplate].until_s <= now_s;
}

uint32_t
srv_np_pick(struct srv_table *t, uint32_t now_s)
{
	/* free nameplates below next_fresh first (entries gone stale are dropped here) */
	while (t->heap_len > 0) {
		uint32_t v = t->heap[0];

		if (np_free_at(t, v, now_s))
			return v;
		heap_pop(t);
	}
	while (t->next_fresh <= t->np_max && !np_free_at(t, t->next_fresh, now_s))
		t->next_fresh++;	/* taken or blocked: it comes back through a FIFO */
	return t->next_fresh <= t->np_max ? t->next_fresh : 0;
}

/* ---- lists ---- */

static void
list_unlink(struct srv_table *t, struct srv_room *r)
{
	uint32_t *head, *tail;

	if (r->list == SRV_LIST_NONE)
		return;
	head = r->list == SRV_LIST_WAITING ? &t->waiting_head : &t->active_head;
	tail = r->list == SRV_LIST_WAITING ? &t->waiting_tail : &t->active_tail;
	if (r->prev != SRV_NIL)
		t->rooms[r->prev].next = r->next;
	else
		*head = r->next;
	if (r->next != SRV_NIL)
		t->rooms[r->next].prev = r->prev;
	else
		*tail = r->prev;
	r->list = SRV_LIST_NONE;
}

static void
list_append(struct srv_table *t, struct srv_room *r, enum srv_list which)
{
	uint32_t slot = srv_room_slot(t, r);
	uint32_t *head = which == SRV_LIST_WAITING ? &t->waiting_head : &t->active_head;
	uint32_t *tail = which == SRV_LIST_WAITING ? &t->waiting_tail : &t->active_tail;

	r->list = (uint8_t)which;
	r->next = SRV_NIL;
	r->prev = *tail;
	if (*tail != SRV_NIL)
		t->rooms[*tail].next = slot;
	else
		*head = slot;
	*tail = slot;
}

struct srv_room *
srv_room_create(struct srv_table *t, uint32_t nameplate, uint64_t now)
{
	struct srv_room *r;
	uint32_t slot;

	if (t->nfree == 0 || nameplate == 0 || nameplate > t->np_max ||
	    t->np[nameplate].slot1 != 0)
		return NULL;
	slot = t->free_slots[--t->nfree];
	r = &t->rooms[slot];
	memset(r, 0, sizeof *r);
	/* generation: never 0 for slot 0, so id 0 always means "none". A slot's first one is
	 * random, so a restarted server does not hand out the ids of the rooms it lost (their
	 * members must hear NO_ROOM, not meet a stranger's room under their old id). */
	if (t->gen[slot] == 0)
		t->gen[slot] = (uint16_t)randombytes_uniform(0xfff);
	t->gen[slot] = (uint16_t)((t->gen[slot] + 1) & 0xfff);
	if (t->gen[slot] == 0)
		t->gen[slot] = 1;
	r->id = (uint32_t)t->gen[slot] << SRV_SLOT_BITS | slot;
	r->nameplate = nameplate;
	r->nmembers = 1;
	r->created = r->last_active = now;
	randombytes_buf(r->sid, sizeof r->sid);
	t->np[nameplate].slot1 = slot + 1;
	t->np[nameplate].burned = false;
	list_append(t, r, SRV_LIST_WAITING);
	t->nrooms++;
	return r;
}

void
srv_room_add_member(struct srv_table *t, struct srv_room *r, uint64_t now)
{
	r->nmembers = 2;
	r->last_active = now;
	list_unlink(t, r);
	list_append(t, r, SRV_LIST_ACTIVE);
}

void
srv_room_touch(struct srv_table *t, struct srv_room *r, uint64_t now)
{
	r->last_active = now;
	if (r->list == SRV_LIST_ACTIVE && t->active_tail != srv_room_slot(t, r)) {
		list_unlink(t, r);
		list_append(t, r, SRV_LIST_ACTIVE);
	}
}

static void
np_release(struct srv_table *t, uint32_t nameplate, uint32_t now_s, uint32_t block_s, bool burn)
{
	struct srv_np *n = &t->np[nameplate];
	struct np_fifo *f = burn ? &t->burning : &t->cooling;

	n->slot1 = 0;
	n->burned = burn;
	n->until_s = now_s + block_s;
	if (block_s == 0 || f->count == f->cap) {
		/* no cooldown (or the FIFO is full: no better place than free now) */
		n->until_s = now_s;
		if (nameplate < t->next_fresh && !n->in_heap)
			heap_push(t, nameplate);
		return;
	}
	f->v[(f->head + f->count) % f->cap] = (struct np_fifo_entry){ nameplate, n->until_s };
	f->count++;
}

void
srv_room_free(struct srv_table *t, struct srv_room *r, uint32_t now_s, uint32_t block_s,
    bool burn)
{
	uint32_t slot = srv_room_slot(t, r);

	list_unlink(t, r);
	np_release(t, r->nameplate, now_s, block_s, burn);
	sodium_memzero(r, sizeof *r);
	t->free_slots[t->nfree++] = slot;
	t->nrooms--;
}

static void
fifo_tick(struct srv_table *t, struct np_fifo *f, uint32_t now_s)
{
	while (f->count > 0 && f->v[f->head].until_s <= now_s) {
		uint32_t v = f->v[f->head].nameplate;

		f->head = (f->head + 1) % f->cap;
		f->count--;
		if (np_free_at(t, v, now_s) && v < t->next_fresh && !t->np[v].in_heap)
			heap_push(t, v);
	}
}

void
srv_np_tick(struct srv_table *t, uint32_t now_s)
{
	fifo_tick(t, &t->cooling, now_s);
	fifo_tick(t, &t->burning, now_s);
}

uint32_t
srv_np_next_s(const struct srv_table *t)
{
	uint32_t a = t->cooling.count ? t->cooling.v[t->cooling.head].until_s : UINT32_MAX;
	uint32_t b = t->burning.count ? t->burning.v[t->burning.head].until_s : UINT32_MAX;

	return a < b ? a : b;
}

struct srv_room *
srv_oldest_waiting(struct srv_table *t)
{
	return t->waiting_head == SRV_NIL ? NULL : &t->rooms[t->waiting_head];
}

struct srv_room *
srv_oldest_active(struct srv_table *t)
{
	return t->active_head == SRV_NIL ? NULL : &t->rooms[t->active_head];
}
