/* face.h (internal to lib/synth): procedural identities, recording conditions, per-frame pose and
 * expression, and the renderer. Geometry is in "face units": the head is an ellipse of half-height
 * 1 centred at the origin, y pointing down (chin near +1, eyes near 0). */
#ifndef DFS_SYNTH_FACE_H
#define DFS_SYNTH_FACE_H

#include <stdint.h>

#include "core/rng.h"

typedef struct syn_identity {
    float head_w, head_h, jaw;          /* half width, half height, jaw taper (0..0.5) */
    float skin[3];                      /* base skin colour, 0..255 */
    float eye_sep, eye_y, eye_w, eye_h, eye_tilt;
    float iris[3], iris_r;
    float brow_gap, brow_thick, brow_arch, brow_len, brow_tilt;
    float nose_y, nose_w, nose_len;
    float mouth_y, mouth_w, lip_up, lip_lo;
    float lip[3];
    float hair[3];
    int hair_style;                     /* 0 short, 1 long, 2 bald/shaved, 3 bun/volume */
    float hairline, hair_vol, part;
    int glasses;                        /* 0 none, 1 round, 2 rectangular */
    float glass_col[3], glass_thick;
    float beard;                        /* 0 none .. 1 full */
    float blush, freckles;
    uint64_t tex;                       /* texture seed */
} syn_identity;

typedef struct syn_capture {
    int bg_type;                        /* 0 gradient studio, 1 room panels, 2 bokeh */
    float bg[4][3];
    float bg_angle;
    float bg_x[4], bg_y[4], bg_r[4];
    uint64_t bg_seed;
    float light_x, light_y, ambient, intensity;
    float tint[3];                      /* colour temperature multipliers */
    float noise;                        /* camera noise sigma, 0..255 scale */
    float cloth[3];
    float yaw, pitch, roll, x, y, scale;  /* base pose */
    float ph[12], fr[12];               /* phases and frequencies of the motions over time */
    float talk, blink_rate, smile;
} syn_capture;

typedef struct syn_pose {
    float cx, cy, scale;                /* pixel centre of the head and pixels per face unit */
    float roll, yaw, pitch;
    float mouth_open, smile, blink, gaze_x, gaze_y, brow_raise;
    float light_x, light_y, bright;
} syn_pose;

void syn_identity_make(syn_identity *id, uint64_t seed, int pool, int number);
void syn_capture_make(syn_capture *c, uint64_t seed, int pool, int number, int capture);
/* Pose and expression at time t (frame index plus offset) for an image of side size. */
void syn_pose_at(syn_pose *p, const syn_capture *c, float t, int size, int wide);
/* Copy the expression (mouth, smile, blink, gaze, brows) of src into dst. */
void syn_pose_take_expression(syn_pose *dst, const syn_pose *src);

/* Where the inner features are for a pose, in face coordinates (the renderer and the forgery
 * masks both use this, so masks follow the rendered features). */
typedef struct syn_marks {
    float ex[2], ey;   /* eye centres (left, right) */
    float nx, ny;      /* nose tip */
    float mx, my;      /* mouth centre */
    float fx, fy;      /* shift of inner features from yaw and pitch */
    float hx, hy;      /* shift of the head outline */
} syn_marks;
void syn_marks_get(const syn_identity *id, const syn_pose *p, syn_marks *m);

/* Render into rgb (w x h x 3 floats, 0..255) the pixels of [x0,x1) x [y0,y1). */
void syn_render(const syn_identity *id, const syn_capture *c, const syn_pose *p, float *rgb, int w,
                int h, int x0, int y0, int x1, int y1);
/* Pixel centre (px, py) -> face coordinates of the head. */
void syn_px_to_face(const syn_pose *p, float px, float py, float *u, float *v);
/* Add camera noise (luma + chroma Gaussian) drawn from rng. */
void syn_add_noise(float *rgb, int w, int h, float sigma, dfs_rng *rng);

/* Cheap deterministic value noise in [0,1) (smoothstep-interpolated hashed lattice). */
float syn_vnoise(float x, float y, uint64_t seed);

#endif
