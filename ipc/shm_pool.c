/*
 * shm_pool.c - segment creation, attachment and the slot state machine.
 */
#include "shm_pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/status.h"

#define SLOT_ALIGN 4096u

#define SG(state, gen) (((uint64_t)(gen) << 8) | (uint64_t)(state))
#define SG_STATE(v)    ((enum slot_state)((v)&0xffu))
#define SG_GEN(v)      ((v) >> 8)

static size_t header_bytes(uint32_t slots)
{
    size_t n = sizeof(struct shm_header) + (size_t)slots * sizeof(struct shm_slot);
    return (n + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
}

void shm_pool_restore_layout(struct shm_pool *p)
{
    struct shm_header *h = p->hdr;
    h->version = SHM_VERSION;
    h->header_size = (uint32_t)p->header_size;
    h->total_size = p->size;
    h->slot_count = p->slot_count;
    h->worker_count = p->worker_count;
    h->slot_bytes = p->slot_bytes;
    for (uint32_t i = 0; i < p->slot_count; i++) {
        h->slots[i].offset = p->header_size + (uint64_t)i * p->slot_bytes;
        h->slots[i].capacity = p->slot_bytes;
    }
    atomic_thread_fence(memory_order_release);
    h->magic = SHM_MAGIC; /* last: a reader seeing the magic sees the layout */
}

/* Lays out header and slots in a fresh, zero-filled mapping. */
static void init_layout(struct shm_pool *p, uint32_t workers, uint32_t slots)
{
    size_t hb = header_bytes(slots);
    p->slot_count = slots;
    p->worker_count = workers;
    p->header_size = hb;
    p->slot_bytes = (p->size - hb) / slots / SLOT_ALIGN * SLOT_ALIGN;
    p->hdr->supervisor_pid = getpid();
    for (uint32_t i = 0; i < slots; i++)
        atomic_store(&p->hdr->slots[i].state_gen, SG(SLOT_FREE, 0));
    shm_pool_restore_layout(p);
}

int shm_pool_create(struct shm_pool *p, const char *name, uint64_t size, uint32_t workers,
                    uint32_t slots, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (workers == 0 || workers > SHM_MAX_WORKERS || slots == 0 || slots > SHM_MAX_SLOTS ||
        size < header_bytes(slots) + (uint64_t)slots * SLOT_ALIGN) {
        snprintf(err, errlen, "OCR_SHM_SIZE=%llu is too small for %u slots",
                 (unsigned long long)size, slots);
        return FILOT_EINVAL;
    }
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < size) {
            snprintf(err, errlen,
                     "OCR_SHM_SIZE=%llu bytes does not fit in /dev/shm (%llu bytes free): raise "
                     "the container's shared memory (docker --shm-size, ECS sharedMemorySize) or "
                     "lower OCR_SHM_SIZE",
                     (unsigned long long)size, (unsigned long long)avail);
            return FILOT_ENOMEM;
        }
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    shm_unlink(p->name); /* a leftover from a crashed instance with our pid */
    p->fd = shm_open(p->name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (p->fd < 0) {
        snprintf(err, errlen, "shm_open(%s): %s", p->name, strerror(errno));
        return FILOT_EIO;
    }
    p->owner = true;
    int rc = posix_fallocate(p->fd, 0, (off_t)size);
    if (rc != 0) {
        snprintf(err, errlen,
                 "cannot reserve OCR_SHM_SIZE=%llu bytes in /dev/shm: %s (raise the container's "
                 "shared memory or lower OCR_SHM_SIZE)",
                 (unsigned long long)size, strerror(rc));
        shm_pool_close(p);
        return FILOT_ENOMEM;
    }
    p->size = size;
    p->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (p->base == MAP_FAILED) {
        p->base = NULL;
        snprintf(err, errlen, "mmap of %llu bytes: %s", (unsigned long long)size, strerror(errno));
        shm_pool_close(p);
        return FILOT_EIO;
    }
    p->hdr = (struct shm_header *)p->base;
    init_layout(p, workers, slots);
    return 0;
}

/* True when pid is a live process whose command name is comm. */
static bool pid_runs(long pid, const char *comm)
{
    char path[64], name[64] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(name, sizeof name, f) == NULL)
        name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    return strcmp(name, comm) == 0;
}

int shm_pool_remove_stale(const char *prefix)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return 0;
    int removed = 0;
    size_t plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '.')
            continue;
        char *end = NULL;
        long pid = strtol(e->d_name + plen + 1, &end, 10);
        if (end == e->d_name + plen + 1 || *end != '\0' || pid_runs(pid, prefix))
            continue;
        char name[300];
        snprintf(name, sizeof name, "/%s", e->d_name);
        if (shm_unlink(name) == 0) {
            removed++;
            log_kv(LOG_WARN, "Removed a shared-memory segment left by a dead instance", LF_STR,
                   "segment", name, LF_END);
        }
    }
    closedir(d);
    return removed;
}

/*
 * Takes the private copy of the geometry from a freshly mapped header and
 * checks that it describes this segment: the layout shm_pool_create()
 * writes (header rounded up to SLOT_ALIGN, equal aligned slots) and slots
 * that end inside the mapping.  Later changes to the header are ignored.
 */
static int copy_geometry(struct shm_pool *p)
{
    const struct shm_header *h = p->hdr;
    uint32_t slots = h->slot_count, workers = h->worker_count;
    uint64_t hb = h->header_size, per_slot = h->slot_bytes;
    if (slots == 0 || slots > SHM_MAX_SLOTS || workers == 0 || workers > SHM_MAX_WORKERS ||
        hb != header_bytes(slots) || per_slot == 0 || per_slot % SLOT_ALIGN != 0 || hb > p->size ||
        per_slot > (p->size - hb) / slots)
        return FILOT_EINVAL;
    p->slot_count = slots;
    p->worker_count = workers;
    p->header_size = hb;
    p->slot_bytes = per_slot;
    return 0;
}

/* Maps fd and checks that it holds a segment of our version. */
static int map_and_check(struct shm_pool *p, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(p->fd, &st) != 0 || (size_t)st.st_size < sizeof(struct shm_header)) {
        snprintf(err, errlen, "shared memory fd %d is not a filot-ocrd segment", p->fd);
        return FILOT_EINVAL;
    }
    p->size = (size_t)st.st_size;
    p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (p->base == MAP_FAILED) {
        p->base = NULL;
        snprintf(err, errlen, "mmap shared memory: %s", strerror(errno));
        return FILOT_EIO;
    }
    p->hdr = (struct shm_header *)p->base;
    if (p->hdr->magic != SHM_MAGIC || p->hdr->version != SHM_VERSION ||
        p->hdr->total_size != p->size) {
        snprintf(err, errlen, "shared memory segment has a bad header (magic/version/size)");
        return FILOT_EINVAL;
    }
    if (copy_geometry(p) != 0) {
        snprintf(err, errlen, "shared memory segment has a bad slot layout");
        return FILOT_EINVAL;
    }
    return 0;
}

int shm_pool_attach_fd(struct shm_pool *p, int fd, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    int rc = map_and_check(p, err, errlen);
    if (rc != 0)
        shm_pool_close(p);
    return rc;
}

int shm_pool_attach_name(struct shm_pool *p, const char *name, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = shm_open(name, O_RDWR, 0);
    if (p->fd < 0) {
        snprintf(err, errlen, "shm_open(%s): %s", name, strerror(errno));
        return FILOT_EIO;
    }
    int rc = map_and_check(p, err, errlen);
    if (rc != 0)
        shm_pool_close(p);
    return rc;
}

void shm_pool_close(struct shm_pool *p)
{
    if (p->base != NULL)
        munmap(p->base, p->size);
    if (p->fd >= 0)
        close(p->fd);
    if (p->owner && p->name[0] != '\0')
        shm_unlink(p->name);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

int shm_pool_share_fd(struct shm_pool *p)
{
    int flags = fcntl(p->fd, F_GETFD);
    if (flags < 0 || fcntl(p->fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
        return FILOT_EIO;
    return 0;
}

uint8_t *slot_data(const struct shm_pool *p, uint32_t slot)
{
    return p->base + p->header_size + (uint64_t)slot * p->slot_bytes;
}

uint64_t slot_capacity(const struct shm_pool *p, uint32_t slot)
{
    (void)slot; /* equal slots; the index is kept for the callers' sake */
    return p->slot_bytes;
}

enum slot_state slot_state(const struct shm_pool *p, uint32_t slot, uint64_t *gen)
{
    uint64_t v = atomic_load(&p->hdr->slots[slot].state_gen);
    if (gen != NULL)
        *gen = SG_GEN(v);
    return SG_STATE(v);
}

/* One transition: (from, gen) -> (to, newgen).  Fails if either differs. */
static bool transition(struct shm_pool *p, uint32_t slot, enum slot_state from, uint64_t gen,
                       enum slot_state to, uint64_t newgen)
{
    uint64_t expect = SG(from, gen);
    return atomic_compare_exchange_strong(&p->hdr->slots[slot].state_gen, &expect, SG(to, newgen));
}

int slot_claim(struct shm_pool *p, int32_t pid, uint32_t first, uint32_t count, uint32_t *slot,
               uint64_t *gen)
{
    for (uint32_t i = first; i < first + count && i < p->slot_count; i++) {
        uint64_t v = atomic_load(&p->hdr->slots[i].state_gen);
        if (SG_STATE(v) != SLOT_FREE)
            continue;
        /* The range is this worker's own, so nobody races us for owner_pid;
         * writing it first means a crash right after the CAS is reclaimable. */
        atomic_store(&p->hdr->slots[i].owner_pid, pid);
        if (transition(p, i, SLOT_FREE, SG_GEN(v), SLOT_OWNED, SG_GEN(v) + 1)) {
            *slot = i;
            *gen = SG_GEN(v) + 1;
            return 0;
        }
    }
    return FILOT_EBUSY;
}

static int check_slot(const struct shm_pool *p, uint32_t slot)
{
    return slot < p->slot_count ? 0 : FILOT_EINVAL;
}

int slot_lend(struct shm_pool *p, uint32_t slot, uint64_t gen)
{
    if (check_slot(p, slot) != 0)
        return FILOT_EINVAL;
    return transition(p, slot, SLOT_OWNED, gen, SLOT_LENT, gen) ? 0 : FILOT_ESTALE;
}

int slot_gpu_take(struct shm_pool *p, uint32_t slot, uint64_t gen)
{
    if (check_slot(p, slot) != 0)
        return FILOT_EINVAL;
    return transition(p, slot, SLOT_LENT, gen, SLOT_GPU, gen) ? 0 : FILOT_ESTALE;
}

int slot_gpu_finish(struct shm_pool *p, uint32_t slot, uint64_t gen)
{
    if (check_slot(p, slot) != 0)
        return FILOT_EINVAL;
    if (transition(p, slot, SLOT_GPU, gen, SLOT_DONE, gen))
        return 0;
    /* The owner gave up or died while we worked: the slot is ours to free. */
    transition(p, slot, SLOT_ABANDONED, gen, SLOT_FREE, gen + 1);
    return FILOT_ESTALE;
}

int slot_recover(struct shm_pool *p, uint32_t slot, uint64_t gen)
{
    if (check_slot(p, slot) != 0)
        return FILOT_EINVAL;
    for (;;) {
        switch (slot_state(p, slot, NULL)) {
        case SLOT_LENT:
            if (transition(p, slot, SLOT_LENT, gen, SLOT_OWNED, gen))
                return 0;
            break;
        case SLOT_DONE:
            if (transition(p, slot, SLOT_DONE, gen, SLOT_OWNED, gen))
                return 0;
            break;
        case SLOT_GPU:
            /* The GPU may still write here: hand the slot to it to free. */
            if (transition(p, slot, SLOT_GPU, gen, SLOT_ABANDONED, gen))
                return FILOT_EBUSY;
            break;
        case SLOT_OWNED: {
            uint64_t g;
            slot_state(p, slot, &g);
            return g == gen ? 0 : FILOT_ESTALE;
        }
        default:
            return FILOT_ESTALE;
        }
        uint64_t g;
        slot_state(p, slot, &g);
        if (g != gen)
            return FILOT_ESTALE;
    }
}

void slot_release(struct shm_pool *p, uint32_t slot, uint64_t gen)
{
    if (check_slot(p, slot) != 0)
        return;
    if (!transition(p, slot, SLOT_OWNED, gen, SLOT_FREE, gen))
        transition(p, slot, SLOT_DONE, gen, SLOT_FREE, gen);
}

int shm_reclaim_worker(struct shm_pool *p, int32_t pid)
{
    int n = 0;
    for (uint32_t i = 0; i < p->slot_count; i++) {
        struct shm_slot *s = &p->hdr->slots[i];
        if (atomic_load(&s->owner_pid) != pid)
            continue;
        for (;;) {
            uint64_t v = atomic_load(&s->state_gen);
            enum slot_state st = SG_STATE(v);
            uint64_t gen = SG_GEN(v);
            if (st == SLOT_FREE || st == SLOT_ABANDONED)
                break;
            bool ok = st == SLOT_GPU ? transition(p, i, st, gen, SLOT_ABANDONED, gen)
                                     : transition(p, i, st, gen, SLOT_FREE, gen + 1);
            if (ok) {
                n++;
                break;
            }
        }
        atomic_store(&s->owner_pid, 0);
    }
    return n;
}

int shm_reclaim_gpu(struct shm_pool *p)
{
    int n = 0;
    for (uint32_t i = 0; i < p->slot_count; i++) {
        uint64_t v = atomic_load(&p->hdr->slots[i].state_gen);
        uint64_t gen = SG_GEN(v);
        bool moved = (SG_STATE(v) == SLOT_GPU && transition(p, i, SLOT_GPU, gen, SLOT_LENT, gen)) ||
                     (SG_STATE(v) == SLOT_ABANDONED &&
                      transition(p, i, SLOT_ABANDONED, gen, SLOT_FREE, gen + 1));
        if (moved)
            n++;
    }
    return n;
}

uint32_t shm_slots_in_use(const struct shm_pool *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->slot_count; i++)
        if (slot_state(p, i, NULL) != SLOT_FREE)
            n++;
    return n;
}

void shm_gpu_device(const struct shm_pool *p, char *out, size_t len)
{
    if (len == 0)
        return;
    const char *src = p->hdr->gpu_device;
    size_t n = strnlen(src, sizeof p->hdr->gpu_device);
    if (n >= len)
        n = len - 1;
    memcpy(out, src, n);
    out[n] = '\0';
}
