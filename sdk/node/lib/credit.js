'use strict';
// protocol.md 3.7, credit across several brokers, as the Python SDK and examples/python_worker.py
// do it: with no broker asking, every broker may use all free slots; once some ask, all free
// slots go to one of those, in turn (starting after the one given the last turn), and every
// other broker may send nothing more. (With capacity > 1 the spec shares free slots one by one
// among the askers; giving them all to one asker at a time is simpler and never over capacity.)
// Pure bookkeeping: `send(broker, frames)` is the caller's.

const W = Buffer.from('MDPW02');
const CREDIT = Buffer.from([0x10]);

class Credit {
  /** brokers: objects with { socket, conversation, demand, limit }; held: Map of jobs with
   * { conversation }. */
  constructor(brokers, capacity, held, send) {
    this.brokers = brokers;
    this.capacity = capacity;
    this.held = held;
    this.send = send;
    this.owner = null; // index of the broker granted the free slots while some ask
    this.lastGiven = brokers.length - 1;
  }

  jobsOf(broker) {
    let count = 0;
    for (const job of this.held.values()) if (job.conversation === broker.conversation) count += 1;
    return count;
  }

  limits() {
    const jobs = this.brokers.map((broker) => this.jobsOf(broker));
    const free = Math.max(this.capacity - this.held.size, 0);
    const wanting = this.brokers.map((b, i) => (b.socket && b.demand ? i : -1)).filter((i) => i >= 0);
    if (!free || !wanting.length) {
      this.owner = null;
      return jobs.map((count) => count + free);
    }
    if (!wanting.includes(this.owner)) {
      const count = this.brokers.length;
      for (let k = 1; k <= count; k += 1) {
        const i = (this.lastGiven + k) % count;
        if (wanting.includes(i)) {
          this.owner = i;
          break;
        }
      }
      this.lastGiven = this.owner;
    }
    return jobs.map((count, i) => count + (i === this.owner ? free : 0));
  }

  /** CREDIT to each broker whose limit went down (lowered) or up (not lowered). */
  tell(lowered) {
    const limits = this.limits();
    this.brokers.forEach((broker, i) => {
      const limit = limits[i];
      if (broker.socket && limit !== broker.limit && (limit < broker.limit) === lowered) {
        this.send(broker, [W, CREDIT, Buffer.from(String(limit))]);
        broker.limit = limit;
      }
    });
  }

  tellAll() {
    this.tell(true);
    this.tell(false);
  }
}

module.exports = { Credit };
