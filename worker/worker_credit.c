/*  worker_credit: the grant policy of protocol.md 3.7 (see worker_credit.h). Why "after the
    broker served last": under saturation every freed slot then goes to another hungry
    broker than the one whose job just took a slot, so two brokers alternate on a worker of
    capacity 1, and with K slots each hungry broker ends up holding about K / hungry. */
#include <assert.h>
#include "worker_credit.h"

void worker_credit_allocate(int capacity, int orphans, const worker_credit_broker_t *brokers,
                            size_t count, int last_served, int *limits)
{
    assert(capacity >= 1 && orphans >= 0);
    assert(count == 0 || (brokers && limits));
    int free_slots = capacity - orphans;
    size_t hungry = 0;
    for (size_t index = 0; index < count; index++) {
        limits[index] = brokers[index].held;
        free_slots -= brokers[index].held;
        if (brokers[index].connected && brokers[index].hungry)
            hungry++;
    }
    //  Over capacity cannot happen (a job that would overfill is handed back), but a
    //  broker must never be told of a negative limit if it did
    if (free_slots <= 0)
        return;
    if (hungry == 0) {
        for (size_t index = 0; index < count; index++)
            if (brokers[index].connected)
                limits[index] += free_slots;
        return;
    }
    size_t start = last_served >= 0 && (size_t) last_served < count ? (size_t) last_served + 1 : 0;
    for (size_t step = 0; free_slots > 0; step++) {
        size_t index = (start + step) % count;
        if (brokers[index].connected && brokers[index].hungry) {
            limits[index]++;
            free_slots--;
        }
    }
}
