/*  sl_defaults.h: every default and limit of slowlane, named once.
    Components read these instead of scattering numbers; flags override them at start-up. */
#ifndef SL_DEFAULTS_H
#define SL_DEFAULTS_H

/* Broker */
#define SL_DEFAULT_BROKER_BIND        "tcp://*:5555"
#define SL_DEFAULT_BROKER_ENDPOINT    "tcp://127.0.0.1:5555"
#define SL_DEFAULT_HEARTBEAT_MS       1000   /* both ways, broker <-> worker */
#define SL_DEFAULT_LIVENESS           3      /* missed heartbeats before a peer is dead */
#define SL_DEFAULT_QUEUE_LIMIT        10000  /* waiting requests per service */
#define SL_DEFAULT_MAX_DELIVERIES     3      /* times one request may be handed to a worker */
#define SL_DEFAULT_REQUEST_TIMEOUT_MS 30000  /* for requests that carry no deadline (plain MDP) */
#define SL_MAX_MESSAGE_BYTES          (64LL * 1024 * 1024) /* ZMQ_MAXMSGSIZE on every socket */
#define SL_MAX_SERVICE_NAME           255
#define SL_MAX_ADDRESS_BYTES          255
#define SL_REQUEST_ID_MAX             64
#define SL_LOG_RATE_PER_SECOND        10     /* malformed-message log lines per second */

/* Worker and supervisor */
#define SL_DEFAULT_WORKER_COUNT       2
#define SL_DEFAULT_RECONNECT_MIN_MS   100    /* worker -> broker reconnect backoff */
#define SL_DEFAULT_RECONNECT_MAX_MS   5000
#define SL_RESTART_BACKOFF_MIN_MS     100    /* supervisor restart backoff: 100 ms x1.5 ... */
#define SL_RESTART_BACKOFF_FACTOR     1.5
#define SL_RESTART_BACKOFF_MAX_MS     15000  /* ... capped at 15 s */
#define SL_RESTART_RESET_AFTER_MS     30000  /* backoff resets after 30 s up */
#define SL_CRASH_LOOP_RESTARTS        10     /* restarts within the window that stop a slot */
#define SL_CRASH_LOOP_WINDOW_MS       60000
#define SL_DEFAULT_JOB_TIMEOUT_MS     0      /* 0 = no job timeout beyond the request deadline */
#define SL_DEFAULT_DRAIN_TIMEOUT_MS   30000  /* SIGTERM: time a job in hand may take to finish */
#define SL_BUSY_DEFAULT_MS            5000   /* builtin:busy without ?ms= (the seed's doSomeWork) */

/* Gateway */
#define SL_DEFAULT_LISTEN_PORT        8080
#define SL_DEFAULT_ROUTE_TIMEOUT_MS   30000
#define SL_DEFAULT_ROUTE_BUDGET       256    /* in-flight requests per route */
#define SL_DEFAULT_BODY_LIMIT         (16LL * 1024 * 1024)
#define SL_DEFAULT_THREAD_RESERVE     16     /* civetweb threads beyond the route budgets */
#define SL_DEFAULT_RETRY_AFTER_S      1
#define SL_DEFAULT_KEEPALIVE_MS       5000   /* idle keep-alive connection timeout */
#define SL_DEFAULT_REQUEST_READ_MS    10000  /* time to receive one request's headers and body */
#define SL_MAX_HEADERS                64     /* civetweb's MG_MAX_HEADERS: more answers 431 */

#endif
