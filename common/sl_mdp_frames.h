/*  sl_mdp_frames: the frames of one Majordomo message as the decoder reads them, from
    wherever they come: a czmq message (sl_mdp.c) or straight off a socket (sl_mdp_io.c).
    One decoder serves both without knowing which, so the codec does no I/O. Private to
    sl_mdp.c and sl_mdp_io.c. */
#ifndef SL_MDP_FRAMES_H
#define SL_MDP_FRAMES_H

#include <czmq.h>
#include <stdbool.h>

#include "sl_mdp.h"

typedef struct sl_mdp_frames_s sl_mdp_frames_t;

typedef struct {
    /* The next frame becomes current; -1 if there is none. */
    int (*next)(sl_mdp_frames_t *frames);
    /* The current frame's bytes and size. */
    const byte *(*data)(sl_mdp_frames_t *frames);
    size_t (*size)(sl_mdp_frames_t *frames);
    /* Frames follow the current one. */
    bool (*more)(sl_mdp_frames_t *frames);
    /* The current frame, for the caller to keep. */
    zframe_t *(*take)(sl_mdp_frames_t *frames);
    /* The frames left as a message, the current one first when keep_current. */
    zmsg_t *(*rest)(sl_mdp_frames_t *frames, bool keep_current);
} sl_mdp_frames_ops_t;

/* Embedded first in each source's own struct. */
struct sl_mdp_frames_s {
    const sl_mdp_frames_ops_t *ops;
};

/* Decodes one message from frames into out (zeroed by the caller, capacity 1). Returns 0,
   -1 if malformed (*reason set), or 1 when the first frame names no MDP protocol and
   foreign_p wants such messages whole (*foreign_p set). */
int sl_mdp_decode_frames(sl_mdp_frames_t *frames, sl_mdp_direction_t direction, sl_mdp_msg_t *out,
                         zmsg_t **foreign_p, const char **reason);

#endif
