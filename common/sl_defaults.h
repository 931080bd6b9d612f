/*  sl_defaults.h: every default and limit of slowlane, named once.
    Components read these instead of scattering numbers; flags override them at start-up. */
#ifndef SL_DEFAULTS_H
#define SL_DEFAULTS_H

/* Broker */
#define SL_DEFAULT_BROKER_BIND     "tcp://*:5555"
#define SL_DEFAULT_BROKER_ENDPOINT "tcp://127.0.0.1:5555"
#define SL_MAX_BROKERS             16   /* --broker endpoints one process attaches to */
#define SL_DEFAULT_HEARTBEAT_MS    1000 /* both ways, broker <-> worker */
#define SL_DEFAULT_LIVENESS        3    /* missed heartbeats before a peer is dead */
/* CPU slice the gateway and the broker ask of the scheduler (sl_sched.h), microseconds: the
   shortest the kernel grants, so a request's wake-ups preempt a CPU hog at once */
#define SL_DEFAULT_SLICE_US    100
#define SL_MAX_SLICE_US        100000
#define SL_DEFAULT_QUEUE_LIMIT 0 /* waiting requests per service: no count bound */
/* The memory the waiting requests of one service may hold, MiB: 100,000 pipelined plain
   requests take ~50 MiB, so a client of the asynchronous kind is served in full. */
#define SL_DEFAULT_QUEUE_MAX_MB       256
#define SL_DEFAULT_MAX_DELIVERIES     3     /* times one request may be handed to a worker */
#define SL_DEFAULT_REQUEST_TIMEOUT_MS 30000 /* for requests that carry no deadline (plain MDP) */
/* How long a plain MDP request for a service with no worker waits for one: the ZeroMQ
   guide's clients (mdcliapi, and most written from it) give up after 2,500 ms and send
   again, so a request held longer would run for a client that has already resent it. */
#define SL_DEFAULT_HOLD_PLAIN_MS 2500
/* The slowest worker heartbeat the broker learns (RFC 7 leaves the interval to the peers;
   2,500 ms is common in published MDP code): twice that, as a bound. */
#define SL_DEFAULT_MAX_PEER_HEARTBEAT_MS 5000
#define SL_MAX_MESSAGE_BYTES             (64LL * 1024 * 1024) /* ZMQ_MAXMSGSIZE on every socket */
#define SL_MAX_SERVICE_NAME              255
#define SL_MAX_ADDRESS_BYTES             255
#define SL_REQUEST_ID_MAX                64
#define SL_LOG_RATE_PER_SECOND           10 /* malformed-message log lines per second */

/* Worker and supervisor */
#define SL_DEFAULT_WORKER_COUNT    2
#define SL_DEFAULT_WORKER_CAPACITY 1    /* jobs a worker takes at once (READY capacity=K) */
#define SL_MAX_WORKER_CAPACITY     1024 /* largest capacity a READY may declare */
#define SL_MAX_WORKER_BROKERS                                                                      \
    SL_MAX_BROKERS                      /* brokers one worker registers with (protocol.md 3.7) */
#define SL_UP_FAST_CAPACITY         16  /* `slowlane up`: capacity of the /fast workers */
#define SL_DEFAULT_RECONNECT_MIN_MS 100 /* worker -> broker reconnect backoff */
#define SL_DEFAULT_RECONNECT_MAX_MS 5000
#define SL_RESTART_BACKOFF_MIN_MS   100 /* supervisor restart backoff: 100 ms x1.5 ... */
#define SL_RESTART_BACKOFF_FACTOR   1.5
#define SL_RESTART_BACKOFF_MAX_MS   15000 /* ... capped at 15 s */
#define SL_RESTART_RESET_AFTER_MS   30000 /* backoff resets after 30 s up */
#define SL_CRASH_LOOP_RESTARTS      10    /* restarts within the window that stop a slot */
#define SL_CRASH_LOOP_WINDOW_MS     60000
#define SL_DEFAULT_JOB_TIMEOUT_MS   0     /* 0 = no job timeout beyond the request deadline */
#define SL_DEFAULT_DRAIN_TIMEOUT_MS 30000 /* SIGTERM: time a job in hand may take to finish */
#define SL_CANCEL_GRACE_MS          5000  /* exec: a cancelled job's SIGTERM -> SIGKILL */
#define SL_BUSY_DEFAULT_MS          5000  /* builtin:busy without ?ms= (the seed's doSomeWork) */
#define SL_RSS_CHECK_INTERVAL_MS    1000  /* how often the supervisor reads /proc/PID/statm */

/* Gateway */
#define SL_DEFAULT_LISTEN_PORT      8080
#define SL_DEFAULT_ROUTE_TIMEOUT_MS 30000
#define SL_DEFAULT_ROUTE_BUDGET     256 /* in-flight requests per route */
#define SL_DEFAULT_BODY_LIMIT       (16LL * 1024 * 1024)
#define SL_DEFAULT_THREAD_RESERVE   16 /* civetweb threads beyond the route budgets */
#define SL_DEFAULT_RETRY_AFTER_S    1
#define SL_DEFAULT_KEEPALIVE_MS     5000  /* idle keep-alive connection timeout */
#define SL_DEFAULT_REQUEST_READ_MS  10000 /* time to receive one request's headers and body */
#define SL_MAX_HEADERS              64    /* civetweb's MG_MAX_HEADERS: more answers 431 */

/* Gateway, continued */
#define SL_MAX_ROUTE_BUDGET         100000                         /* largest --route budget= */
#define SL_MAX_ROUTE_PREFIX         1024                           /* bytes in a route prefix */
#define SL_MAX_BODY_LIMIT           (SL_MAX_MESSAGE_BYTES - 65536) /* body + envelope fit a frame */
#define SL_MAX_GATEWAY_THREADS      1024  /* cap on the derived civetweb thread count */
#define SL_DEFAULT_MAX_CONNECTIONS  2048  /* HTTP connections served at once: a thread each */
#define SL_MAX_CONNECTIONS          16384 /* largest --max-connections and --threads */
#define SL_FUTEX_HASH_MIN_SLOTS     16    /* the kernel's own smallest private futex hash */
#define SL_FUTEX_HASH_MAX_SLOTS     65536 /* 4 a thread for SL_MAX_CONNECTIONS threads */
#define SL_DEFAULT_PROBE_MS         500   /* gateway readiness: mmi.service per service */
#define SL_DEFAULT_GATEWAY_DRAIN_MS 5000  /* SIGTERM: time in-flight requests may take */
#define SL_GATEWAY_RECONNECT_MS     100   /* gateway -> broker reconnect interval */
#define SL_GATEWAY_RECONNECT_MAX_MS 1000
#define SL_MAX_HEADER_BYTES         32768 /* request header fields in all: more answers 431 */
#define SL_GATEWAY_MAX_REQUEST_HEAD 65536 /* civetweb's buffer; a bigger head is a 400 */

/* Broker internals (appended by the broker work) */
#define SL_BROKER_HWM                100000 /* ZMQ_SNDHWM/RCVHWM: room for pipelined clients */
#define SL_BROKER_RECV_BATCH         256    /* messages handled per wake-up before timers run */
#define SL_BROKER_SHUTDOWN_LINGER_MS 1000   /* time to flush DISCONNECTs and errors at exit */

/* CURVE (sl_curve) */
#define SL_CURVE_KEY_FILE_MAX 16384 /* bytes: a larger file is not a key file */

/* Cluster manager (agents, admin API, CLI; appended by the cluster work) */
#define SL_MAX_WORKER_SLOTS        1024  /* workers one supervisor may run (--count, scale) */
#define SL_AGENT_STATUS_MIN_MS     50    /* an agent reports a change at most this often */
#define SL_AGENT_FULL_STATUS_EVERY 10    /* heartbeats between whole STATUS when idle (ALIVE) */
#define SL_AGENT_HWM               100   /* agent DEALER queue: status is re-sent, never piled */
#define SL_BROADCAST_MAX_BYTES     65536 /* one broadcast message */
#define SL_BROADCAST_PIPE_BYTES    (1024 * 1024) /* per-worker pipe: pending broadcasts */
#define SL_BROADCAST_ID_MAX        64            /* bytes in a broadcast id */
#define SL_BROADCAST_SEEN          64            /* ids an agent remembers to deliver each once */
#define SL_ADMIN_TOKEN_MIN         16            /* bytes: a shorter admin token is refused */
#define SL_ADMIN_TOKEN_MAX         256
#define SL_ADMIN_BODY_MAX          (SL_BROADCAST_MAX_BYTES * 2 + 4096) /* admin JSON body */
#define SL_ADMIN_BROKER_TIMEOUT_MS 3000                   /* gateway -> broker admin request */
#define SL_ADMIN_TOKEN_FILE        "slowlane/admin-token" /* under $XDG_CONFIG_HOME or ~/.config */
#define SL_DEFAULT_GATEWAY_URL     "http://localhost:8080"
#define SL_CLI_WAIT_MS             30000 /* `slowlane scale` waits this long for the cluster */
#define SL_CLI_AGENT_WAIT_MS       3000  /* ... and this long for a just-started supervisor */

/* Asynchronous jobs: slowlane-jobs and the gateway's async routes (docs/jobs.md). */
#define SL_JOBS_SERVICE                  "slowlane.jobs" /* the jobs component's service */
#define SL_JOBS_ROUTE_PREFIX             "/jobs"         /* the gateway's route to it */
#define SL_DEFAULT_JOBS_DATA_DIR         "/var/lib/slowlane/jobs"
#define SL_DEFAULT_JOBS_MAX_IN_FLIGHT    64     /* attempts out per service at once */
#define SL_DEFAULT_JOBS_RETRY_BASE_MS    1000   /* first retry's delay, doubling */
#define SL_DEFAULT_JOBS_RETRY_MAX_MS     60000  /* longest retry delay */
#define SL_DEFAULT_JOBS_GRACE_MS         5000   /* past an attempt's timeout: given up */
#define SL_DEFAULT_JOBS_EXPIRED_KEEP_S   604800 /* an expired job answers 410 for a week */
#define SL_DEFAULT_JOBS_MAX_RESULT_BYTES (64LL * 1024 * 1024)
#define SL_DEFAULT_JOB_TIMEOUT_ROUTE_MS                                                            \
    600000 /* an async attempt's deadline (route async-timeout-ms) */
#define SL_DEFAULT_JOB_TTL_MS      86400000 /* a result is kept a day (route result-ttl-s) */
#define SL_DEFAULT_JOB_ATTEMPTS    3        /* attempts of a retryable job (route attempts) */
#define SL_JOBS_REQUEST_TIMEOUT_MS 10000    /* gateway -> slowlane.jobs: submit, status */
#define SL_JOBS_ROUTE_BUDGET       64       /* /jobs requests in flight at once */

#endif
