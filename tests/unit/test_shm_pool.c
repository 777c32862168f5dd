/*
 * test_shm_pool.c - the slot pool: claim, lend, GPU hand-off, recovery,
 * reclaim after a real process died, and refusal of stale generations.
 */
#include <check.h>

#include "check_run.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/status.h"
#include "ipc/shm_pool.h"

static struct shm_pool pool;

static void setup(void)
{
    char name[64], err[256];
    snprintf(name, sizeof name, "/filot-test.%d", (int)getpid());
    ck_assert_int_eq(shm_pool_create(&pool, name, 32u << 20, 2, 4, err, sizeof err), 0);
}

static void teardown(void)
{
    shm_pool_close(&pool);
}

START_TEST(test_layout)
{
    ck_assert_uint_eq(pool.hdr->slot_count, 4);
    ck_assert_uint_eq(pool.hdr->worker_count, 2);
    ck_assert_uint_ge(pool.hdr->slot_bytes, 7u << 20);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(slot_state(&pool, i, NULL), SLOT_FREE);
        ck_assert_uint_eq(pool.hdr->slots[i].offset % 4096, 0);
        ck_assert_uint_le(pool.hdr->slots[i].offset + slot_capacity(&pool, i), pool.size);
    }
    /* slots do not overlap */
    ck_assert_uint_ge(pool.hdr->slots[1].offset,
                      pool.hdr->slots[0].offset + slot_capacity(&pool, 0));
}
END_TEST

START_TEST(test_claim_range_and_release)
{
    uint32_t a, b, c;
    uint64_t ga, gb, gc;
    ck_assert_int_eq(slot_claim(&pool, 100, 2, 2, &a, &ga), 0);
    ck_assert_int_eq(slot_claim(&pool, 100, 2, 2, &b, &gb), 0);
    ck_assert_uint_eq(a, 2);
    ck_assert_uint_eq(b, 3);
    ck_assert_int_eq(slot_claim(&pool, 100, 2, 2, &c, &gc), FILOT_EBUSY);
    ck_assert_uint_eq(shm_slots_in_use(&pool), 2);
    slot_release(&pool, a, ga);
    ck_assert_int_eq(slot_claim(&pool, 100, 2, 2, &c, &gc), 0);
    ck_assert_uint_eq(c, 2);
    ck_assert_uint_gt(gc, ga); /* every claim is a new generation */
}
END_TEST

START_TEST(test_gpu_handoff)
{
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&pool, 1, 0, 2, &s, &g), 0);
    ck_assert_int_eq(slot_gpu_take(&pool, s, g), FILOT_ESTALE); /* not lent yet */
    ck_assert_int_eq(slot_lend(&pool, s, g), 0);
    ck_assert_int_eq(slot_gpu_take(&pool, s, g + 1), FILOT_ESTALE);
    ck_assert_int_eq(slot_gpu_take(&pool, s, g), 0);
    ck_assert_int_eq(slot_gpu_finish(&pool, s, g), 0);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_DONE);
    slot_release(&pool, s, g);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_FREE);
}
END_TEST

START_TEST(test_worker_gives_up_while_gpu_works)
{
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&pool, 1, 0, 1, &s, &g), 0);
    ck_assert_int_eq(slot_lend(&pool, s, g), 0);
    ck_assert_int_eq(slot_gpu_take(&pool, s, g), 0);
    /* the worker times out: the slot must not be reused while the GPU writes */
    ck_assert_int_eq(slot_recover(&pool, s, g), FILOT_EBUSY);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_ABANDONED);
    uint32_t s2;
    uint64_t g2;
    ck_assert_int_eq(slot_claim(&pool, 1, 0, 1, &s2, &g2), FILOT_EBUSY);
    /* the GPU finishes late: it frees the slot and learns the answer is stale */
    ck_assert_int_eq(slot_gpu_finish(&pool, s, g), FILOT_ESTALE);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_FREE);
}
END_TEST

START_TEST(test_recover_before_gpu_took_it)
{
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&pool, 1, 0, 1, &s, &g), 0);
    ck_assert_int_eq(slot_lend(&pool, s, g), 0);
    ck_assert_int_eq(slot_recover(&pool, s, g), 0);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_OWNED);
    /* a late request for this generation is refused */
    ck_assert_int_eq(slot_gpu_take(&pool, s, g), FILOT_ESTALE);
}
END_TEST

/* A real child claims and lends a slot, then dies by SIGKILL. */
START_TEST(test_reclaim_dead_pid)
{
    pid_t pid = fork();
    if (pid == 0) {
        uint32_t s;
        uint64_t g;
        if (slot_claim(&pool, getpid(), 0, 2, &s, &g) != 0 || slot_lend(&pool, s, g) != 0)
            _exit(1);
        pause();
        _exit(0);
    }
    ck_assert_int_gt(pid, 0);
    for (int i = 0; i < 200 && slot_state(&pool, 0, NULL) != SLOT_LENT; i++)
        usleep(5000);
    uint64_t old_gen;
    ck_assert_uint_eq(slot_state(&pool, 0, &old_gen), SLOT_LENT);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(shm_reclaim_worker(&pool, pid), 1);
    uint64_t gen;
    ck_assert_uint_eq(slot_state(&pool, 0, &gen), SLOT_FREE);
    ck_assert_uint_gt(gen, old_gen);
    /* the dead worker's message, arriving late, is refused */
    ck_assert_int_eq(slot_gpu_take(&pool, 0, old_gen), FILOT_ESTALE);
}
END_TEST

START_TEST(test_reclaim_owner_dead_while_gpu_busy)
{
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&pool, 4242, 0, 1, &s, &g), 0);
    slot_lend(&pool, s, g);
    slot_gpu_take(&pool, s, g);
    ck_assert_int_eq(shm_reclaim_worker(&pool, 4242), 1);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_ABANDONED);
    ck_assert_int_eq(slot_gpu_finish(&pool, s, g), FILOT_ESTALE);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_FREE);
}
END_TEST

START_TEST(test_reclaim_gpu_dead)
{
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&pool, 7, 0, 1, &s, &g), 0);
    slot_lend(&pool, s, g);
    slot_gpu_take(&pool, s, g);
    ck_assert_int_eq(shm_reclaim_gpu(&pool), 1);
    /* back to the owner, who recovers it */
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_LENT);
    ck_assert_int_eq(slot_recover(&pool, s, g), 0);
    ck_assert_uint_eq(slot_state(&pool, s, NULL), SLOT_OWNED);
}
END_TEST

START_TEST(test_attach_by_fd_and_name)
{
    struct shm_pool other;
    char err[256];
    ck_assert_int_eq(shm_pool_attach_name(&other, pool.name, err, sizeof err), 0);
    ck_assert_uint_eq(other.hdr->slot_count, 4);
    uint32_t s;
    uint64_t g;
    ck_assert_int_eq(slot_claim(&other, 5, 1, 1, &s, &g), 0);
    ck_assert_uint_eq(slot_state(&pool, 1, NULL), SLOT_OWNED); /* same memory */
    shm_pool_close(&other);
    ck_assert_int_ne(shm_pool_attach_name(&other, "/filot-test-missing", err, sizeof err), 0);
}
END_TEST

START_TEST(test_too_big_for_dev_shm)
{
    struct shm_pool big;
    char err[512];
    int rc = shm_pool_create(&big, "/filot-test-big", 60ULL << 30, 2, 4, err, sizeof err);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(err, "OCR_SHM_SIZE"));
}
END_TEST

/* Segments of dead supervisors go; a live one (here: ourselves) stays. */
START_TEST(test_remove_stale)
{
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char live_name[64], dead_name[64];
    snprintf(live_name, sizeof live_name, "/test_shm_pool.%d", (int)getpid());
    snprintf(dead_name, sizeof dead_name, "/test_shm_pool.%d", (int)dead);
    int fd1 = shm_open(live_name, O_RDWR | O_CREAT, 0600);
    int fd2 = shm_open(dead_name, O_RDWR | O_CREAT, 0600);
    ck_assert(fd1 >= 0 && fd2 >= 0);
    close(fd1);
    close(fd2);
    ck_assert_int_eq(shm_pool_remove_stale("test_shm_pool"), 1);
    ck_assert_int_eq(shm_unlink(dead_name), -1); /* already gone */
    ck_assert_int_eq(shm_unlink(live_name), 0);  /* was kept */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shm_pool");
    TCase *tc = tcase_create("slots");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_claim_range_and_release);
    tcase_add_test(tc, test_gpu_handoff);
    tcase_add_test(tc, test_worker_gives_up_while_gpu_works);
    tcase_add_test(tc, test_recover_before_gpu_took_it);
    tcase_add_test(tc, test_reclaim_dead_pid);
    tcase_add_test(tc, test_reclaim_owner_dead_while_gpu_busy);
    tcase_add_test(tc, test_reclaim_gpu_dead);
    tcase_add_test(tc, test_attach_by_fd_and_name);
    tcase_add_test(tc, test_too_big_for_dev_shm);
    tcase_add_test(tc, test_remove_stale);
    suite_add_tcase(s, tc);
    return check_run(s);
}
