/*
 * shm_pool.h - the shared-memory segment: header, worker table, slot pool.
 *
 * The supervisor creates one segment per instance (POSIX shm, reserved with
 * posix_fallocate so a full /dev/shm fails at start-up, not with SIGBUS
 * later) and passes the fd to its children.  Pixels live in slots; control
 * messages only name a (slot, generation) pair.
 *
 * Slot life cycle (each arrow one compare-and-swap on state_gen, which packs
 * the state and the generation so both are checked at once):
 *
 *   FREE --claim(worker, gen+1)--> OWNED --lend--> LENT --take(gpu)--> GPU
 *   GPU --finish--> DONE --release--> FREE
 *   worker gives up waiting:  LENT -> OWNED,  GPU -> ABANDONED,  DONE -> OWNED
 *   gpu finishes an abandoned slot: ABANDONED -> FREE
 *   supervisor, owner died:   GPU -> ABANDONED, anything else -> FREE (gen+1)
 *   supervisor, gpu died:     GPU -> LENT (the owner recovers it), ABANDONED -> FREE
 *
 * The worker table is liveness information (the postmaster's PMChildFlags):
 * workers write their own state, job start time, job counts and queue
 * sizes (job_stats.h), the supervisor writes pid and exit records.  No job
 * data is stored here.
 */
#ifndef FILOT_SHM_POOL_H
#define FILOT_SHM_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_stats.h"

#define SHM_MAGIC       0x52434f544f4c4946ULL /* "FILOTOCR" */
#define SHM_VERSION     2u                    /* 2: job statistics and queue sample per worker */
#define SHM_MAX_WORKERS 64
#define SHM_MAX_SLOTS   (2 * SHM_MAX_WORKERS)

enum slot_state {
    SLOT_FREE = 0,
    SLOT_OWNED = 1,
    SLOT_LENT = 2,
    SLOT_GPU = 3,
    SLOT_DONE = 4,
    SLOT_ABANDONED = 5
};

enum worker_state { WS_EMPTY = 0, WS_STARTING, WS_IDLE, WS_BUSY, WS_EXITING };

/* Why the supervisor ended a worker (exit record). */
enum exit_reason { ER_NONE = 0, ER_JOB_TIMEOUT = 1, ER_DRAIN_KILL = 2 };

enum gpu_state { GPU_DOWN = 0, GPU_READY = 1, GPU_UNAVAILABLE = 2 };

/* Dependency health a worker reports (liveness information, not job data). */
enum dep_bits { DEP_REDIS_KNOWN = 1, DEP_REDIS_UP = 2, DEP_DB_KNOWN = 4, DEP_DB_UP = 8 };

struct shm_slot {
    _Atomic uint64_t state_gen; /* generation << 8 | state */
    _Atomic int32_t owner_pid;
    uint32_t reserved;
    uint64_t offset;   /* from the start of the segment (informative: readers */
    uint64_t capacity; /* use their private geometry in struct shm_pool) */
};

struct shm_worker {
    _Atomic int32_t pid;             /* supervisor: at spawn; 0 after reap */
    _Atomic uint32_t state;          /* worker: enum worker_state */
    _Atomic uint64_t job_started_ms; /* worker: monotonic ms, 0 when idle */
    _Atomic uint64_t jobs_done;      /* worker: all incarnations of this index */
    _Atomic uint64_t gpu_jobs;
    _Atomic uint64_t cpu_jobs;
    _Atomic uint64_t rss_kb;
    _Atomic uint32_t deps; /* worker: DEP_* bits, queue mode only */
    /* exit record, supervisor at reap; exits is bumped after the fields */
    _Atomic int32_t last_pid;
    _Atomic int32_t last_status; /* raw wait status */
    _Atomic uint32_t last_reason;
    _Atomic uint32_t exits;
    /* worker: this incarnation's job counts (zeroed by the supervisor at reap) */
    struct shm_job_stats stats;
    struct shm_queue_sample queue; /* worker: Redis sizes, when it sampled them */
};

struct shm_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t total_size;
    uint32_t slot_count;
    uint32_t worker_count;
    uint64_t slot_bytes;
    int32_t supervisor_pid;
    uint32_t reserved;
    _Atomic uint32_t draining;  /* supervisor: stop taking jobs */
    _Atomic uint32_t gpu_state; /* gpu-server sets READY, supervisor DOWN at reap */
    _Atomic int32_t gpu_pid;
    _Atomic uint32_t listener_resets;
    char gpu_device[64];
    struct shm_worker workers[SHM_MAX_WORKERS];
    struct shm_slot slots[];
};

/*
 * A process's view of the segment.  The geometry below is a private copy:
 * the creator's own numbers, or a reader's copy of the header taken and
 * checked once at attach.  Every bound, offset and loop uses these copies,
 * never the header, which any child that maps the segment can overwrite.
 */
struct shm_pool {
    struct shm_header *hdr;
    uint8_t *base;
    size_t size;
    int fd;
    bool owner;
    char name[64];
    uint32_t slot_count;
    uint32_t worker_count;
    uint64_t header_size; /* slot 0 starts here */
    uint64_t slot_bytes;  /* every slot's capacity; slot i at header_size + i * slot_bytes */
};

/*
 * Creates, reserves and initialises a segment named name ("/filot-ocrd.PID").
 * slots slots share what the header leaves of size.  On failure err says
 * why in terms of OCR_SHM_SIZE and /dev/shm.
 */
int shm_pool_create(struct shm_pool *p, const char *name, uint64_t size, uint32_t workers,
                    uint32_t slots, char *err, size_t errlen);

/*
 * Removes segments "/<prefix>.<pid>" left by supervisors that died without
 * cleaning up (SIGKILL, OOM): their pid is gone or runs another program.
 * Returns how many were removed.
 */
int shm_pool_remove_stale(const char *prefix);

/* Maps an inherited fd (children) and validates the header. */
int shm_pool_attach_fd(struct shm_pool *p, int fd, char *err, size_t errlen);

/* Opens by name (diagnostic readers such as filot-ocr). */
int shm_pool_attach_name(struct shm_pool *p, const char *name, char *err, size_t errlen);

/*
 * Creator only: writes the layout fields of the header (magic, version,
 * sizes, slot table) again from the private geometry, undoing whatever a
 * child wrote there, so children started later can attach.  Slot states
 * and the worker table are left alone.
 */
void shm_pool_restore_layout(struct shm_pool *p);

/* Unmaps; the creator also unlinks the name.  Safe on a zeroed pool. */
void shm_pool_close(struct shm_pool *p);

/* Makes the fd survive exec (clears FD_CLOEXEC). */
int shm_pool_share_fd(struct shm_pool *p);

/* Slot memory from the private geometry; slot must be < p->slot_count. */
uint8_t *slot_data(const struct shm_pool *p, uint32_t slot);
uint64_t slot_capacity(const struct shm_pool *p, uint32_t slot);
enum slot_state slot_state(const struct shm_pool *p, uint32_t slot, uint64_t *gen);

/* Claims a FREE slot among [first, first+count) (a worker's own range). */
int slot_claim(struct shm_pool *p, int32_t pid, uint32_t first, uint32_t count, uint32_t *slot,
               uint64_t *gen);
int slot_lend(struct shm_pool *p, uint32_t slot, uint64_t gen);
int slot_gpu_take(struct shm_pool *p, uint32_t slot, uint64_t gen);
int slot_gpu_finish(struct shm_pool *p, uint32_t slot, uint64_t gen);
int slot_recover(struct shm_pool *p, uint32_t slot, uint64_t gen);
void slot_release(struct shm_pool *p, uint32_t slot, uint64_t gen);

/* Supervisor, after reaping pid.  Returns how many slots changed hands. */
int shm_reclaim_worker(struct shm_pool *p, int32_t pid);
int shm_reclaim_gpu(struct shm_pool *p);

uint32_t shm_slots_in_use(const struct shm_pool *p);

/*
 * Copies the device name the GPU server wrote into out (len bytes, always
 * NUL-terminated): at most the field's size is read, whatever a child left
 * there.
 */
void shm_gpu_device(const struct shm_pool *p, char *out, size_t len);

#endif
