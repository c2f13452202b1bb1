/* face.h: face detection (Viola-Jones with OpenCV's Haar cascades, or dlib's HOG frontal face
 * detector as face_recognition runs it), 68-point landmarks (dlib's
 * ensemble of regression trees), and alignment/cropping. All of it is read and run here; the
 * model files come from Debian's opencv-data and libdlib-data.
 *
 * Coordinates are pixel indices (pixel centres at integers), boxes are x, y, w, h in source
 * pixels. Detection follows OpenCV 4's CascadeClassifier::detectMultiScale (RGB2GRAY fixed-point
 * luma, a pyramid of bilinear downscales, 24x24 windows stepped by 2 below scale 2 and by 1 above,
 * variance normalisation over the window shrunk by one pixel, groupRectangles with eps 0.2), so
 * its boxes agree with OpenCV's on the same pixels. Landmarks follow dlib's shape_predictor on the
 * same luma image, with the box as dlib's inclusive rectangle (x, y, x+w-1, y+h-1). */
#ifndef DFS_FACE_H
#define DFS_FACE_H

#include "core/common.h"
#include "media/image.h"

#define DFS_CASCADE_DEFAULT "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define DFS_LANDMARKS_DEFAULT "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

typedef struct dfs_box { int x, y, w, h; } dfs_box;

/* ---- gray image ---- */
/* Luma as OpenCV 4's cvtColor(RGB2GRAY) computes it for 8 bits: (9798 R + 19235 G + 3735 B + 2^14) >> 15. */
int dfs_face_gray(const dfs_image *rgb, dfs_image *gray);   /* 0, or -1 (dfs_image_alloc) */

/* ---- Viola-Jones ---- */
typedef struct dfs_cascade dfs_cascade;
dfs_cascade *dfs_cascade_load(const char *path);   /* NULL with "path: problem" */
void dfs_cascade_free(dfs_cascade *c);

typedef struct dfs_detect_opts {
    double scale_factor;   /* pyramid step, > 1 (OpenCV's scaleFactor; default 1.1) */
    int min_neighbors;     /* groupRectangles threshold (default 3) */
    int min_size;          /* smallest window side in source pixels (0: the cascade's) */
    int max_size;          /* largest window side (0: the image) */
} dfs_detect_opts;
void dfs_detect_defaults(dfs_detect_opts *o);

/* Faces in a gray image after grouping, in no particular order; returns how many (boxes is
 * malloc'd, *boxes NULL when none). -1 only on an invalid image. Thread-safe for one cascade. */
int dfs_cascade_detect(const dfs_cascade *c, const dfs_image *gray, const dfs_detect_opts *o, dfs_box **boxes);
/* Index of the largest box (by area; the first on ties), -1 when n == 0. */
int dfs_box_largest(const dfs_box *boxes, int n);

/* ---- dlib's HOG frontal face detector (fhog.c) ---- */
/* The model: dlib 19.24's get_frontal_face_detector() written out by tests/dlib_fhog_ref.cpp
 * (tests/make-fixtures-fhog.py) and committed; loading refuses any file whose SHA-256 differs. */
#define DFS_FHOG_FILE "lib/face/frontal_face_fhog.txt"
#define DFS_FHOG_SHA256 "34ea7feb7da887e1dcd7323c3cad29ccf8aa5745980bbaa4f31f731a057d68f8"
#define DFS_FHOG_MAX_TAPS 32
#define DFS_FHOG_MAX_DETECTORS 16
typedef struct dfs_fhog dfs_fhog;
typedef struct dfs_fhog_face {
    dfs_box box;     /* dlib's rectangle (l, t, r, b) as l, t, r-l+1, b-t+1; may reach outside the image */
    double score;    /* dlib's detection_confidence: window score minus the detector's threshold */
    int detector;    /* which of the model's detectors (dlib's weight_index) */
} dfs_fhog_face;
dfs_fhog *dfs_fhog_load(const char *path);   /* NULL with "path: problem" */
void dfs_fhog_free(dfs_fhog *m);
/* The model file beside the running program's repository (bin/ or build/tests/ below it), else
 * DFS_FHOG_FILE from the working directory; -1 when neither is readable (buf holds the latter). */
int dfs_fhog_default_path(char *buf, size_t n);
/* Faces in an RGB image as face_recognition.face_locations(img, upsample, "hog") finds them,
 * by decreasing score after dlib's non-maximum suppression; returns how many (faces malloc'd, NULL
 * when none), -1 on an image that is not RGB or upsample outside 0..4. Thread-safe for one model. */
int dfs_fhog_detect(const dfs_fhog *m, const dfs_image *rgb, int upsample, dfs_fhog_face **faces);
/* SHA-256 of a buffer as 64 lowercase hex digits */
void dfs_sha256_hex(const void *data, size_t len, char hex[65]);

/* ---- landmarks ---- */
typedef struct dfs_shape_model dfs_shape_model;
dfs_shape_model *dfs_shape_model_load(const char *path);   /* NULL with "path: problem" */
void dfs_shape_model_free(dfs_shape_model *m);
int dfs_shape_model_points(const dfs_shape_model *m);     /* 68 for the Debian model */
/* Landmarks for a face box in a gray image: pts receives 2*points floats (x0, y0, x1, ...). */
void dfs_shape_predict(const dfs_shape_model *m, const dfs_image *gray, dfs_box box, float *pts);

/* ---- alignment and cropping ---- */
/* Crop aligned on 68-point landmarks: eye centres and mouth corners are mapped by a least-squares
 * similarity onto the ArcFace 112x112 template points, shrunk about the centre by 1/margin and
 * scaled to size x size; bilinear sampling, black outside the source. 0, or -1 with
 * dfs_image_alloc's error when size is outside the supported range. */
int dfs_face_align(const dfs_image *src, const float *pts68, double margin, int size, dfs_image *out);
/* Crop the square of side margin*max(w, h) centred on the box, resized to size x size (0 or -1,
 * as dfs_face_align). */
int dfs_face_crop_box(const dfs_image *src, dfs_box box, double margin, int size, dfs_image *out);

#endif
